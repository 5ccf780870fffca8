//! Turns model output into file edits and applies them all-or-nothing to a [`Files`] map.
//!
//! The model answers in three shapes: whole files (`FILE: path` followed by a fenced code
//! block), aider-style SEARCH/REPLACE blocks for targeted changes, and `DELETE: path`
//! lines. Parsing is lenient about decoration (markdown emphasis, fences around blocks, a
//! path not repeated for the next block of the same file) and strict about structure;
//! every error names the block and line so the model can repair its own answer.
//!
//! Applying works on a scratch copy, so a later block sees the effect of earlier ones on
//! the same file, and `files` is only written once every edit has validated. A SEARCH
//! section must match exactly once: exactly as written (at a line start) first, otherwise
//! line by line ignoring trailing whitespace and a uniform indentation shift, in which case
//! the replacement is re-indented to the file's own indentation.
//!
//! ````text
//! FILE: src/app.js
//! ```js
//! console.log("hello");
//! ```
//!
//! src/server.js
//! <<<<<<< SEARCH
//! const port = 3000;
//! =======
//! const port = Number(process.env.PORT ?? 3000);
//! >>>>>>> REPLACE
//!
//! DELETE: src/old.js
//! ````

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::{Files, paths, truncate_chars};

/// One change to one file, in the order the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// Create or overwrite the whole file.
    Whole { path: String, content: String },
    /// Replace the single occurrence of `search`; an empty `search` creates a missing (or
    /// empty) file with `replace` as its content.
    Replace {
        path: String,
        search: String,
        replace: String,
    },
    /// Remove the file.
    Delete { path: String },
}

impl Edit {
    /// The file the edit is about.
    pub fn path(&self) -> &str {
        match self {
            Edit::Whole { path, .. } | Edit::Replace { path, .. } | Edit::Delete { path } => path,
        }
    }
}

/// What [`apply`] did, each list sorted and disjoint: `changed` files existed before and
/// have new content, `created` did not exist, `deleted` no longer exist. A file whose
/// content ends up unchanged appears nowhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub changed: Vec<String>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
}

/// Why model output could not be read as edits. Blocks are numbered from 1 in the order
/// they appear; lines are 1-based lines of the model output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error(
        "no edits found: expected `FILE: path` followed by a fenced code block, a file path \
         followed by <<<<<<< SEARCH / ======= / >>>>>>> REPLACE, or `DELETE: path`"
    )]
    NoEdits,

    #[error(
        "block {block} at line {line} names no file: put the file path alone on the line \
         before <<<<<<< SEARCH, or after `FILE:` or `DELETE:`"
    )]
    MissingPath { block: usize, line: usize },

    #[error("block {block} at line {line}: unsafe path {path:?}: {reason}")]
    UnsafePath {
        block: usize,
        line: usize,
        path: String,
        reason: &'static str,
    },

    #[error(
        "block {block} at line {line}: `FILE: {path}` is not followed by a fenced code block \
         with the whole file"
    )]
    MissingFence {
        block: usize,
        line: usize,
        path: String,
    },

    #[error(
        "block {block} ({path}): the code fence opened at line {line} is never closed; the \
         output may have been cut off"
    )]
    UnclosedFence {
        block: usize,
        line: usize,
        path: String,
    },

    #[error(
        "block {block} ({path}): <<<<<<< SEARCH at line {line} has no ======= divider before \
         {before}"
    )]
    MissingDivider {
        block: usize,
        line: usize,
        path: String,
        before: &'static str,
    },

    #[error(
        "block {block} ({path}): the ======= divider at line {line} has no >>>>>>> REPLACE \
         before {before}"
    )]
    MissingReplaceEnd {
        block: usize,
        line: usize,
        path: String,
        before: &'static str,
    },

    #[error(">>>>>>> REPLACE at line {line} has no matching <<<<<<< SEARCH")]
    StrayReplace { line: usize },
}

/// Why a list of edits could not be applied; `block` is the 1-based position of the edit
/// in the list given to [`apply`] (the order [`parse`] numbers blocks in).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("block {block}: unsafe path {path:?}: {reason}")]
    UnsafePath {
        block: usize,
        path: String,
        reason: &'static str,
    },

    #[error(
        "block {block}: {path} does not exist; to create it use an empty SEARCH section or a \
         FILE: block"
    )]
    MissingFile { block: usize, path: String },

    #[error("block {block}: cannot delete {path} because it does not exist")]
    DeleteMissing { block: usize, path: String },

    #[error(
        "block {block}: the SEARCH section is empty but {path} already has content; quote \
         the lines to change, or send the whole file in a FILE: block"
    )]
    EmptySearch { block: usize, path: String },

    #[error(
        "block {block}: the SEARCH text occurs {occurrences} times in {path}; include more \
         surrounding lines so it matches exactly once"
    )]
    Ambiguous {
        path: String,
        block: usize,
        occurrences: usize,
    },

    #[error("block {block}: the SEARCH text was not found in {path}{}", closest_hint(.closest))]
    NotFound {
        path: String,
        block: usize,
        /// The most similar line range of the file (`lines 12-18:` and the text), when
        /// anything is similar enough to help.
        closest: Option<String>,
    },

    #[error("block {block}: {path} would be both a file and a directory (conflicts with {other})")]
    PathConflict {
        block: usize,
        path: String,
        other: String,
    },
}

fn closest_hint(closest: &Option<String>) -> String {
    match closest {
        Some(range) => format!(
            "; SEARCH must repeat the file's current lines exactly, the most similar are {range}"
        ),
        None => "; SEARCH must repeat the file's current lines exactly".to_owned(),
    }
}

/// Parses model output into edits in the order they appear.
///
/// Returns [`ParseError::NoEdits`] when the output holds no edit at all, so "nothing
/// recognizable" is never mistaken for "nothing to change".
pub fn parse(output: &str) -> Result<Vec<Edit>, ParseError> {
    let output = output.strip_prefix('\u{feff}').unwrap_or(output);
    let lines: Vec<&str> = output.lines().collect();
    let mut parser = Parser {
        lines: &lines,
        edits: Vec::new(),
        last_path: None,
        floor: 0,
    };
    parser.run()?;
    if parser.edits.is_empty() {
        return Err(ParseError::NoEdits);
    }
    Ok(parser.edits)
}

struct Parser<'a> {
    lines: &'a [&'a str],
    edits: Vec<Edit>,
    /// Path of the previous SEARCH/REPLACE block, used when the next one repeats no path.
    last_path: Option<String>,
    /// First line after the previous block: a path is never looked up inside a block.
    floor: usize,
}

