//! Splitting a file into chunks for retrieval: definitions (with tree-sitter, for the
//! languages that have a grammar), heading sections (Markdown), line windows (the rest and
//! the gaps between definitions).

use crate::lang::Lang;
use crate::syntax::{self, Def};

/// Files larger than this are not parsed (line windows instead): bounds parse time and
/// memory on generated or data-like sources.
pub const MAX_PARSE_BYTES: usize = 4 << 20;

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChunkKind {
    /// A free function (also a Rust `macro_rules!`, a JS arrow function bound to a name).
    Function,
    /// A function inside a class, impl, trait or interface.
    Method,
    /// A type or container: class, struct, enum, trait, interface, impl block, module,
    /// Go type declaration; also the header and in-between lines of a split container.
    Class,
    /// A Markdown section (or several short ones), starting at a heading.
    Section,
    /// A window of lines: a gap between definitions or a file without a grammar.
    Window,
}

impl ChunkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChunkKind::Function => "function",
            ChunkKind::Method => "method",
            ChunkKind::Class => "class",
            ChunkKind::Section => "section",
            ChunkKind::Window => "window",
        }
    }
}

/// A piece of a file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chunk {
    /// 1-based, inclusive.
    pub start_line: u32,
    /// 1-based, inclusive.
    pub end_line: u32,
    /// Exactly those lines of the file, joined by their original line breaks, without the
    /// break after the last one (and without a leading byte-order mark). The one exception:
    /// a single line longer than `max_chunk_chars` is cut into several chunks, each holding
    /// a piece of it (all with the same `start_line == end_line`).
    pub text: String,
    /// Qualified names defined here, outermost first: `["Cart", "Cart::add_item"]`
    /// (`::` for Rust and PHP, `.` for the others).
    pub symbols: Vec<String>,
    pub kind: ChunkKind,
}

/// Size limits of chunks.
#[derive(Debug, Clone)]
pub struct ChunkOptions {
    /// A definition (or gap) up to this many lines is one chunk; longer ones are split.
    pub max_lines: usize,
    /// Lines per window when something is split by lines.
    pub window_lines: usize,
    /// Lines shared by consecutive windows.
    pub overlap_lines: usize,
    /// Upper bound on a chunk's text, in bytes (so also in characters).
    pub max_chunk_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_lines: 80,
            window_lines: 40,
            overlap_lines: 8,
            max_chunk_chars: 6000,
        }
    }
}

/// Chunks of `text`, the contents of the file at `path` (whose extension picks the
/// language, see [`Lang::from_path`]). See [`chunk_as`].
pub fn chunk(path: &str, text: &str, opts: &ChunkOptions) -> Vec<Chunk> {
    chunk_as(Lang::from_path(path), text, opts)
}

/// Chunks of `text` written in `lang` (`None`: unknown, chunked by lines).
///
/// Chunks come in file order, are never empty or whitespace-only, never longer than
/// `max_chunk_chars`, and together cover every non-blank line.
pub fn chunk_as(lang: Option<Lang>, text: &str, opts: &ChunkOptions) -> Vec<Chunk> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = Lines::new(text);
    if lines.len() == 0 {
        return Vec::new();
    }
    let mut em = Emitter {
        lines: &lines,
        o: Limits::from(opts),
        out: Vec::new(),
    };
    let last = lines.len() - 1;
    let defs = match lang {
        Some(l) if l.has_grammar() && text.len() <= MAX_PARSE_BYTES => syntax::definitions(l, text),
        _ => None,
    };
    match (defs, lang) {
        (Some(defs), _) => em.level(&defs, 0, last, &[], ChunkKind::Window),
        (None, Some(Lang::Markdown)) => em.markdown(),
        (None, _) => em.region(0, last, &[], ChunkKind::Window),
    }
    em.out
}

/// Drops repeated names (overloads, a second `impl` of a type), keeping the first.
fn dedup(names: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    names.retain(|n| seen.insert(n.clone()));
}

/// Options made safe to use.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_lines: usize,
    window: usize,
    overlap: usize,
    max_chars: usize,
}

impl From<&ChunkOptions> for Limits {
    fn from(o: &ChunkOptions) -> Self {
        let window = o.window_lines.max(1);
        Limits {
            max_lines: o.max_lines.max(1),
            window,
            overlap: o.overlap_lines.min(window - 1),
            // A piece of a line must hold at least one character (4 bytes in UTF-8).
            max_chars: o.max_chunk_chars.max(4),
        }
    }
}