impl Parser<'_> {
    fn block(&self) -> usize {
        self.edits.len() + 1
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let mut i = 0;
        while i < self.lines.len() {
            let line = self.lines[i];
            if let Some(raw) = directive(line, "DELETE:") {
                let path = self.checked_path(raw, i)?;
                self.edits.push(Edit::Delete { path });
                i += 1;
                self.floor = i;
            } else if let Some(raw) = directive(line, "FILE:") {
                i = self.file_block(i, raw)?;
            } else if is_search(line) {
                let path = self.path_for_search(i)?;
                i = self.replace_block(i, path)?;
            } else if is_replace_end(line) {
                return Err(ParseError::StrayReplace { line: i + 1 });
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn checked_path(&self, raw: &str, line_index: usize) -> Result<String, ParseError> {
        let (block, line) = (self.block(), line_index + 1);
        if raw.is_empty() {
            return Err(ParseError::MissingPath { block, line });
        }
        paths::check_path(raw).map_err(|e| ParseError::UnsafePath {
            block,
            line,
            path: e.path,
            reason: e.reason,
        })
    }

    /// `FILE: path` then a fence holding the whole file, or holding (or followed by)
    /// SEARCH/REPLACE blocks for that path, which the SEARCH handler picks up.
    fn file_block(&mut self, i: usize, raw: &str) -> Result<usize, ParseError> {
        let block = self.block();
        let path = self.checked_path(raw, i)?;
        let missing_fence = || ParseError::MissingFence {
            block,
            line: i + 1,
            path: path.clone(),
        };
        let next = self.next_non_blank(i + 1).ok_or_else(missing_fence)?;
        if is_search(self.lines[next]) {
            return Ok(i + 1);
        }
        let fence = Fence::open(self.lines[next]).ok_or_else(missing_fence)?;
        let body_start = next + 1;
        if let Some(first) = self.next_non_blank(body_start)
            && is_search(self.lines[first])
        {
            return Ok(i + 1);
        }
        let close =
            fence
                .find_close(self.lines, body_start)
                .ok_or_else(|| ParseError::UnclosedFence {
                    block,
                    line: next + 1,
                    path: path.clone(),
                })?;
        self.edits.push(Edit::Whole {
            path,
            content: join_lines(&self.lines[body_start..close]),
        });
        self.floor = close + 1;
        Ok(close + 1)
    }

    /// The nearest path-like line above the SEARCH marker (skipping blank and fence lines,
    /// never reaching into the previous block), else the previous block's path.
    fn path_for_search(&mut self, i: usize) -> Result<String, ParseError> {
        let mut j = i;
        while j > self.floor {
            j -= 1;
            let line = self.lines[j];
            if line.trim().is_empty() || Fence::open(line).is_some() {
                continue;
            }
            if let Some(candidate) = path_candidate(line) {
                return self.checked_path(candidate, j);
            }
            break;
        }
        match &self.last_path {
            Some(path) => Ok(path.clone()),
            None => Err(ParseError::MissingPath {
                block: self.block(),
                line: i + 1,
            }),
        }
    }

    fn replace_block(&mut self, i: usize, path: String) -> Result<usize, ParseError> {
        let block = self.block();
        let n = self.lines.len();
        let mut j = i + 1;
        let divider = loop {
            let before = if j >= n {
                "the end of the output"
            } else if is_divider(self.lines[j]) {
                break j;
            } else if is_replace_end(self.lines[j]) {
                "the closing >>>>>>> REPLACE"
            } else if is_search(self.lines[j]) {
                "the next <<<<<<< SEARCH"
            } else {
                j += 1;
                continue;
            };
            return Err(ParseError::MissingDivider {
                block,
                line: i + 1,
                path,
                before,
            });
        };
        j = divider + 1;
        let end = loop {
            let before = if j >= n {
                "the end of the output"
            } else if is_replace_end(self.lines[j]) {
                break j;
            } else if is_search(self.lines[j]) {
                "the next <<<<<<< SEARCH"
            } else {
                j += 1;
                continue;
            };
            return Err(ParseError::MissingReplaceEnd {
                block,
                line: divider + 1,
                path,
                before,
            });
        };
        self.edits.push(Edit::Replace {
            path: path.clone(),
            search: join_lines(&self.lines[i + 1..divider]),
            replace: join_lines(&self.lines[divider + 1..end]),
        });
        self.last_path = Some(path);
        self.floor = end + 1;
        Ok(end + 1)
    }

    fn next_non_blank(&self, from: usize) -> Option<usize> {
        (from..self.lines.len()).find(|&k| !self.lines[k].trim().is_empty())
    }
}

/// Lines back into text; every line ends with a newline, as files conventionally do.
fn join_lines(lines: &[&str]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// `FILE: path` / `DELETE: path`, tolerating markdown decoration around it (`## FILE:`,
/// `**FILE:** path`, a path in backticks). Returns the path, possibly empty.
fn directive<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let trimmed = line.trim().trim_start_matches(['#', '*']).trim_start();
    let rest = clean_path(trimmed.strip_prefix(key)?);
    // Models annotate: `FILE: src/a.ts (new file)`, `DELETE: old.js - no longer used`.
    let path = [" (", " - ", " — "]
        .iter()
        .filter_map(|note| rest.find(note))
        .min()
        .map_or(rest, |cut| &rest[..cut]);
    Some(clean_path(path))
}

fn clean_path(raw: &str) -> &str {
    raw.trim()
        .trim_matches(['*', '`', '"', '\''])
        .trim()
        .trim_end_matches(':')
        .trim_matches(['*', '`', '"', '\''])
        .trim()
}

/// A line that names the file of the following SEARCH/REPLACE block: a lone path (maybe
/// decorated as a heading, in bold or backticks, or after `File:`), or prose with exactly
/// one backticked path in it.
fn path_candidate(line: &str) -> Option<&str> {
    let mut trimmed = line.trim().trim_start_matches(['#', '>', '*']).trim_start();
    let lower = trimmed.get(..5).map(str::to_ascii_lowercase);
    if let Some(prefix) = lower.as_deref()
        && (prefix == "file:" || prefix == "path:")
    {
        trimmed = &trimmed[5..];
    }
    let cleaned = clean_path(trimmed);
    if looks_like_path(cleaned) {
        return Some(cleaned);
    }
    let mut spans = line
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::trim)
        .filter(|span| looks_like_path(span) && !span.contains(['(', ')']));
    match (spans.next(), spans.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

const BARE_FILE_NAMES: &[&str] = &[
    "Brewfile",
    "Caddyfile",
    "Containerfile",
    "Dockerfile",
    "Gemfile",
    "Jenkinsfile",
    "Justfile",
    "LICENSE",
    "Makefile",
    "Procfile",
    "README",
    "Rakefile",
    "Vagrantfile",
    "justfile",
    "makefile",
];

fn looks_like_path(text: &str) -> bool {
    if text.is_empty()
        || text.len() > paths::MAX_PATH_BYTES
        || text.contains(char::is_whitespace)
        || text.ends_with('.')
        || text.starts_with(['<', '=', '>'])
    {
        return false;
    }
    let name = text.rsplit('/').next().unwrap_or(text);
    text.contains('/')
        || name
            .rfind('.')
            .is_some_and(|dot| name[dot + 1..].chars().all(char::is_alphanumeric))
        || BARE_FILE_NAMES.contains(&name)
}

/// `<<<<<<< SEARCH`, tolerating 5 to 9 markers because models miscount them.
fn is_search(line: &str) -> bool {
    is_marker(line, '<', "SEARCH")
}

fn is_replace_end(line: &str) -> bool {
    is_marker(line, '>', "REPLACE")
}

/// Exactly seven `=`: shorter or longer runs are common in real content (setext headings,
/// banners), and the divider is the marker most likely to collide with it.
fn is_divider(line: &str) -> bool {
    line.trim() == "======="
}

fn is_marker(line: &str, marker: char, word: &str) -> bool {
    let trimmed = line.trim();
    let rest = trimmed.trim_start_matches(marker);
    let count = trimmed.len() - rest.len();
    (5..=9).contains(&count) && rest.trim() == word
}

/// An opening code fence: three or more backticks or tildes, optionally an info string.
#[derive(Debug, Clone, Copy)]
struct Fence {
    marker: char,
    len: usize,
}

impl Fence {
    fn open(line: &str) -> Option<Fence> {
        Self::open_with_info(line).map(|(fence, _)| fence)
    }

    /// The fence and whether it carries an info string (```` ```js ````).
    fn open_with_info(line: &str) -> Option<(Fence, bool)> {
        let trimmed = line.trim();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let rest = trimmed.trim_start_matches(marker);
        let len = trimmed.len() - rest.len();
        // A backtick in the info string means inline code, not a fence.
        if len < 3 || (marker == '`' && rest.contains('`')) {
            return None;
        }
        Some((Fence { marker, len }, !rest.trim().is_empty()))
    }

    fn closes(&self, line: &str) -> bool {
        let trimmed = line.trim();
        trimmed.len() >= self.len && trimmed.chars().all(|c| c == self.marker)
    }

    /// The closing line for a fence whose body starts at `start`. A whole file in markdown
    /// often contains fenced examples itself, so an inner fence with an info string
    /// (```` ```bash ````) is taken to open a nested block that the next bare fence closes;
    /// if that never balances, the first bare fence closes the block.
    fn find_close(&self, lines: &[&str], start: usize) -> Option<usize> {
        let mut depth = 0usize;
        for (k, line) in lines.iter().enumerate().skip(start) {
            if self.closes(line) {
                if depth == 0 {
                    return Some(k);
                }
                depth -= 1;
            } else if let Some((inner, true)) = Fence::open_with_info(line)
                && inner.marker == self.marker
            {
                depth += 1;
            }
        }
        (start..lines.len()).find(|&k| self.closes(lines[k]))
    }
}

/// Applies `edits` in order, all or nothing: every edit is validated against a scratch
/// copy first, and `files` is only modified when all of them succeed.
pub fn apply(files: &mut Files, edits: &[Edit]) -> Result<Applied, ApplyError> {
    // Final state of every touched path: `None` = absent. Later edits see earlier ones.
    let mut work: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut last_block: BTreeMap<String, usize> = BTreeMap::new();
    for (index, edit) in edits.iter().enumerate() {
        let block = index + 1;
        let path = paths::check_path(edit.path()).map_err(|e| ApplyError::UnsafePath {
            block,
            path: e.path,
            reason: e.reason,
        })?;
        let current = match work.get(&path) {
            Some(state) => state.as_deref(),
            None => files.get(&path).map(String::as_str),
        };
        let next = match edit {
            Edit::Whole { content, .. } => Some(content.clone()),
            Edit::Delete { .. } => {
                if current.is_none() {
                    return Err(ApplyError::DeleteMissing { block, path });
                }
                None
            }
            Edit::Replace {
                search, replace, ..
            } => Some(replace_in(current, search, replace, &path, block)?),
        };
        last_block.insert(path.clone(), block);
        work.insert(path, next);
    }
    for (path, state) in &work {
        if state.is_some() && !files.contains_key(path) {
            let block = last_block.get(path).copied().unwrap_or(0);
            check_no_conflict(files, &work, path, block)?;
        }
    }
    let mut applied = Applied::default();
    for (path, state) in work {
        match (files.get(&path), state) {
            (None, Some(content)) => {
                applied.created.push(path.clone());
                files.insert(path, content);
            }
            (Some(old), Some(content)) => {
                if *old != content {
                    applied.changed.push(path.clone());
                    files.insert(path, content);
                }
            }
            (Some(_), None) => {
                files.remove(&path);
                applied.deleted.push(path);
            }
            (None, None) => {}
        }
    }
    Ok(applied)
}

/// A new file must not sit where a directory is (`src` while `src/a.ts` exists) or below
/// a file (`a.ts/x`): a file map allows both, a filesystem does not.
fn check_no_conflict(
    files: &Files,
    work: &BTreeMap<String, Option<String>>,
    path: &str,
    block: usize,
) -> Result<(), ApplyError> {
    let exists = |p: &str| match work.get(p) {
        Some(state) => state.is_some(),
        None => files.contains_key(p),
    };
    let conflict = |other: &str| ApplyError::PathConflict {
        block,
        path: path.to_owned(),
        other: other.to_owned(),
    };
    for (slash, _) in path.match_indices('/') {
        let ancestor = &path[..slash];
        if exists(ancestor) {
            return Err(conflict(ancestor));
        }
    }
    let prefix = format!("{path}/");
    let below = |key: &&String| key.starts_with(&prefix);
    let existing = files.range(prefix.clone()..).map(|(k, _)| k);
    let scratch = work.range(prefix.clone()..).map(|(k, _)| k);
    if let Some(descendant) = existing
        .take_while(below)
        .chain(scratch.take_while(below))
        .find(|k| exists(k))
    {
        return Err(conflict(descendant));
    }
    Ok(())
}

fn replace_in(
    current: Option<&str>,
    search: &str,
    replace: &str,
    path: &str,
    block: usize,
) -> Result<String, ApplyError> {
    let empty_search = search.trim().is_empty();
    match current {
        None if empty_search => Ok(replace.to_owned()),
        None => Err(ApplyError::MissingFile {
            block,
            path: path.to_owned(),
        }),
        Some(content) if empty_search => {
            if content.trim().is_empty() {
                Ok(replace.to_owned())
            } else {
                Err(ApplyError::EmptySearch {
                    block,
                    path: path.to_owned(),
                })
            }
        }
        Some(content) => replace_text(content, search, replace).map_err(|miss| match miss {
            Miss::Ambiguous(occurrences) => ApplyError::Ambiguous {
                path: path.to_owned(),
                block,
                occurrences,
            },
            Miss::NotFound(closest) => ApplyError::NotFound {
                path: path.to_owned(),
                block,
                closest,
            },
        }),
    }
}

#[derive(Debug)]
enum Miss {
    Ambiguous(usize),
    NotFound(Option<String>),
}

/// One SEARCH → REPLACE on `content`: exact first, then whitespace-tolerant.
fn replace_text(content: &str, search: &str, replace: &str) -> Result<String, Miss> {
    let exact = exact_matches(content, search);
    match exact.as_slice() {
        [at] => {
            let mut out = String::with_capacity(content.len() + replace.len());
            out.push_str(&content[..*at]);
            out.push_str(replace);
            out.push_str(&content[at + search.len()..]);
            return Ok(out);
        }
        [] => {}
        many => return Err(Miss::Ambiguous(many.len())),
    }
    let file = split_lines(content);
    let file_norm: Vec<Norm<'_>> = file.iter().map(|l| Norm::of(l.text)).collect();
    let search_lines: Vec<&str> = split_lines(search).iter().map(|l| l.text).collect();
    let (lead, trail) = blank_edges(&search_lines);
    let needle: Vec<Norm<'_>> = search_lines[lead..search_lines.len() - trail]
        .iter()
        .map(|l| Norm::of(l))
        .collect();
    let matches = tolerant_matches(&file_norm, &needle);
    match matches.as_slice() {
        [(start, delta)] => Ok(splice(
            content,
            &file[*start..*start + needle.len()],
            *delta,
            replace,
            (lead, trail),
        )),
        [] => Err(Miss::NotFound(closest(&file, &file_norm, &needle))),
        many => Err(Miss::Ambiguous(many.len())),
    }
}

/// Byte offsets where `search` occurs starting at a line start, overlapping ones included
/// (a mid-line hit would replace part of a line, which no SEARCH section means).
fn exact_matches(content: &str, search: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let Some(first) = search.chars().next() else {
        return found;
    };
    let mut from = 0;
    while let Some(offset) = content[from..].find(search) {
        let at = from + offset;
        if at == 0 || content.as_bytes()[at - 1] == b'\n' {
            found.push(at);
        }
        from = at + first.len_utf8();
    }
    found
}

/// A line of a text with its byte span; `text` excludes the newline and a trailing `\r`.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    text: &'a str,
    start: usize,
    /// Just past the newline (or the end of the text for a last line without one).
    end: usize,
    newline: bool,
    crlf: bool,
}

fn split_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let (raw, end, newline) = match text[start..].find('\n') {
            Some(offset) => (&text[start..start + offset], start + offset + 1, true),
            None => (&text[start..], text.len(), false),
        };
        let crlf = raw.ends_with('\r');
        lines.push(Line {
            text: raw.strip_suffix('\r').unwrap_or(raw),
            start,
            end,
            newline,
            crlf,
        });
        start = end;
    }
    lines
}

/// A line reduced to what the tolerant match compares: indentation width and the text
/// without surrounding whitespace.
#[derive(Debug, Clone, Copy)]
struct Norm<'a> {
    width: usize,
    body: &'a str,
}

const TAB_WIDTH: usize = 4;

impl<'a> Norm<'a> {
    fn of(text: &'a str) -> Norm<'a> {
        Norm {
            width: indent_width(text),
            body: text.trim(),
        }
    }

    fn blank(&self) -> bool {
        self.body.is_empty()
    }
}

fn indent_width(text: &str) -> usize {
    let mut width = 0;
    for c in text.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width = (width / TAB_WIDTH + 1) * TAB_WIDTH,
            _ => break,
        }
    }
    width
}

/// Counts of blank lines at the start and end (all-blank input counts as leading).
fn blank_edges(lines: &[&str]) -> (usize, usize) {
    let lead = lines.iter().take_while(|l| l.trim().is_empty()).count();
    let trail = lines[lead..]
        .iter()
        .rev()
        .take_while(|l| l.trim().is_empty())
        .count();
    (lead, trail)
}

/// Windows of `file` equal to `needle` line by line, allowing trailing whitespace and one
/// uniform indentation shift; returns (first line, shift in columns).
fn tolerant_matches(file: &[Norm<'_>], needle: &[Norm<'_>]) -> Vec<(usize, isize)> {
    let n = needle.len();
    if n == 0 || n > file.len() {
        return Vec::new();
    }
    (0..=file.len() - n)
        .filter_map(|start| window_shift(&file[start..start + n], needle).map(|d| (start, d)))
        .collect()
}