/// The lines of a text: line `i` is `text[starts[i]..ends[i]]` (without `\n` or `\r\n`).
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    ends: Vec<usize>,
    blank: Vec<bool>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = Vec::new();
        let mut ends = Vec::new();
        let mut blank = Vec::new();
        let bytes = text.as_bytes();
        let mut start = 0usize;
        while start < bytes.len() {
            let nl = bytes[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|p| start + p);
            let (mut end, next) = match nl {
                Some(p) => (p, p + 1),
                None => (bytes.len(), bytes.len()),
            };
            if end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
            starts.push(start);
            ends.push(end);
            blank.push(text[start..end].trim().is_empty());
            start = next;
        }
        Lines {
            text,
            starts,
            ends,
            blank,
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    fn line(&self, i: usize) -> &'a str {
        &self.text[self.starts[i]..self.ends[i]]
    }

    /// Lines `a..=b`.
    fn span(&self, a: usize, b: usize) -> &'a str {
        &self.text[self.starts[a]..self.ends[b]]
    }

    fn span_len(&self, a: usize, b: usize) -> usize {
        self.ends[b] - self.starts[a]
    }
}

struct Emitter<'a> {
    lines: &'a Lines<'a>,
    o: Limits,
    out: Vec<Chunk>,
}

impl Emitter<'_> {
    /// Definitions `defs` within rows `from..=to`, the rows between them as gap chunks.
    fn level(&mut self, defs: &[Def], from: usize, to: usize, scope: &[String], gap: ChunkKind) {
        let mut cursor = from;
        for (i, d) in defs.iter().enumerate() {
            let start = d.start.max(cursor);
            let mut end = d.end.min(to);
            if start > end {
                continue;
            }
            if start > cursor {
                self.region(cursor, start - 1, scope, gap);
            }
            // Closing braces after the last member go with it, not into a chunk of their own.
            if i + 1 == defs.len() && end < to && self.closers_only(end + 1, to) {
                end = to;
            }
            self.def(d, start, end, scope);
            cursor = end + 1;
        }
        if cursor <= to {
            self.region(cursor, to, scope, gap);
        }
    }

    fn def(&mut self, d: &Def, start: usize, end: usize, scope: &[String]) {
        if end - start + 1 > self.o.max_lines && !d.members.is_empty() {
            let mut inner = scope.to_vec();
            inner.push(d.name.clone());
            inner.extend(d.extra.iter().cloned());
            dedup(&mut inner);
            self.level(&d.members, start, end, &inner, ChunkKind::Class);
            return;
        }
        let mut symbols = scope.to_vec();
        d.collect_names(&mut symbols);
        dedup(&mut symbols);
        self.region(start, end, &symbols, d.kind);
    }

    /// Whether rows `a..=b` hold nothing but a few lines of closing punctuation.
    fn closers_only(&self, a: usize, b: usize) -> bool {
        let mut seen = 0;
        for i in a..=b {
            if self.lines.blank[i] {
                continue;
            }
            seen += 1;
            let t = self.lines.line(i).trim();
            let closer = t == "?>" || t.chars().all(|c| matches!(c, '}' | ')' | ']' | ';' | ','));
            if seen > 3 || !closer {
                return false;
            }
        }
        true
    }

    /// Rows `a..=b` without blank edges: one chunk if short enough, windows if not.
    fn region(&mut self, a: usize, b: usize, symbols: &[String], kind: ChunkKind) {
        let Some((a, b)) = self.trim(a, b) else {
            return;
        };
        if b - a < self.o.max_lines && self.lines.span_len(a, b) <= self.o.max_chars {
            self.emit(a, b, self.lines.span(a, b), symbols, kind);
        } else {
            self.windows(a, b, symbols, kind);
        }
    }

    fn trim(&self, mut a: usize, mut b: usize) -> Option<(usize, usize)> {
        while a <= b && self.lines.blank[a] {
            a += 1;
        }
        while b > a && self.lines.blank[b] {
            b -= 1;
        }
        (a <= b && !self.lines.blank[a]).then_some((a, b))
    }

    /// Windows over `a..=b`: up to `window` rows and `max_chars` bytes each, consecutive
    /// ones sharing `overlap` rows (at most half of the window, so windows shortened by
    /// long lines still advance). A line over `max_chars` on its own is cut into pieces.
    fn windows(&mut self, a: usize, b: usize, symbols: &[String], kind: ChunkKind) {
        let mut s = a;
        while s <= b {
            if self.lines.blank[s] {
                s += 1;
                continue;
            }
            if self.lines.span_len(s, s) > self.o.max_chars {
                self.cut_line(s, symbols, kind);
                s += 1;
                continue;
            }
            let limit = (s + self.o.window - 1).min(b);
            let mut e = s;
            while e < limit && self.lines.span_len(s, e + 1) <= self.o.max_chars {
                e += 1;
            }
            if let Some((ws, we)) = self.trim(s, e) {
                self.emit(ws, we, self.lines.span(ws, we), symbols, kind);
            }
            if e >= b {
                break;
            }
            let next_is_long = self.lines.span_len(e + 1, e + 1) > self.o.max_chars;
            let overlap = if next_is_long {
                0
            } else {
                self.o.overlap.min((e - s).div_ceil(2))
            };
            s = e + 1 - overlap;
        }
    }

    /// A line over `max_chars`, in pieces, each cut at whitespace when there is some in
    /// its second half, else at a character boundary.
    fn cut_line(&mut self, i: usize, symbols: &[String], kind: ChunkKind) {
        let mut rest = self.lines.line(i);
        while !rest.is_empty() {
            let mut cut = rest.len().min(self.o.max_chars);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut < rest.len()
                && let Some(ws) = rest[..cut].rfind(char::is_whitespace)
                && ws >= cut / 2
                && ws > 0
            {
                cut = ws;
            }
            let (piece, tail) = rest.split_at(cut);
            if !piece.trim().is_empty() {
                self.emit(i, i, piece, symbols, kind);
            }
            rest = tail;
        }
    }

    fn emit(&mut self, a: usize, b: usize, text: &str, symbols: &[String], kind: ChunkKind) {
        self.out.push(Chunk {
            start_line: u32::try_from(a + 1).unwrap_or(u32::MAX),
            end_line: u32::try_from(b + 1).unwrap_or(u32::MAX),
            text: text.to_string(),
            symbols: symbols.to_vec(),
            kind,
        });
    }

    /// Markdown: sections from one heading to the next, short neighbours packed together
    /// up to `window` lines, long ones windowed. Headings inside code fences do not count.
    fn markdown(&mut self) {
        let n = self.lines.len();
        let mut heads: Vec<usize> = Vec::new();
        let mut fence: Option<char> = None;
        for i in 0..n {
            let line = self.lines.line(i);
            let t = line.trim_start();
            let indent = line.len() - t.len();
            if indent > 3 {
                continue;
            }
            if t.starts_with("```") || t.starts_with("~~~") {
                let c = t.chars().next().unwrap_or('`');
                match fence {
                    None => fence = Some(c),
                    Some(f) if f == c => fence = None,
                    Some(_) => {}
                }
                continue;
            }
            if fence.is_some() {
                continue;
            }
            let hashes = t.bytes().take_while(|&b| b == b'#').count();
            let atx = (1..=6).contains(&hashes)
                && t[hashes..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == ' ' || c == '\t');
            let setext = i > 0
                && !self.lines.blank[i - 1]
                && t.len() >= 2
                && (t.trim_end().bytes().all(|b| b == b'=')
                    || t.trim_end().bytes().all(|b| b == b'-'));
            if atx {
                heads.push(i);
            } else if setext && heads.last() != Some(&(i - 1)) {
                heads.push(i - 1);
            }
        }
        let mut bounds: Vec<usize> = Vec::with_capacity(heads.len() + 2);
        bounds.push(0);
        bounds.extend(heads.into_iter().filter(|&h| h > 0));
        bounds.push(n);
        let mut current: Option<(usize, usize)> = None;
        for w in bounds.windows(2) {
            let (a, b) = (w[0], w[1] - 1);
            current = match current {
                Some((ca, _)) if b - ca < self.o.window => Some((ca, b)),
                Some((ca, cb)) => {
                    self.region(ca, cb, &[], ChunkKind::Section);
                    Some((a, b))
                }
                None => Some((a, b)),
            };
        }
        if let Some((a, b)) = current {
            self.region(a, b, &[], ChunkKind::Section);
        }
    }
}

#[cfg(test)]
#[path = "chunk_tests.rs"]
mod tests;