fn window_shift(window: &[Norm<'_>], needle: &[Norm<'_>]) -> Option<isize> {
    let mut shift: Option<isize> = None;
    for (f, q) in window.iter().zip(needle) {
        if q.blank() || f.blank() {
            if q.blank() != f.blank() {
                return None;
            }
            continue;
        }
        if f.body != q.body {
            return None;
        }
        let delta = f.width as isize - q.width as isize;
        match shift {
            None => shift = Some(delta),
            Some(s) if s != delta => return None,
            Some(_) => {}
        }
    }
    Some(shift.unwrap_or(0))
}

/// Replaces the matched `window` with `replace`, re-indented by `shift` in the file's own
/// indentation style and line endings. Blank lines that framed the SEARCH text (and were
/// ignored for matching) are dropped from the same edges of the replacement.
fn splice(
    content: &str,
    window: &[Line<'_>],
    shift: isize,
    replace: &str,
    (lead, trail): (usize, usize),
) -> String {
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        return content.to_owned();
    };
    let tabs = window
        .iter()
        .any(|l| !l.text.trim().is_empty() && l.text.starts_with('\t'));
    let eol = if last.crlf || first.crlf {
        "\r\n"
    } else {
        "\n"
    };
    let replace_lines: Vec<&str> = split_lines(replace).iter().map(|l| l.text).collect();
    let (r_lead, r_trail) = blank_edges(&replace_lines);
    let skip_front = lead.min(r_lead);
    let skip_back = trail.min(r_trail).min(replace_lines.len() - skip_front);
    let kept = &replace_lines[skip_front..replace_lines.len() - skip_back];
    let rendered: Vec<String> = kept.iter().map(|l| reindent(l, shift, tabs)).collect();
    let mut text = rendered.join(eol);
    if !rendered.is_empty() && last.newline {
        text.push_str(eol);
    }
    format!(
        "{}{}{}",
        &content[..first.start],
        text,
        &content[last.end..]
    )
}

fn reindent(line: &str, shift: isize, tabs: bool) -> String {
    let body = line.trim_start();
    if body.is_empty() {
        return String::new();
    }
    let indent = &line[..line.len() - body.len()];
    let in_style = if tabs {
        !indent.contains(' ')
    } else {
        !indent.contains('\t')
    };
    if shift == 0 && in_style {
        return line.to_owned();
    }
    let width = (indent_width(line) as isize + shift).max(0) as usize;
    let mut out = if tabs {
        "\t".repeat(width / TAB_WIDTH) + &" ".repeat(width % TAB_WIDTH)
    } else {
        " ".repeat(width)
    };
    out.push_str(body);
    out
}

/// Lines shown in a [`ApplyError::NotFound`] hint at most; enough to copy a function.
const CLOSEST_MAX_LINES: usize = 40;
const CLOSEST_MAX_CHARS: usize = 4000;
/// Below this mean line similarity nothing in the file resembles the SEARCH text, and
/// showing a random range would mislead more than help.
const CLOSEST_MIN_SCORE: f64 = 0.4;

/// The file range most similar to `needle`, for the model to copy from.
///
/// Candidate windows come from lines that survive unchanged (anchors); when none does, from
/// the lines most similar to the first SEARCH line. Candidates are scored by mean
/// per-line similarity, so the cost stays near linear in the file size.
fn closest(file: &[Line<'_>], norm: &[Norm<'_>], needle: &[Norm<'_>]) -> Option<String> {
    if file.is_empty() || needle.is_empty() {
        return None;
    }
    let width = needle.len().min(file.len());
    let max_start = file.len() - width;
    let mut index: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, line) in norm.iter().enumerate() {
        if !line.blank() {
            let at = index.entry(line.body).or_default();
            if at.len() < 64 {
                at.push(i);
            }
        }
    }
    let mut hits: HashMap<usize, usize> = HashMap::new();
    for (k, q) in needle.iter().enumerate() {
        if let Some(at) = index.get(q.body) {
            for &i in at {
                *hits.entry(i.saturating_sub(k).min(max_start)).or_default() += 1;
            }
        }
    }
    let mut candidates: Vec<(usize, usize)> = hits.into_iter().collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    candidates.truncate(32);
    let mut starts: Vec<usize> = candidates.into_iter().map(|(start, _)| start).collect();
    if starts.is_empty() {
        let (k0, q0) = needle.iter().enumerate().find(|(_, q)| !q.blank())?;
        let mut similar: Vec<(f64, usize)> = norm
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.blank())
            .map(|(i, l)| (similarity(l.body, q0.body), i))
            .filter(|(score, _)| *score > 0.0)
            .collect();
        similar.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        starts = similar
            .into_iter()
            .take(3)
            .map(|(_, i)| i.saturating_sub(k0).min(max_start))
            .collect();
    }
    let score = |start: usize| {
        let total: f64 = norm[start..start + width]
            .iter()
            .zip(needle)
            .map(|(f, q)| match (f.blank(), q.blank()) {
                (true, true) => 1.0,
                (false, false) => similarity(f.body, q.body),
                _ => 0.0,
            })
            .sum();
        total / needle.len() as f64
    };
    let (best, best_score) = starts
        .into_iter()
        .map(|start| (start, score(start)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    if best_score < CLOSEST_MIN_SCORE {
        return None;
    }
    let shown = &file[best..best + width.min(CLOSEST_MAX_LINES)];
    let mut text = String::new();
    for line in shown {
        text.push('\n');
        text.push_str(line.text);
    }
    let more = if width > CLOSEST_MAX_LINES {
        "\n…"
    } else {
        ""
    };
    Some(format!(
        "lines {}-{}:{}{more}",
        best + 1,
        best + width,
        truncate_chars(&text, CLOSEST_MAX_CHARS)
    ))
}

/// Dice coefficient over character bigrams: cheap, order-tolerant, and good at "same line
/// with a renamed variable".
fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let grams = |s: &str| {
        let chars: Vec<char> = s.chars().take(400).collect();
        let mut pairs: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
        pairs.sort_unstable();
        pairs
    };
    let (x, y) = (grams(a), grams(b));
    if x.is_empty() || y.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (x.len() + y.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(entries: &[(&str, &str)]) -> Files {
        entries
            .iter()
            .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
            .collect()
    }

    fn replace(path: &str, search: &str, replace: &str) -> Edit {
        Edit::Replace {
            path: path.to_owned(),
            search: search.to_owned(),
            replace: replace.to_owned(),
        }
    }

    // ---- parse ----

    #[test]
    fn parses_whole_file_blocks() {
        let output = "Here is the app.\n\nFILE: src/app.js\n```js\nconst a = 1;\n\nconsole.log(a);\n```\n\nFILE: README.md\n```\n# App\n```\n";
        let edits = parse(output).unwrap();
        assert_eq!(
            edits,
            vec![
                Edit::Whole {
                    path: "src/app.js".into(),
                    content: "const a = 1;\n\nconsole.log(a);\n".into()
                },
                Edit::Whole {
                    path: "README.md".into(),
                    content: "# App\n".into()
                },
            ]
        );
    }

    #[test]
    fn whole_file_directive_tolerates_markdown_decoration() {
        for header in [
            "FILE: src/a.ts",
            "**FILE: src/a.ts**",
            "**FILE:** `src/a.ts`",
            "### FILE: src/a.ts",
            "FILE: ./src/a.ts",
            "  FILE:   src/a.ts  ",
            "FILE: src/a.ts (new file)",
            "FILE: `src/a.ts` - the entry point",
        ] {
            let output = format!("{header}\n\n~~~ts\nexport {{}};\n~~~\n");
            let edits = parse(&output).unwrap_or_else(|e| panic!("{header:?}: {e}"));
            assert_eq!(edits[0].path(), "src/a.ts", "{header:?}");
        }
    }

    #[test]
    fn empty_fenced_block_is_an_empty_file() {
        let edits = parse("FILE: .gitkeep\n```\n```\n").unwrap();
        assert_eq!(
            edits,
            vec![Edit::Whole {
                path: ".gitkeep".into(),
                content: String::new()
            }]
        );
    }

    #[test]
    fn markdown_file_with_nested_fences_is_kept_whole() {
        let output = "FILE: README.md\n```markdown\n# Usage\n\n```bash\nnpm start\n```\n\nDone.\n```\n\nFILE: b.txt\n```\nb\n```\n";
        let edits = parse(output).unwrap();
        assert_eq!(
            edits[0],
            Edit::Whole {
                path: "README.md".into(),
                content: "# Usage\n\n```bash\nnpm start\n```\n\nDone.\n".into()
            }
        );
        assert_eq!(edits[1].path(), "b.txt");
    }

    #[test]
    fn longer_outer_fence_holds_inner_fences() {
        let output = "FILE: docs/x.md\n````\n```\ncode\n```\n````\n";
        let edits = parse(output).unwrap();
        assert_eq!(
            edits[0],
            Edit::Whole {
                path: "docs/x.md".into(),
                content: "```\ncode\n```\n".into()
            }
        );
    }

    #[test]
    fn parses_search_replace_blocks() {
        let output = "I will change the port.\n\nsrc/server.js\n```js\n<<<<<<< SEARCH\nconst port = 3000;\n=======\nconst port = Number(process.env.PORT);\n>>>>>>> REPLACE\n```\n";
        assert_eq!(
            parse(output).unwrap(),
            vec![replace(
                "src/server.js",
                "const port = 3000;\n",
                "const port = Number(process.env.PORT);\n"
            )]
        );
    }

    #[test]
    fn search_replace_path_forms() {
        for path_line in [
            "src/a.py",
            "`src/a.py`",
            "**src/a.py**",
            "### src/a.py",
            "src/a.py:",
            "File: src/a.py",
            "FILE: src/a.py",
            "In `src/a.py`, change the greeting:",
        ] {
            let output = format!(
                "{path_line}\n<<<<<<< SEARCH\nprint('hi')\n=======\nprint('hello')\n>>>>>>> REPLACE\n"
            );
            let edits = parse(&output).unwrap_or_else(|e| panic!("{path_line:?}: {e}"));
            assert_eq!(edits[0].path(), "src/a.py", "{path_line:?}");
        }
    }

    #[test]
    fn file_directive_with_search_replace_inside_fence() {
        let output = "FILE: src/a.ts\n```ts\n<<<<<<< SEARCH\nlet a = 1;\n=======\nlet a = 2;\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nlet b = 1;\n=======\nlet b = 2;\n>>>>>>> REPLACE\n```\n";
        assert_eq!(
            parse(output).unwrap(),
            vec![
                replace("src/a.ts", "let a = 1;\n", "let a = 2;\n"),
                replace("src/a.ts", "let b = 1;\n", "let b = 2;\n"),
            ]
        );
    }

    #[test]
    fn later_block_without_path_reuses_the_previous_one_and_explicit_paths_win() {
        let output = "a.txt\n<<<<<<< SEARCH\n1\n=======\n2\n>>>>>>> REPLACE\n\nNow the second change:\n<<<<<<< SEARCH\n3\n=======\n4\n>>>>>>> REPLACE\nb.txt\n<<<<<<< SEARCH\n5\n=======\n6\n>>>>>>> REPLACE\n";
        let edits = parse(output).unwrap();
        let paths: Vec<&str> = edits.iter().map(Edit::path).collect();
        assert_eq!(paths, ["a.txt", "a.txt", "b.txt"]);
    }

    #[test]
    fn empty_search_and_empty_replace_are_kept_empty() {
        let output = "new.txt\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\nold.txt\n<<<<<<< SEARCH\nbye\n=======\n>>>>>>> REPLACE\n";
        assert_eq!(
            parse(output).unwrap(),
            vec![
                replace("new.txt", "", "hello\n"),
                replace("old.txt", "bye\n", "")
            ]
        );
    }

    #[test]
    fn markers_with_miscounted_chevrons_and_crlf_are_accepted() {
        let output = "a.txt\r\n<<<<<< SEARCH\r\nx\r\n=======\r\ny\r\n>>>>>>>> REPLACE\r\n";
        assert_eq!(parse(output).unwrap(), vec![replace("a.txt", "x\n", "y\n")]);
    }

    #[test]
    fn parses_deletes_mixed_with_other_edits() {
        let output = "DELETE: src/old.js\nFILE: src/new.js\n```\nx\n```\n**DELETE:** `tmp/a.txt`\n";
        let edits = parse(output).unwrap();
        assert_eq!(
            edits,
            vec![
                Edit::Delete {
                    path: "src/old.js".into()
                },
                Edit::Whole {
                    path: "src/new.js".into(),
                    content: "x\n".into()
                },
                Edit::Delete {
                    path: "tmp/a.txt".into()
                },
            ]
        );
    }

    #[test]
    fn markers_inside_whole_files_and_sections_are_content() {
        let output = "FILE: notes.md\n```\nDELETE: nothing\nFILE: nope\n```\na.txt\n<<<<<<< SEARCH\nFILE: x\n=======\nDELETE: y\n>>>>>>> REPLACE\n";
        let edits = parse(output).unwrap();
        assert_eq!(edits.len(), 2);
        assert_eq!(edits[1], replace("a.txt", "FILE: x\n", "DELETE: y\n"));
    }

    #[test]
    fn parse_errors_are_precise() {
        let cases: Vec<(&str, ParseError)> = vec![
            ("", ParseError::NoEdits),
            (
                "Everything already works, no changes needed.",
                ParseError::NoEdits,
            ),
            (
                "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
                ParseError::MissingPath { block: 1, line: 1 },
            ),
            (
                "Change this:\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n",
                ParseError::MissingPath { block: 1, line: 2 },
            ),
            (
                "FILE:\n```\nx\n```\n",
                ParseError::MissingPath { block: 1, line: 1 },
            ),
            (
                "a.txt\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n",
                ParseError::MissingDivider {
                    block: 1,
                    line: 2,
                    path: "a.txt".into(),
                    before: "the closing >>>>>>> REPLACE",
                },
            ),
            (
                "a.txt\n<<<<<<< SEARCH\na\n",
                ParseError::MissingDivider {
                    block: 1,
                    line: 2,
                    path: "a.txt".into(),
                    before: "the end of the output",
                },
            ),
            (
                "a.txt\n<<<<<<< SEARCH\na\n=======\nb\n",
                ParseError::MissingReplaceEnd {
                    block: 1,
                    line: 4,
                    path: "a.txt".into(),
                    before: "the end of the output",
                },
            ),
            (
                "a.txt\n<<<<<<< SEARCH\na\n=======\nb\n<<<<<<< SEARCH\n",
                ParseError::MissingReplaceEnd {
                    block: 1,
                    line: 4,
                    path: "a.txt".into(),
                    before: "the next <<<<<<< SEARCH",
                },
            ),
            (
                "FILE: a.txt\nsome prose\n",
                ParseError::MissingFence {
                    block: 1,
                    line: 1,
                    path: "a.txt".into(),
                },
            ),
            (
                "FILE: a.txt\n```\ncut off mid",
                ParseError::UnclosedFence {
                    block: 1,
                    line: 2,
                    path: "a.txt".into(),
                },
            ),
            ("b\n>>>>>>> REPLACE\n", ParseError::StrayReplace { line: 2 }),
            (
                "DELETE: ../etc/passwd\n",
                ParseError::UnsafePath {
                    block: 1,
                    line: 1,
                    path: "../etc/passwd".into(),
                    reason: "path contains a `..` segment",
                },
            ),
        ];
        for (output, expected) in cases {
            assert_eq!(parse(output), Err(expected), "{output:?}");
        }
    }

    #[test]
    fn second_block_errors_carry_its_number() {
        let output = "FILE: a.txt\n```\na\n```\nFILE: .git/config\n```\nx\n```\n";
        let err = parse(output).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::UnsafePath {
                    block: 2,
                    line: 5,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "block 2 at line 5: unsafe path \".git/config\": path is or is inside a .git directory"
        );
    }

    #[test]
    fn parse_error_messages_read_as_instructions_to_fix() {
        let err = parse("a.txt\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "block 1 (a.txt): <<<<<<< SEARCH at line 2 has no ======= divider before the closing >>>>>>> REPLACE"
        );
        let err = parse("no edits").unwrap_err().to_string();
        assert!(
            err.starts_with("no edits found: expected `FILE: path`"),
            "{err}"
        );
    }

    // ---- apply ----

    #[test]
    fn applies_whole_replace_and_delete_and_reports_them() {
        let mut fs = files(&[
            ("a.txt", "one\ntwo\n"),
            ("b.txt", "bye\n"),
            ("c.txt", "same\n"),
        ]);
        let edits = vec![
            replace("a.txt", "two\n", "2\n"),
            Edit::Delete {
                path: "b.txt".into(),
            },
            Edit::Whole {
                path: "new/d.txt".into(),
                content: "d\n".into(),
            },
            Edit::Whole {
                path: "c.txt".into(),
                content: "same\n".into(),
            },
        ];
        let applied = apply(&mut fs, &edits).unwrap();
        assert_eq!(
            applied,
            Applied {
                changed: vec!["a.txt".into()],
                created: vec!["new/d.txt".into()],
                deleted: vec!["b.txt".into()],
            }
        );
        assert_eq!(
            fs,
            files(&[
                ("a.txt", "one\n2\n"),
                ("c.txt", "same\n"),
                ("new/d.txt", "d\n")
            ])
        );
    }

    #[test]
    fn edits_to_one_file_apply_in_order() {
        let mut fs = files(&[("a.txt", "a\nb\nc\n")]);
        let edits = vec![
            replace("a.txt", "a\n", "A\n"),
            replace("a.txt", "A\nb\n", "AB\n"),
        ];
        apply(&mut fs, &edits).unwrap();
        assert_eq!(fs["a.txt"], "AB\nc\n");
    }

    #[test]
    fn apply_is_all_or_nothing() {
        let original = files(&[("a.txt", "a\n"), ("b.txt", "b\n")]);
        let mut fs = original.clone();
        let edits = vec![
            replace("a.txt", "a\n", "changed\n"),
            Edit::Delete {
                path: "b.txt".into(),
            },
            replace("b.txt", "zzz\n", "y\n"),
        ];
        let err = apply(&mut fs, &edits).unwrap_err();
        assert_eq!(
            err,
            ApplyError::MissingFile {
                block: 3,
                path: "b.txt".into()
            }
        );
        assert_eq!(fs, original);
    }

    #[test]
    fn empty_search_creates_missing_or_empty_files_only() {
        let mut fs = files(&[("empty.txt", ""), ("full.txt", "x\n")]);
        let applied = apply(
            &mut fs,
            &[
                replace("new.txt", "", "hi\n"),
                replace("empty.txt", "\n", "filled\n"),
            ],
        )
        .unwrap();
        assert_eq!(applied.created, vec!["new.txt".to_owned()]);
        assert_eq!(applied.changed, vec!["empty.txt".to_owned()]);
        let err = apply(&mut fs, &[replace("full.txt", "", "y\n")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "block 1: the SEARCH section is empty but full.txt already has content; quote the lines to change, or send the whole file in a FILE: block"
        );
    }

    #[test]
    fn missing_files_and_unsafe_paths_are_refused() {
        let mut fs = Files::new();
        assert_eq!(
            apply(&mut fs, &[replace("x.txt", "a\n", "b\n")]),
            Err(ApplyError::MissingFile {
                block: 1,
                path: "x.txt".into()
            })
        );
        assert_eq!(
            apply(
                &mut fs,
                &[Edit::Delete {
                    path: "x.txt".into()
                }]
            ),
            Err(ApplyError::DeleteMissing {
                block: 1,
                path: "x.txt".into()
            })
        );
        let err = apply(
            &mut fs,
            &[Edit::Whole {
                path: "/etc/passwd".into(),
                content: String::new(),
            }],
        )
        .unwrap_err();
        assert!(
            matches!(err, ApplyError::UnsafePath { block: 1, .. }),
            "{err:?}"
        );
        assert!(fs.is_empty());
    }

    #[test]
    fn paths_are_normalized_before_applying() {
        let mut fs = files(&[("src/a.txt", "a\n")]);
        let applied = apply(&mut fs, &[replace("./src//a.txt", "a\n", "b\n")]).unwrap();
        assert_eq!(applied.changed, vec!["src/a.txt".to_owned()]);
    }

    #[test]
    fn file_and_directory_conflicts_are_refused() {
        let mut fs = files(&[("src/a.ts", "a\n")]);
        let err = apply(
            &mut fs,
            &[Edit::Whole {
                path: "src".into(),
                content: "x\n".into(),
            }],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "block 1: src would be both a file and a directory (conflicts with src/a.ts)"
        );
        let err = apply(
            &mut fs,
            &[Edit::Whole {
                path: "src/a.ts/b".into(),
                content: "x\n".into(),
            }],
        )
        .unwrap_err();
        assert!(matches!(err, ApplyError::PathConflict { ref other, .. } if other == "src/a.ts"));
        // Replacing the directory's only file with a file of the directory's name is fine.
        let ok = apply(
            &mut fs,
            &[
                Edit::Delete {
                    path: "src/a.ts".into(),
                },
                Edit::Whole {
                    path: "src".into(),
                    content: "x\n".into(),
                },
            ],
        );
        assert!(ok.is_ok(), "{ok:?}");
        // Two new files in one batch can conflict with each other too.
        let err = apply(
            &mut Files::new(),
            &[
                Edit::Whole {
                    path: "d/e.txt".into(),
                    content: String::new(),
                },
                Edit::Whole {
                    path: "d".into(),
                    content: String::new(),
                },
            ],
        )
        .unwrap_err();
        assert!(matches!(err, ApplyError::PathConflict { .. }), "{err:?}");
    }

    #[test]
    fn exact_match_must_start_at_a_line() {
        let mut fs = files(&[("a.py", "max = 1\nx = 1\n")]);
        apply(&mut fs, &[replace("a.py", "x = 1\n", "x = 2\n")]).unwrap();
        assert_eq!(fs["a.py"], "max = 1\nx = 2\n");
    }

    #[test]
    fn ambiguous_search_is_refused_with_the_count() {
        let mut fs = files(&[("a.js", "f();\ng();\nf();\n")]);
        let err = apply(&mut fs, &[replace("a.js", "f();\n", "h();\n")]).unwrap_err();
        assert_eq!(
            err,
            ApplyError::Ambiguous {
                path: "a.js".into(),
                block: 1,
                occurrences: 2
            }
        );
        assert_eq!(
            err.to_string(),
            "block 1: the SEARCH text occurs 2 times in a.js; include more surrounding lines so it matches exactly once"
        );
        // Overlapping occurrences count too.
        let mut fs = files(&[("a.txt", "a\na\na\n")]);
        let err = apply(&mut fs, &[replace("a.txt", "a\na\n", "b\n")]).unwrap_err();
        assert!(
            matches!(err, ApplyError::Ambiguous { occurrences: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn tolerant_match_ignores_trailing_whitespace_and_a_missing_final_newline() {
        let mut fs = files(&[("a.js", "function f() {   \n  return 1;\n}")]);
        apply(
            &mut fs,
            &[replace(
                "a.js",
                "function f() {\n  return 1;\n}\n",
                "function f() {\n  return 2;\n}\n",
            )],
        )
        .unwrap();
        assert_eq!(fs["a.js"], "function f() {\n  return 2;\n}");
    }

    #[test]
    fn tolerant_match_reindents_the_replacement_to_the_file() {
        let content =
            "class A:\n    def f(self):\n        if x:\n            return 1\n        return 0\n";
        let mut fs = files(&[("a.py", content)]);
        // The model quoted the method body without its class indentation.
        let search = "if x:\n    return 1\nreturn 0\n";
        let replace_text = "if x:\n    return 1\nif y:\n    return 2\nreturn 0\n";
        apply(&mut fs, &[replace("a.py", search, replace_text)]).unwrap();
        assert_eq!(
            fs["a.py"],
            "class A:\n    def f(self):\n        if x:\n            return 1\n        if y:\n            return 2\n        return 0\n"
        );
    }

    #[test]
    fn tolerant_match_keeps_tabs_and_crlf() {
        let content = "func main() {\r\n\tif ok {\r\n\t\trun()\r\n\t}\r\n}\r\n";
        let mut fs = files(&[("main.go", content)]);
        let search = "    if ok {\n        run()\n    }\n";
        let new = "    if ok {\n        run()\n        done()\n    }\n";
        apply(&mut fs, &[replace("main.go", search, new)]).unwrap();
        assert_eq!(
            fs["main.go"],
            "func main() {\r\n\tif ok {\r\n\t\trun()\r\n\t\tdone()\r\n\t}\r\n}\r\n"
        );
    }

    #[test]
    fn tolerant_match_needs_a_uniform_shift() {
        let mut fs = files(&[("a.py", "if a:\n    b()\n")]);
        let err = apply(&mut fs, &[replace("a.py", "if a:\nb()\n", "x\n")]).unwrap_err();
        assert!(matches!(err, ApplyError::NotFound { .. }), "{err:?}");
    }

    #[test]
    fn tolerant_match_ignores_blank_lines_around_the_search() {
        let mut fs = files(&[("a.txt", "a\nb\nc\n")]);
        apply(&mut fs, &[replace("a.txt", "\nb\n\n", "\nB\n\n")]).unwrap();
        assert_eq!(fs["a.txt"], "a\nB\nc\n");
    }

    #[test]
    fn tolerant_ambiguity_is_reported() {
        let mut fs = files(&[("a.js", "  x();\n    x();\n")]);
        let err = apply(&mut fs, &[replace("a.js", "x();\n", "y();\n")]).unwrap_err();
        assert!(
            matches!(err, ApplyError::Ambiguous { occurrences: 2, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn tolerant_replacement_with_nothing_removes_the_lines() {
        let mut fs = files(&[("a.js", "a();\n  b();  \nc();\n")]);
        apply(&mut fs, &[replace("a.js", "b();\n", "")]).unwrap();
        assert_eq!(fs["a.js"], "a();\nc();\n");
    }

    #[test]
    fn not_found_names_the_closest_lines() {
        let content = "import x from 'x';\n\nfunction total(items) {\n  let sum = 0;\n  for (const item of items) sum += item.price;\n  return sum;\n}\n\nexport default total;\n";
        let mut fs = files(&[("src/total.js", content)]);
        let search = "function total(items) {\n  let total = 0;\n  for (const item of items) total += item.price;\n  return total;\n}\n";
        let err = apply(&mut fs, &[replace("src/total.js", search, "x\n")]).unwrap_err();
        let ApplyError::NotFound { closest, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(
            closest.as_deref(),
            Some(
                "lines 3-7:\nfunction total(items) {\n  let sum = 0;\n  for (const item of items) sum += item.price;\n  return sum;\n}"
            )
        );
        assert!(err.to_string().starts_with(
            "block 1: the SEARCH text was not found in src/total.js; SEARCH must repeat the file's current lines exactly, the most similar are lines 3-7:\nfunction total(items) {"
        ), "{err}");
    }

    #[test]
    fn not_found_without_anchor_uses_similar_first_line() {
        let content = "alpha();\nbeta();\nconst greeting = 'hello';\nconsole.log(greeting);\n";
        let mut fs = files(&[("a.js", content)]);
        let search = "const greting = 'helo';\nconsole.log(greting);\n";
        let err = apply(&mut fs, &[replace("a.js", search, "x\n")]).unwrap_err();
        assert_eq!(
            err,
            ApplyError::NotFound {
                path: "a.js".into(),
                block: 1,
                closest: Some(
                    "lines 3-4:\nconst greeting = 'hello';\nconsole.log(greeting);".into()
                )
            }
        );
    }

    #[test]
    fn not_found_without_anything_similar_has_no_closest() {
        let mut fs = files(&[("a.js", "alpha();\nbeta();\n")]);
        let err = apply(&mut fs, &[replace("a.js", "zzz qqq\n", "x\n")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "block 1: the SEARCH text was not found in a.js; SEARCH must repeat the file's current lines exactly"
        );
    }

    #[test]
    fn closest_range_is_capped() {
        let content: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let mut fs = files(&[("big.txt", &content)]);
        let search: String = (0..100).map(|i| format!("line {i}!\n")).collect();
        let err = apply(&mut fs, &[replace("big.txt", &search, "x\n")]).unwrap_err();
        let ApplyError::NotFound {
            closest: Some(closest),
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert!(closest.starts_with("lines 1-100:"), "{closest}");
        assert!(closest.lines().count() <= CLOSEST_MAX_LINES + 2);
        assert!(closest.ends_with('…'));
    }

    #[test]
    fn parse_then_apply_round_trip() {
        let mut fs = files(&[("src/server.js", "const port = 3000;\napp.listen(port);\n")]);
        let output = "src/server.js\n```js\n<<<<<<< SEARCH\nconst port = 3000;\n=======\nconst port = Number(process.env.PORT ?? 3000);\n>>>>>>> REPLACE\n```\n\nFILE: src/health.js\n```js\nexport const ok = true;\n```\n";
        let edits = parse(output).unwrap();
        let applied = apply(&mut fs, &edits).unwrap();
        assert_eq!(applied.changed, vec!["src/server.js".to_owned()]);
        assert_eq!(applied.created, vec!["src/health.js".to_owned()]);
        assert_eq!(
            fs["src/server.js"],
            "const port = Number(process.env.PORT ?? 3000);\napp.listen(port);\n"
        );
    }

    #[test]
    fn edits_serialize_with_a_kind_tag() {
        let json = serde_json::to_value(Edit::Delete { path: "a".into() }).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "delete", "path": "a"}));
    }

    #[test]
    fn unicode_content_never_splits_characters() {
        let mut fs = files(&[("a.txt", "é\nées\né\n")]);
        apply(&mut fs, &[replace("a.txt", "ées\n", "ü\n")]).unwrap();
        assert_eq!(fs["a.txt"], "é\nü\né\n");
        let err = apply(&mut fs, &[replace("a.txt", "é\n", "x\n")]).unwrap_err();
        assert!(
            matches!(err, ApplyError::Ambiguous { occurrences: 2, .. }),
            "{err:?}"
        );
    }
}
