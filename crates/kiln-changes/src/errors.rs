//! Structured errors from tool output: the fix loop hands the model precise
//! `file:line: message` items instead of a raw log, and stuck detection compares them
//! between rounds.
//!
//! Each recognizer is a lexical heuristic for one tool's documented output shape (tsc,
//! eslint, node's test runner, jest, vitest, pytest, cargo, `php -l`, phpunit,
//! `flutter analyze`, plus Python and Node crashes), with a generic `file:line:col: message`
//! fallback and "command not found" lines. Which recognizers run is decided by the command
//! and by markers in the output, because a test command often runs a compiler first. The
//! output comes from generated code, so it is only ever read: capped, stripped of terminal
//! escapes, and never panicked on.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::truncate_chars;

/// One error a tool reported, as precisely as its output allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StructuredError {
    /// Relative to the workspace when the tool printed an absolute path inside it.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    /// The recognizer that produced it: `tsc`, `eslint`, `node-test`, `jest`, `vitest`,
    /// `pytest`, `cargo`, `php`, `phpunit`, `flutter`, `python`, `node`, `generic`,
    /// `shell` or `npm`.
    pub tool: String,
}

/// Most errors returned: the first ones are what the model should fix first, and more
/// would only crowd its context.
pub const MAX_ERRORS: usize = 50;
/// Longest message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Output beyond this is cut in the middle (head and tail kept: compilers report first,
/// test runners summarize last).
const MAX_INPUT_BYTES: usize = 4 << 20;
/// How far a recognizer looks ahead for one error's details.
const MAX_BLOCK_LINES: usize = 300;
const MAX_PATH_CHARS: usize = 500;

/// Parses `tool_output` of `command` into errors in output order, deduplicated, at most
/// [`MAX_ERRORS`]. `workspace` is the directory the command ran in: absolute paths under it
/// (or containing `/ws/`, the sandbox's mount point) are made relative.
pub fn parse(tool_output: &str, command: &str, workspace: Option<&str>) -> Vec<StructuredError> {
    let text = clean(tool_output);
    let lines: Vec<&str> = text.lines().collect();
    let mut tools = hinted_tools(command);
    for tool in detected_tools(&text) {
        if !tools.contains(&tool) {
            tools.push(tool);
        }
    }
    let mut found = Vec::new();
    for tool in tools {
        tool.recognize(&lines, &mut found);
    }
    if found.is_empty() {
        generic(&lines, &mut found);
    }
    missing_commands(&lines, &mut found);
    finish(found, workspace)
}

/// An error as a recognizer saw it, before paths are made relative and duplicates dropped.
struct Found {
    /// Output line it was reported at, for ordering across recognizers.
    at: usize,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
    tool: &'static str,
}

fn found(
    at: usize,
    tool: &'static str,
    file: Option<&str>,
    line: Option<&str>,
    column: Option<&str>,
    message: String,
) -> Found {
    Found {
        at,
        file: file.map(str::to_owned),
        line: line.and_then(number),
        column: column.and_then(number),
        message,
        tool,
    }
}

/// Line and column numbers; 0 (used by some tools for "whole file") and overflow mean
/// unknown.
fn number(text: &str) -> Option<u32> {
    text.parse().ok().filter(|n| *n > 0)
}

fn finish(mut found: Vec<Found>, workspace: Option<&str>) -> Vec<StructuredError> {
    found.sort_by_key(|f| f.at);
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for f in found {
        let message = f.message.trim();
        let error = StructuredError {
            file: f
                .file
                .map(|file| truncate_chars(&relativize(&file, workspace), MAX_PATH_CHARS))
                .filter(|file| !file.is_empty()),
            line: f.line,
            column: f.column,
            message: truncate_chars(
                if message.is_empty() {
                    "failed"
                } else {
                    message
                },
                MAX_MESSAGE_CHARS,
            ),
            tool: f.tool.to_owned(),
        };
        let key = (
            error.file.clone(),
            error.line,
            error.column,
            error.message.clone(),
        );
        if seen.insert(key) {
            errors.push(error);
            if errors.len() == MAX_ERRORS {
                break;
            }
        }
    }
    errors
}

fn relativize(file: &str, workspace: Option<&str>) -> String {
    let file = file.trim();
    let file = file.strip_prefix("file://").unwrap_or(file);
    if let Some(workspace) = workspace.map(|w| w.trim().trim_end_matches('/'))
        && !workspace.is_empty()
        && let Some(rest) = file.strip_prefix(workspace)
        && let Some(rest) = rest.strip_prefix('/')
    {
        return strip_dot(rest).to_owned();
    }
    if file.starts_with('/')
        && let Some(at) = file.find("/ws/")
    {
        return strip_dot(&file[at + "/ws/".len()..]).to_owned();
    }
    strip_dot(file).to_owned()
}

fn strip_dot(path: &str) -> &str {
    let mut path = path;
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
});

/// Strips terminal escapes and control characters, normalizes line ends (a lone `\r`
/// redraws a progress line, so it ends one) and caps the size.
fn clean(output: &str) -> String {
    let capped;
    let output = if output.len() > MAX_INPUT_BYTES {
        let half = MAX_INPUT_BYTES / 2;
        let head_end = floor_boundary(output, half);
        let tail_start = floor_boundary(output, output.len() - half);
        capped = format!("{}\n{}", &output[..head_end], &output[tail_start..]);
        capped.as_str()
    } else {
        output
    };
    let stripped = ANSI.replace_all(output, "");
    stripped
        .replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

fn floor_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern:?}: {e}"))
}

/// Declares a lazily compiled regex.
macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| compile($pattern));
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Tsc,
    Eslint,
    NodeTest,
    Jest,
    Vitest,
    Pytest,
    Cargo,
    Php,
    Phpunit,
    Flutter,
    Python,
    Node,
}

impl Tool {
    fn recognize(self, lines: &[&str], out: &mut Vec<Found>) {
        match self {
            Tool::Tsc => tsc(lines, out),
            Tool::Eslint => eslint(lines, out),
            Tool::NodeTest => {
                node_tap(lines, out);
                node_spec(lines, out);
            }
            Tool::Jest => jest(lines, out),
            Tool::Vitest => vitest(lines, out),
            Tool::Pytest => pytest(lines, out),
            Tool::Cargo => cargo(lines, out),
            Tool::Php => php(lines, out),
            Tool::Phpunit => phpunit(lines, out),
            Tool::Flutter => flutter(lines, out),
            Tool::Python => python_traceback(lines, out),
            Tool::Node => node_crash(lines, out),
        }
    }
}

/// Tools named by the command line (`npm test`, `npx tsc --noEmit && node --test`, ...).
fn hinted_tools(command: &str) -> Vec<Tool> {
    let lower = command.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '"' | '\''))
        .filter(|w| !w.is_empty())
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .collect();
    let has = |word: &str| words.contains(&word);
    let mut tools = Vec::new();
    let mut add = |tool| {
        if !tools.contains(&tool) {
            tools.push(tool);
        }
    };
    if has("tsc") || has("vue-tsc") {
        add(Tool::Tsc);
    }
    if has("eslint") || (has("next") && has("lint")) {
        add(Tool::Eslint);
    }
    if has("pytest") || has("py.test") {
        add(Tool::Pytest);
    }
    if has("python") || has("python3") {
        add(Tool::Python);
    }
    if has("cargo") {
        add(Tool::Cargo);
    }
    if has("phpunit") || (has("artisan") && has("test")) {
        add(Tool::Phpunit);
    } else if has("php") {
        add(Tool::Php);
    }
    if has("flutter") || has("dart") {
        add(Tool::Flutter);
    }
    if has("jest") {
        add(Tool::Jest);
    }
    if has("vitest") {
        add(Tool::Vitest);
    }
    if has("node") && has("--test") {
        add(Tool::NodeTest);
    }
    let package_manager = ["npm", "yarn", "pnpm", "bun", "npx"].iter().any(|w| has(w));
    if package_manager && has("test") {
        add(Tool::NodeTest);
        add(Tool::Jest);
        add(Tool::Vitest);
    }
    if package_manager || has("node") {
        add(Tool::Node);
    }
    tools
}

regex!(SHAPE_TSC, r"error TS\d+:");
regex!(
    SHAPE_ESLINT,
    r"(?m)^\s+\d+:\d+\s+(?:error|warning)\s+|\[(?:Error|Warning)/[^\]]+\]\s*$|: line \d+, col \d+, (?:Error|Warning) - "
);
regex!(
    SHAPE_NODE_TEST,
    r"(?m)^\s*not ok \d+|^TAP version|^ℹ (?:tests|fail) \d+|^\s*✖ .+ \(\d+(?:\.\d+)?m?s\)\s*$"
);
regex!(
    SHAPE_JEST,
    r"(?m)^\s*● |^\s*FAIL\s+\S+\s*(?:\([\d.]+\s*m?s\))?\s*$|^Tests:\s+\d+ failed"
);
regex!(
    SHAPE_VITEST,
    r"(?m)^\s*FAIL\s+\S+\s+(?:>|\[)|^\s*❯ \S+:\d+:\d+|⎯⎯|^\s*Test Files\s+\d+ failed"
);
regex!(
    SHAPE_PYTEST,
    r"(?m)^(?:FAILED|ERROR) \S+\.py|^E {2,}\S|^=+ (?:FAILURES|ERRORS|short test summary info) =+$"
);
regex!(
    SHAPE_CARGO,
    r"(?m)^\s*--> \S.*:\d+:\d+\s*$|^thread '[^']*' panicked at "
);
regex!(
    SHAPE_PHP,
    r"(?m)^(?:PHP )?(?:Parse|Fatal) error: .* (?:on line \d+|in \S+:\d+)"
);
regex!(
    SHAPE_PHPUNIT,
    r"(?m)^PHPUnit \d|^(?:FAILURES|ERRORS)!$|^There (?:was|were) \d+ (?:failure|error)"
);
regex!(
    SHAPE_FLUTTER,
    r"(?m)^\s*(?:error|warning|info) [•-] .+ [•-] \S+:\d+:\d+ [•-] [\w.]+\s*$"
);
regex!(SHAPE_PYTHON, r"Traceback \(most recent call last\):");
regex!(
    SHAPE_NODE,
    r"(?m)^Node\.js v\d+|^Require stack:|^(?:file://)?/\S+\.[cm]?[jt]sx?:\d+$"
);

/// Tools whose characteristic output appears in `text`.
fn detected_tools(text: &str) -> Vec<Tool> {
    [
        (Tool::Tsc, &SHAPE_TSC),
        (Tool::Eslint, &SHAPE_ESLINT),
        (Tool::NodeTest, &SHAPE_NODE_TEST),
        (Tool::Jest, &SHAPE_JEST),
        (Tool::Vitest, &SHAPE_VITEST),
        (Tool::Pytest, &SHAPE_PYTEST),
        (Tool::Cargo, &SHAPE_CARGO),
        (Tool::Php, &SHAPE_PHP),
        (Tool::Phpunit, &SHAPE_PHPUNIT),
        (Tool::Flutter, &SHAPE_FLUTTER),
        (Tool::Python, &SHAPE_PYTHON),
        (Tool::Node, &SHAPE_NODE),
    ]
    .into_iter()
    .filter(|(_, shape)| shape.is_match(text))
    .map(|(tool, _)| tool)
    .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn group<'t>(caps: &Captures<'t>, name: &str) -> Option<&'t str> {
    caps.name(name).map(|m| m.as_str())
}

/// Non-blank lines, trimmed, joined by newlines.
fn join_trimmed<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    lines
        .into_iter()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn titled(name: &str, detail: &str) -> String {
    match (name.trim(), detail.trim()) {
        (name, "") => format!("{name}: failed"),
        ("", detail) => detail.to_owned(),
        (name, detail) => format!("{name}: {detail}"),
    }
}

// ---- stack frames shared by the JavaScript runners ----

regex!(
    FRAME,
    r"^\s*at (?:.*? \()?(?:file://)?(?P<file>[^\s()]+?):(?P<line>\d+):(?P<col>\d+)\)?\s*$"
);
regex!(
    LOCATION_SUFFIX,
    r"(?:^|[\s(])(?:file://)?(?P<file>[^\s()]+?):(?P<line>\d+):(?P<col>\d+)\)?\s*$"
);

/// Frames in node internals or dependencies say where the error surfaced, not what to fix.
fn is_foreign(file: &str) -> bool {
    file.starts_with("node:")
        || file.starts_with("internal/")
        || file.contains("node_modules/")
        || file.contains("/internal/")
        || file.starts_with('<')
}

struct Location<'a> {
    file: &'a str,
    line: &'a str,
    column: Option<&'a str>,
}

fn frame(line: &str) -> Option<Location<'_>> {
    // Cheap test first: most lines are not frames, and this runs inside look-aheads.
    if !line.trim_start().starts_with("at ") {
        return None;
    }
    let caps = FRAME.captures(line)?;
    Some(Location {
        file: group(&caps, "file")?,
        line: group(&caps, "line")?,
        column: group(&caps, "col"),
    })
}

fn first_own_frame<'a>(lines: &[&'a str]) -> Option<Location<'a>> {
    lines
        .iter()
        .filter_map(|l| frame(l))
        .find(|loc| !is_foreign(loc.file))
}

fn push_at(
    out: &mut Vec<Found>,
    at: usize,
    tool: &'static str,
    loc: Option<&Location<'_>>,
    fallback_file: Option<&str>,
    message: String,
) {
    match loc {
        Some(loc) => out.push(found(
            at,
            tool,
            Some(loc.file),
            Some(loc.line),
            loc.column,
            message,
        )),
        None => out.push(found(at, tool, fallback_file, None, None, message)),
    }
}

// ---- tsc ----

regex!(
    TSC_PAREN,
    r"^(?P<file>[^\s(][^()]*?)\((?P<line>\d+),(?P<col>\d+)\): (?:error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
);
regex!(
    TSC_PRETTY,
    r"^(?P<file>[^\s:][^:]*?):(?P<line>\d+):(?P<col>\d+) - (?:error|warning) (?P<code>TS\d+): (?P<msg>.*)$"
);
regex!(TSC_GLOBAL, r"^error (?P<code>TS\d+): (?P<msg>.*)$");

fn tsc(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        let Some(caps) = TSC_PAREN
            .captures(line)
            .or_else(|| TSC_PRETTY.captures(line))
            .or_else(|| TSC_GLOBAL.captures(line))
        else {
            continue;
        };
        // Elaboration lines ("Type 'x' is not assignable ...") follow indented; the code
        // frame of the pretty format comes after a blank line and is left out.
        let details = lines[i + 1..]
            .iter()
            .take(MAX_BLOCK_LINES)
            .take_while(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty());
        let mut message = format!(
            "{}: {}",
            group(&caps, "code").unwrap_or_default(),
            group(&caps, "msg").unwrap_or_default()
        );
        for detail in details {
            message.push('\n');
            message.push_str(detail.trim());
        }
        out.push(found(
            i,
            "tsc",
            group(&caps, "file"),
            group(&caps, "line"),
            group(&caps, "col"),
            message,
        ));
    }
}

// ---- eslint ----

regex!(
    ESLINT_ENTRY,
    r"^\s+(?P<line>\d+):(?P<col>\d+)\s+(?P<sev>error|warning)\s+(?P<msg>.+?)(?:\s{2,}(?P<rule>[@\w][\w@/.-]*))?\s*$"
);
regex!(
    ESLINT_UNIX,
    r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*?) \[(?P<sev>Error|Warning)(?:/(?P<rule>[^\]]+))?\]\s*$"
);
regex!(
    ESLINT_COMPACT,
    r"^(?P<file>[^\s:][^:]*): line (?P<line>\d+), col (?P<col>\d+), (?P<sev>Error|Warning) - (?P<msg>.*?)(?: \((?P<rule>[\w@/.-]+)\))?\s*$"
);

fn eslint(lines: &[&str], out: &mut Vec<Found>) {
    let mut current_file: Option<&str> = None;
    for (i, line) in lines.iter().enumerate() {
        let caps = ESLINT_UNIX
            .captures(line)
            .or_else(|| ESLINT_COMPACT.captures(line));
        if let Some(caps) = caps {
            out.push(eslint_found(i, &caps, group(&caps, "file")));
            continue;
        }
        if let Some(caps) = ESLINT_ENTRY.captures(line) {
            out.push(eslint_found(i, &caps, current_file));
            continue;
        }
        // Stylish output: an unindented path heads the indented entries for that file.
        let trimmed = line.trim();
        if !line.starts_with(char::is_whitespace)
            && !trimmed.is_empty()
            && !trimmed.starts_with(['✖', '✔', '>', '!'])
            && !trimmed.contains(": ")
        {
            current_file = Some(trimmed);
        }
    }
}

fn eslint_found(i: usize, caps: &Captures<'_>, file: Option<&str>) -> Found {
    let severity = group(caps, "sev").unwrap_or_default().to_ascii_lowercase();
    let mut message = String::new();
    if severity == "warning" {
        message.push_str("warning: ");
    }
    message.push_str(group(caps, "msg").unwrap_or_default());
    if let Some(rule) = group(caps, "rule") {
        message.push_str(&format!(" ({rule})"));
    }
    found(
        i,
        "eslint",
        file,
        group(caps, "line"),
        group(caps, "col"),
        message,
    )
}

// ---- node's test runner ----

regex!(
    TAP_NOT_OK,
    r"^(?P<indent>\s*)not ok \d+(?: - (?P<name>.*?))?(?P<directive>\s+#\s*(?i:SKIP|TODO)\b.*)?\s*$"
);
regex!(SUBTESTS_FAILED, r"^'?\d+ subtests? failed'?$");

/// `not ok N - name` with its YAML diagnostics (`location`, `error`, `stack`).
fn node_tap(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        let Some(caps) = TAP_NOT_OK.captures(line) else {
            continue;
        };
        if caps.name("directive").is_some() {
            continue;
        }
        let yaml = tap_yaml(lines, i + 1);
        if yaml
            .get("failureType")
            .is_some_and(|t| t == "subtestsFailed")
        {
            continue;
        }
        let error = yaml
            .get("error")
            .or_else(|| yaml.get("message"))
            .map(String::as_str)
            .unwrap_or_default();
        if SUBTESTS_FAILED.is_match(error.trim()) {
            continue;
        }
        let message = titled(group(&caps, "name").unwrap_or("test"), error);
        let declared = yaml.get("location").and_then(|l| split_location(l));
        // The stack points at the failing assertion, better than the test's declaration.
        let stack: Vec<(String, String, String)> = yaml
            .get("stack")
            .map(|s| {
                s.lines()
                    .filter_map(|l| LOCATION_SUFFIX.captures(l))
                    .filter_map(|c| {
                        Some((
                            group(&c, "file")?.to_owned(),
                            group(&c, "line")?.to_owned(),
                            group(&c, "col")?.to_owned(),
                        ))
                    })
                    .filter(|(file, _, _)| !is_foreign(file))
                    .collect()
            })
            .unwrap_or_default();
        let best = declared
            .as_ref()
            .and_then(|(file, _, _)| stack.iter().find(|(f, _, _)| f == file))
            .or(declared.as_ref())
            .or_else(|| stack.first());
        match best {
            Some((file, line, col)) => out.push(found(
                i,
                "node-test",
                Some(file),
                Some(line),
                Some(col),
                message,
            )),
            None => out.push(found(i, "node-test", None, None, None, message)),
        }
    }
}

/// `/path/file.js:12:3` → (file, line, column).
fn split_location(location: &str) -> Option<(String, String, String)> {
    let location = location.strip_prefix("file://").unwrap_or(location);
    let mut parts = location.rsplitn(3, ':');
    let col = parts.next()?;
    let line = parts.next()?;
    let file = parts.next()?;
    if col.parse::<u32>().is_err() || line.parse::<u32>().is_err() || file.is_empty() {
        return None;
    }
    Some((file.to_owned(), line.to_owned(), col.to_owned()))
}

/// The flat keys of the YAML block after a TAP result line, block scalars joined by
/// newlines and quotes removed. Just enough YAML for what node prints.
fn tap_yaml(lines: &[&str], start: usize) -> HashMap<String, String> {
    let mut fields = HashMap::new();
    let Some(first) = lines.get(start) else {
        return fields;
    };
    if first.trim() != "---" {
        return fields;
    }
    let key_indent = indent(first);
    let end = lines.len().min(start + 1 + MAX_BLOCK_LINES);
    let mut k = start + 1;
    while k < end {
        let line = lines[k];
        if line.trim() == "..." || (!line.trim().is_empty() && indent(line) < key_indent) {
            break;
        }
        k += 1;
        if indent(line) != key_indent {
            continue;
        }
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let value = value.trim();
        let value = if value.starts_with(['|', '>']) {
            let mut block = Vec::new();
            while k < end {
                let next = lines[k];
                if !next.trim().is_empty() && indent(next) <= key_indent {
                    break;
                }
                block.push(next);
                k += 1;
            }
            join_trimmed(block)
        } else {
            unquote(value)
        };
        fields.insert(key.to_owned(), value);
    }
    fields
}

fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('\'') && value.ends_with('\'') {
        value[1..value.len() - 1].replace("''", "'")
    } else if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        value[1..value.len() - 1].replace("\\\"", "\"")
    } else {
        value.to_owned()
    }
}

// The duration is always printed for a test, and tells it apart from eslint's
// "✖ 3 problems" summary.
regex!(
    SPEC_FAIL,
    r"^(?P<indent>\s*)✖ (?P<name>.+?) \(\d+(?:\.\d+)?m?s\)\s*$"
);
regex!(
    SPEC_TEST_AT,
    r"^\s*test at (?:file://)?(?P<file>\S+?):(?P<line>\d+):(?P<col>\d+)\s*$"
);

/// The spec reporter: `✖ name (1ms)` followed by the indented error and its stack.
fn node_spec(lines: &[&str], out: &mut Vec<Found>) {
    let mut test_at: Option<(usize, Location<'_>)> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = SPEC_TEST_AT.captures(line)
            && let (Some(file), Some(l)) = (group(&caps, "file"), group(&caps, "line"))
        {
            test_at = Some((
                i,
                Location {
                    file,
                    line: l,
                    column: group(&caps, "col"),
                },
            ));
            continue;
        }
        let Some(caps) = SPEC_FAIL.captures(line) else {
            continue;
        };
        let name = group(&caps, "name").unwrap_or_default();
        let own_indent = indent(line);
        // Node prints a suite's failure after its children, so a block never legitimately
        // holds another result line; stopping there also keeps the scan linear.
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take(MAX_BLOCK_LINES)
            .take_while(|l| {
                (l.trim().is_empty() || indent(l) > own_indent)
                    && !l.trim_start().starts_with(['✖', '✔', '▶', 'ℹ', '﹣'])
            })
            .copied()
            .collect();
        let detail = join_trimmed(
            block
                .iter()
                .copied()
                .take_while(|l| !l.trim_start().starts_with("at ") && l.trim() != "{"),
        );
        if SUBTESTS_FAILED.is_match(&detail) {
            continue;
        }
        let declared = test_at
            .as_ref()
            .filter(|(at, _)| i.saturating_sub(*at) <= 2)
            .map(|(_, loc)| loc);
        let location = first_own_frame(&block);
        let location = location.as_ref().or(declared);
        if detail.is_empty() && location.is_none() {
            continue;
        }
        push_at(out, i, "node-test", location, None, titled(name, &detail));
    }
}

// ---- jest ----

regex!(
    JEST_FILE,
    r"^\s*(?P<status>FAIL|PASS)\s+(?P<file>\S+)\s*(?:\([\d.]+\s*m?s\))?\s*$"
);
regex!(JEST_ENTRY, r"^\s*● (?P<name>.+?)\s*$");
regex!(CODE_FRAME, r"^\s*>?\s*\d+\s*\|");

fn jest(lines: &[&str], out: &mut Vec<Found>) {
    // The FAIL line of the file being reported, and whether it produced any entry: a
    // failing file without entries still deserves one error.
    let mut failing: Option<(usize, &str, bool)> = None;
    let close = |failing: &mut Option<(usize, &str, bool)>, out: &mut Vec<Found>| {
        if let Some((at, file, false)) = failing.take() {
            out.push(found(
                at,
                "jest",
                Some(file),
                None,
                None,
                "test file failed".to_owned(),
            ));
        }
    };
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = JEST_FILE.captures(line) {
            close(&mut failing, out);
            if group(&caps, "status") == Some("FAIL") {
                failing = group(&caps, "file").map(|file| (i, file, false));
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("Test Suites:")
            || trimmed.starts_with("Summary of all failing tests")
        {
            close(&mut failing, out);
            continue;
        }
        let Some(caps) = JEST_ENTRY.captures(line) else {
            continue;
        };
        let name = group(&caps, "name").unwrap_or_default();
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take(MAX_BLOCK_LINES)
            .take_while(|l| {
                !JEST_ENTRY.is_match(l)
                    && !JEST_FILE.is_match(l)
                    && !l.trim_start().starts_with("Test Suites:")
            })
            .copied()
            .collect();
        let detail = join_trimmed(
            block
                .iter()
                .copied()
                .take_while(|l| !CODE_FRAME.is_match(l) && !l.trim_start().starts_with("at ")),
        );
        let location = first_own_frame(&block);
        let fallback = failing.as_ref().map(|(_, file, _)| *file);
        if let Some(f) = failing.as_mut() {
            f.2 = true;
        }
        push_at(
            out,
            i,
            "jest",
            location.as_ref(),
            fallback,
            titled(name, &detail),
        );
    }
    close(&mut failing, out);
}

// ---- vitest ----

regex!(
    VITEST_FAIL,
    r"^\s*FAIL\s+(?P<file>\S+)\s+(?:>\s+(?P<name>.+?)|\[\s*\S+\s*\])\s*$"
);
regex!(
    VITEST_LOCATION,
    r"^\s*❯\s+(?:file://)?(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+)\s*$"
);
regex!(VITEST_SEPARATOR, r"^\s*⎯");
regex!(VITEST_CODE_FRAME, r"^\s*\d+\s*\||^\s*\|");

fn vitest(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        let Some(caps) = VITEST_FAIL.captures(line) else {
            continue;
        };
        let file = group(&caps, "file");
        let name = group(&caps, "name").unwrap_or("test file failed to run");
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take(MAX_BLOCK_LINES)
            .take_while(|l| !VITEST_FAIL.is_match(l) && !VITEST_SEPARATOR.is_match(l))
            .copied()
            .collect();
        let detail = join_trimmed(block.iter().copied().take_while(|l| {
            !VITEST_LOCATION.is_match(l) && !VITEST_CODE_FRAME.is_match(l) && frame(l).is_none()
        }));
        let location = block
            .iter()
            .filter_map(|l| VITEST_LOCATION.captures(l))
            .find_map(|c| {
                let file = group(&c, "file")?;
                (!is_foreign(file)).then_some(Location {
                    file,
                    line: group(&c, "line")?,
                    column: group(&c, "col"),
                })
            })
            .or_else(|| first_own_frame(&block));
        push_at(
            out,
            i,
            "vitest",
            location.as_ref(),
            file,
            titled(name, &detail),
        );
    }
}

// ---- pytest ----

regex!(PY_SECTION, r"^=+ (?P<title>.+?) =+$");
regex!(PY_HEADER, r"^_{2,} (?P<name>.+?) _{2,}$");
regex!(
    PY_LOCATION,
    r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+):(?: (?P<rest>.*))?$"
);
regex!(PY_E, r"^E(?:\s+(?P<msg>.*))?$");
regex!(
    PY_SUMMARY,
    r"^(?P<kind>FAILED|ERROR) (?P<id>\S+?)(?: - (?P<msg>.*))?\s*$"
);

struct PyEntry<'a> {
    at: usize,
    name: &'a str,
    messages: Vec<&'a str>,
    locations: Vec<(&'a str, &'a str, &'a str)>,
}

fn pytest(lines: &[&str], out: &mut Vec<Found>) {
    let mut section = String::new();
    let mut entry: Option<PyEntry<'_>> = None;
    let mut reported: HashSet<String> = HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = PY_SECTION.captures(line) {
            flush_pytest(entry.take(), out, &mut reported);
            section = group(&caps, "title")
                .unwrap_or_default()
                .to_ascii_lowercase();
            continue;
        }
        if section == "failures" || section == "errors" {
            if let Some(caps) = PY_HEADER.captures(line) {
                flush_pytest(entry.take(), out, &mut reported);
                entry = Some(PyEntry {
                    at: i,
                    name: group(&caps, "name").unwrap_or_default(),
                    messages: Vec::new(),
                    locations: Vec::new(),
                });
            } else if let Some(e) = entry.as_mut() {
                if let Some(caps) = PY_E.captures(line) {
                    e.messages.push(group(&caps, "msg").unwrap_or_default());
                } else if let Some(caps) = PY_LOCATION.captures(line)
                    && let (Some(file), Some(l)) = (group(&caps, "file"), group(&caps, "line"))
                {
                    e.locations
                        .push((file, l, group(&caps, "rest").unwrap_or_default()));
                }
            }
            continue;
        }
        if let Some(caps) = PY_SUMMARY.captures(line) {
            let id = group(&caps, "id").unwrap_or_default();
            let (file, test) = match id.split_once("::") {
                Some((file, test)) => (file, test.replace("::", ".")),
                None => (id, String::new()),
            };
            if reported.contains(&test) || (test.is_empty() && reported.contains(file)) {
                continue;
            }
            let detail = group(&caps, "msg").unwrap_or_default();
            let message = if test.is_empty() {
                titled(&format!("error collecting {file}"), detail)
            } else {
                titled(&test, detail)
            };
            out.push(found(i, "pytest", Some(file), None, None, message));
        }
    }
    flush_pytest(entry, out, &mut reported);
}

fn flush_pytest(entry: Option<PyEntry<'_>>, out: &mut Vec<Found>, reported: &mut HashSet<String>) {
    let Some(entry) = entry else {
        return;
    };
    // The last `file:line: ExceptionName` is where the exception was raised; frames that
    // merely passed through print `file:line: in function` or nothing after the colon.
    let raised = entry
        .locations
        .iter()
        .rev()
        .find(|(_, _, rest)| !rest.trim().is_empty() && !rest.starts_with("in "))
        .or(entry.locations.last());
    let collecting = entry.name.strip_prefix("ERROR collecting ").map(str::trim);
    let detail = if entry.messages.is_empty() {
        raised
            .map(|(_, _, rest)| *rest)
            .unwrap_or_default()
            .to_owned()
    } else {
        join_trimmed(entry.messages.iter().copied())
    };
    let message = titled(entry.name, &detail);
    match (raised, collecting) {
        (Some((file, line, _)), _) => out.push(found(
            entry.at,
            "pytest",
            Some(file),
            Some(line),
            None,
            message,
        )),
        (None, file) => out.push(found(entry.at, "pytest", file, None, None, message)),
    }
    reported.insert(entry.name.to_owned());
    if let Some(file) = collecting {
        reported.insert(file.to_owned());
    }
}

// ---- cargo ----

regex!(
    CARGO_ERROR,
    r"^error(?:\[(?P<code>E\d{4})\])?: (?P<msg>.+)$"
);
regex!(
    CARGO_ARROW,
    r"^\s*--> (?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\s*$"
);
regex!(CARGO_LABEL, r"^\s*\d*\s*\|.*?\^+\s+(?P<label>[^\^\s].*)$");
regex!(
    CARGO_SUMMARY,
    r"^(?:could not compile|aborting due to|test failed, to rerun|build failed|\d+ previous errors?)"
);
regex!(
    PANIC,
    r"^thread '(?P<name>[^']*)' panicked at (?P<file>[^\s:'][^:]*):(?P<line>\d+):(?P<col>\d+):\s*$"
);
regex!(
    PANIC_OLD,
    r"^thread '(?P<name>[^']*)' panicked at '(?P<msg>.*)', (?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+)\s*$"
);

fn cargo(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = CARGO_ERROR.captures(line) {
            let text = group(&caps, "msg").unwrap_or_default();
            if CARGO_SUMMARY.is_match(text) {
                continue;
            }
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take(MAX_BLOCK_LINES)
                .take_while(|l| {
                    !l.trim().is_empty() && !l.starts_with("error") && !l.starts_with("warning")
                })
                .copied()
                .collect();
            let arrow = block.iter().take(4).find_map(|l| CARGO_ARROW.captures(l));
            let label = block
                .iter()
                .find_map(|l| CARGO_LABEL.captures(l))
                .and_then(|c| group(&c, "label").map(str::to_owned));
            let mut message = match group(&caps, "code") {
                Some(code) => format!("{code}: {text}"),
                None => text.to_owned(),
            };
            if let Some(label) = label {
                message.push_str(&format!(" ({})", label.trim()));
            }
            match arrow {
                Some(a) => out.push(found(
                    i,
                    "cargo",
                    group(&a, "file"),
                    group(&a, "line"),
                    group(&a, "col"),
                    message,
                )),
                None => out.push(found(i, "cargo", None, None, None, message)),
            }
        } else if let Some(caps) = PANIC_OLD.captures(line) {
            let message = titled(
                group(&caps, "name").unwrap_or_default(),
                group(&caps, "msg").unwrap_or_default(),
            );
            out.push(found(
                i,
                "cargo",
                group(&caps, "file"),
                group(&caps, "line"),
                group(&caps, "col"),
                message,
            ));
        } else if let Some(caps) = PANIC.captures(line) {
            let detail = join_trimmed(
                lines[i + 1..]
                    .iter()
                    .take(20)
                    .take_while(|l| {
                        !l.trim().is_empty()
                            && !l.starts_with("note:")
                            && !l.starts_with("stack backtrace:")
                    })
                    .copied(),
            );
            let message = titled(group(&caps, "name").unwrap_or_default(), &detail);
            out.push(found(
                i,
                "cargo",
                group(&caps, "file"),
                group(&caps, "line"),
                group(&caps, "col"),
                message,
            ));
        }
    }
}

// ---- php -l ----

regex!(
    PHP_ERROR,
    r"^(?:PHP )?(?P<kind>Parse error|Fatal error):\s+(?P<msg>.+?) in (?P<file>\S.*?) on line (?P<line>\d+)\s*$"
);
regex!(
    PHP_UNCAUGHT,
    r"^(?:PHP )?Fatal error:\s+(?P<msg>Uncaught .+?) in (?P<file>\S+?):(?P<line>\d+)\s*$"
);

fn php(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = PHP_UNCAUGHT.captures(line) {
            out.push(found(
                i,
                "php",
                group(&caps, "file"),
                group(&caps, "line"),
                None,
                format!("Fatal error: {}", group(&caps, "msg").unwrap_or_default()),
            ));
        } else if let Some(caps) = PHP_ERROR.captures(line) {
            out.push(found(
                i,
                "php",
                group(&caps, "file"),
                group(&caps, "line"),
                None,
                format!(
                    "{}: {}",
                    group(&caps, "kind").unwrap_or_default(),
                    group(&caps, "msg").unwrap_or_default()
                ),
            ));
        }
    }
}

// ---- phpunit ----

regex!(PHPUNIT_SECTION, r"^There (?:was|were) \d+ (?P<kind>[a-z]+)");
regex!(PHPUNIT_ENTRY, r"^\d+\) (?P<name>\S.*?)\s*$");
regex!(PHPUNIT_LOCATION, r"^(?P<file>\S+\.php):(?P<line>\d+)\s*$");
regex!(
    PHPUNIT_END,
    r"^(?:FAILURES!|ERRORS!|OK\b|Tests: \d+|There (?:was|were) \d+ )"
);

fn phpunit(lines: &[&str], out: &mut Vec<Found>) {
    // Risky, skipped, incomplete and deprecation entries do not fail the run.
    let mut counted = true;
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = PHPUNIT_SECTION.captures(line) {
            let kind = group(&caps, "kind").unwrap_or_default();
            counted = kind.starts_with("failure") || kind.starts_with("error");
            continue;
        }
        if !counted {
            continue;
        }
        let Some(caps) = PHPUNIT_ENTRY.captures(line) else {
            continue;
        };
        let block: Vec<&str> = lines[i + 1..]
            .iter()
            .take(MAX_BLOCK_LINES)
            .take_while(|l| !PHPUNIT_ENTRY.is_match(l) && !PHPUNIT_END.is_match(l))
            .copied()
            .collect();
        let detail = join_trimmed(
            block
                .iter()
                .copied()
                .take_while(|l| !PHPUNIT_LOCATION.is_match(l.trim())),
        );
        let location = block
            .iter()
            .find_map(|l| PHPUNIT_LOCATION.captures(l.trim()));
        let message = titled(group(&caps, "name").unwrap_or_default(), &detail);
        match location {
            Some(loc) => out.push(found(
                i,
                "phpunit",
                group(&loc, "file"),
                group(&loc, "line"),
                None,
                message,
            )),
            None => out.push(found(i, "phpunit", None, None, None, message)),
        }
    }
}

// ---- flutter analyze ----

regex!(
    FLUTTER,
    r"^\s*(?P<sev>error|warning|info)\s+[•-]\s+(?P<msg>.+?)\s+[•-]\s+(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+)\s+[•-]\s+(?P<code>[\w.]+)\s*$"
);

fn flutter(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        let Some(caps) = FLUTTER.captures(line) else {
            continue;
        };
        let severity = group(&caps, "sev").unwrap_or_default();
        let prefix = if severity == "error" {
            String::new()
        } else {
            format!("{severity}: ")
        };
        let message = format!(
            "{prefix}{} ({})",
            group(&caps, "msg").unwrap_or_default(),
            group(&caps, "code").unwrap_or_default()
        );
        out.push(found(
            i,
            "flutter",
            group(&caps, "file"),
            group(&caps, "line"),
            group(&caps, "col"),
            message,
        ));
    }
}

// ---- Python tracebacks (scripts, unittest) ----

regex!(
    PY_TRACEBACK,
    r"^\s*Traceback \(most recent call last\):\s*$"
);
regex!(
    PY_FRAME,
    r#"^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)"#
);
regex!(UNITTEST_HEAD, r"^(?:FAIL|ERROR): (?P<name>.+?)\s*$");

fn python_traceback(lines: &[&str], out: &mut Vec<Found>) {
    let mut test: Option<(usize, &str)> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = UNITTEST_HEAD.captures(line) {
            test = group(&caps, "name").map(|name| (i, name));
            continue;
        }
        if !PY_TRACEBACK.is_match(line) {
            continue;
        }
        let own_indent = indent(line);
        let mut frames = Vec::new();
        let mut exception = "";
        for next in lines[i + 1..].iter().take(MAX_BLOCK_LINES) {
            if next.contains("Traceback (most recent") {
                break;
            }
            if next.contains("File \"")
                && let Some(caps) = PY_FRAME.captures(next)
            {
                if let (Some(file), Some(l)) = (group(&caps, "file"), group(&caps, "line")) {
                    frames.push((file, l));
                }
            } else if !next.trim().is_empty() && indent(next) <= own_indent {
                exception = next.trim();
                break;
            }
        }
        // The innermost frame in the project's own code is where to look.
        let foreign = |file: &str| {
            file.contains("site-packages/") || file.contains("/lib/python") || file.starts_with('<')
        };
        let location = frames
            .iter()
            .rev()
            .find(|(file, _)| !foreign(file))
            .or(frames.last());
        let name = test
            .filter(|(at, _)| i.saturating_sub(*at) <= 3)
            .map(|(_, name)| name)
            .unwrap_or_default();
        let message = titled(
            name,
            if exception.is_empty() {
                "exception"
            } else {
                exception
            },
        );
        match location {
            Some((file, l)) => out.push(found(i, "python", Some(file), Some(l), None, message)),
            None => out.push(found(i, "python", None, None, None, message)),
        }
    }
}

// ---- Node crashes (uncaught errors, missing modules) ----

regex!(
    NODE_SOURCE,
    r"^(?:file://)?(?P<file>/\S+?\.[cm]?[jt]sx?):(?P<line>\d+)\s*$"
);
regex!(
    NODE_ERROR,
    r"^(?:Uncaught )?(?P<msg>\w*(?:Error|Exception)(?: \[[\w-]+\])?: .*)$"
);
regex!(NODE_REQUIRE_STACK, r"^- (?P<file>/\S+)\s*$");

fn node_crash(lines: &[&str], out: &mut Vec<Found>) {
    let mut source: Option<(usize, &str, &str)> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = NODE_SOURCE.captures(line)
            && let (Some(file), Some(l)) = (group(&caps, "file"), group(&caps, "line"))
        {
            source = Some((i, file, l));
            continue;
        }
        let Some(caps) = NODE_ERROR.captures(line) else {
            continue;
        };
        let following: Vec<&str> = lines[i + 1..].iter().take(40).copied().collect();
        let near_source = source.filter(|(at, _, _)| i - at <= 6);
        let frame = first_own_frame(&following);
        let required_by = following
            .iter()
            .skip_while(|l| l.trim() != "Require stack:")
            .skip(1)
            .find_map(|l| NODE_REQUIRE_STACK.captures(l))
            .and_then(|c| group(&c, "file"));
        let starts_a_stack = following
            .iter()
            .take(3)
            .any(|l| l.trim_start().starts_with("at ") || l.trim() == "Require stack:");
        if near_source.is_none() && !starts_a_stack {
            // A line that merely looks like an error (a log message, a test's output).
            continue;
        }
        let message = group(&caps, "msg").unwrap_or_default().to_owned();
        if let Some((_, file, l)) = near_source {
            out.push(found(i, "node", Some(file), Some(l), None, message));
        } else if let Some(loc) = frame {
            push_at(out, i, "node", Some(&loc), None, message);
        } else {
            out.push(found(i, "node", required_by, None, None, message));
        }
        source = None;
    }
}

// ---- fallbacks ----

regex!(
    GENERIC,
    r"^(?P<file>[^\s:]+\.[A-Za-z0-9]{1,12}):(?P<line>\d+)(?::(?P<col>\d+))?:\s+(?P<msg>\S.*)$"
);

/// `file:line[:col]: message`, the convention most compilers and linters share; used
/// only when no specific recognizer found anything.
fn generic(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        if let Some(caps) = GENERIC.captures(line) {
            out.push(found(
                i,
                "generic",
                group(&caps, "file"),
                group(&caps, "line"),
                group(&caps, "col"),
                group(&caps, "msg").unwrap_or_default().to_owned(),
            ));
        }
    }
}

regex!(
    SHELL_NOT_FOUND,
    r"^(?:\S*/)?(?:sh|bash|zsh|dash|ash)(?:: line \d+)?: (?:\d+: )?(?P<cmd>.+?): (?:command )?not found\s*$"
);
regex!(
    COMMAND_NOT_FOUND,
    r"^(?P<cmd>[^\s:]+): command not found\s*$"
);
regex!(
    ENV_NOT_FOUND,
    r"^env: '?(?P<cmd>[^':]+)'?: No such file or directory\s*$"
);
regex!(
    NPM_MISSING_SCRIPT,
    r#"^npm (?:ERR!|error) [Mm]issing script: "?(?P<script>[^"\s]+)"?"#
);

/// A missing program explains every other failure of the run, so it is always reported.
fn missing_commands(lines: &[&str], out: &mut Vec<Found>) {
    for (i, line) in lines.iter().enumerate() {
        let caps = SHELL_NOT_FOUND
            .captures(line)
            .or_else(|| COMMAND_NOT_FOUND.captures(line))
            .or_else(|| ENV_NOT_FOUND.captures(line));
        if let Some(caps) = caps {
            let command = group(&caps, "cmd").unwrap_or_default().trim();
            out.push(found(
                i,
                "shell",
                None,
                None,
                None,
                format!("command not found: {command}"),
            ));
        } else if let Some(caps) = NPM_MISSING_SCRIPT.captures(line) {
            let script = group(&caps, "script").unwrap_or_default();
            out.push(found(
                i,
                "npm",
                Some("package.json"),
                None,
                None,
                format!("missing script: {script}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (file, line, column, message, tool) for compact expectations.
    type Row<'a> = (Option<&'a str>, Option<u32>, Option<u32>, &'a str, &'a str);

    fn rows(errors: &[StructuredError]) -> Vec<Row<'_>> {
        errors
            .iter()
            .map(|e| {
                (
                    e.file.as_deref(),
                    e.line,
                    e.column,
                    e.message.as_str(),
                    e.tool.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn tsc_both_formats_with_colour_and_elaboration() {
        let plain = "src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\nsrc/app.ts(10,3): error TS2345: Argument of type '{ id: string; }' is not assignable to parameter of type 'User'.\n  Property 'name' is missing in type '{ id: string; }' but required in type 'User'.\nerror TS5058: The specified path does not exist: 'tsconfig.json'.\n";
        let errors = parse(plain, "npx tsc --noEmit", None);
        assert_eq!(
            rows(&errors),
            vec![
                (
                    Some("src/app.ts"),
                    Some(3),
                    Some(7),
                    "TS2322: Type 'string' is not assignable to type 'number'.",
                    "tsc"
                ),
                (
                    Some("src/app.ts"),
                    Some(10),
                    Some(3),
                    "TS2345: Argument of type '{ id: string; }' is not assignable to parameter of type 'User'.\nProperty 'name' is missing in type '{ id: string; }' but required in type 'User'.",
                    "tsc"
                ),
                (
                    None,
                    None,
                    None,
                    "TS5058: The specified path does not exist: 'tsconfig.json'.",
                    "tsc"
                ),
            ]
        );
        let pretty = "\x1b[96msrc/app.ts\x1b[0m:\x1b[93m3\x1b[0m:\x1b[93m7\x1b[0m - \x1b[91merror\x1b[0m\x1b[90m TS2322: \x1b[0mType 'string' is not assignable to type 'number'.\n\n\x1b[7m3\x1b[0m const count: number = \"three\";\n\x1b[7m \x1b[0m \x1b[91m      ~~~~~\x1b[0m\n\n\nFound 1 error in src/app.ts\x1b[90m:3\x1b[0m\n\n";
        assert_eq!(
            rows(&parse(pretty, "npm run build", None)),
            vec![(
                Some("src/app.ts"),
                Some(3),
                Some(7),
                "TS2322: Type 'string' is not assignable to type 'number'.",
                "tsc"
            )]
        );
    }

    #[test]
    fn eslint_stylish_unix_and_compact() {
        let stylish = "\n/ws/src/app.js\n   3:7   error    'unused' is assigned a value but never used  no-unused-vars\n  10:1   warning  Unexpected console statement                 no-console\n\n/ws/src/util.js\n  1:10  error  Parsing error: Unexpected token {\n\n✖ 3 problems (2 errors, 1 warning)\n  1 error and 0 warnings potentially fixable with the `--fix` option.\n\n";
        assert_eq!(
            rows(&parse(stylish, "npx eslint .", None)),
            vec![
                (
                    Some("src/app.js"),
                    Some(3),
                    Some(7),
                    "'unused' is assigned a value but never used (no-unused-vars)",
                    "eslint"
                ),
                (
                    Some("src/app.js"),
                    Some(10),
                    Some(1),
                    "warning: Unexpected console statement (no-console)",
                    "eslint"
                ),
                (
                    Some("src/util.js"),
                    Some(1),
                    Some(10),
                    "Parsing error: Unexpected token {",
                    "eslint"
                ),
            ]
        );
        // Shape alone is enough when the command does not say eslint.
        assert_eq!(parse(stylish, "npm run lint", None).len(), 3);
        let unix = "/ws/src/app.js:3:7: 'unused' is assigned a value but never used. [Error/no-unused-vars]\n/ws/src/app.js:10:1: Unexpected console statement. [Warning/no-console]\n\n2 problems\n";
        assert_eq!(
            rows(&parse(unix, "eslint -f unix src", None)),
            vec![
                (
                    Some("src/app.js"),
                    Some(3),
                    Some(7),
                    "'unused' is assigned a value but never used. (no-unused-vars)",
                    "eslint"
                ),
                (
                    Some("src/app.js"),
                    Some(10),
                    Some(1),
                    "warning: Unexpected console statement. (no-console)",
                    "eslint"
                ),
            ]
        );
        let compact = "/ws/src/app.js: line 3, col 7, Error - 'unused' is assigned a value but never used. (no-unused-vars)\n\n1 problem\n";
        assert_eq!(
            rows(&parse(compact, "eslint -f compact .", None)),
            vec![(
                Some("src/app.js"),
                Some(3),
                Some(7),
                "'unused' is assigned a value but never used. (no-unused-vars)",
                "eslint"
            )]
        );
    }

    const NODE_TAP: &str = "TAP version 13
# Subtest: math
    # Subtest: adds
    ok 1 - adds
      ---
      duration_ms: 0.512
      ...
    # Subtest: subtracts
    not ok 2 - subtracts
      ---
      duration_ms: 0.811
      location: '/ws/test/math.test.js:9:3'
      failureType: 'testCodeFailure'
      error: |-
        Expected values to be strictly equal:
        
        1 !== 2
        
      code: 'ERR_ASSERTION'
      name: 'AssertionError'
      expected: 2
      actual: 1
      operator: 'strictEqual'
      stack: |-
        TestContext.<anonymous> (file:///ws/test/math.test.js:10:12)
        Test.runInAsyncScope (node:async_hooks:206:9)
        Test.run (node:internal/test_runner/test:631:25)
      ...
    # Subtest: later
    not ok 3 - later # TODO
      ---
      duration_ms: 0.1
      ...
    1..3
not ok 1 - math
  ---
  duration_ms: 2.1
  type: 'suite'
  location: '/ws/test/math.test.js:5:1'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  code: 'ERR_TEST_FAILURE'
  ...
# Subtest: loads config
not ok 2 - loads config
  ---
  duration_ms: 1.5
  location: '/ws/test/config.test.js:3:1'
  failureType: 'testCodeFailure'
  error: \"Cannot find module '../src/config.js'\"
  code: 'ERR_MODULE_NOT_FOUND'
  stack: |-
    finalizeResolution (node:internal/modules/esm/resolve:265:11)
  ...
1..2
# tests 4
# suites 1
# pass 1
# fail 2
# todo 1
";

    #[test]
    fn node_test_runner_tap() {
        assert_eq!(
            rows(&parse(NODE_TAP, "npm test", None)),
            vec![
                (
                    Some("test/math.test.js"),
                    Some(10),
                    Some(12),
                    "subtracts: Expected values to be strictly equal:\n1 !== 2",
                    "node-test"
                ),
                (
                    Some("test/config.test.js"),
                    Some(3),
                    Some(1),
                    "loads config: Cannot find module '../src/config.js'",
                    "node-test"
                ),
            ]
        );
    }

    const NODE_SPEC: &str = "▶ math
  ✔ adds (0.512ms)
  ✖ subtracts (0.811ms)
    AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
    
    1 !== 2
    
        at TestContext.<anonymous> (file:///ws/test/math.test.js:10:12)
        at Test.runInAsyncScope (node:async_hooks:206:9)
        at async Test.run (node:internal/test_runner/test:631:25) {
      generatedMessage: true,
      code: 'ERR_ASSERTION',
      actual: 1,
      expected: 2,
      operator: 'strictEqual'
    }

✖ math (2.1ms)
  '1 subtest failed'
ℹ tests 2
ℹ suites 1
ℹ pass 1
ℹ fail 1
ℹ cancelled 0
ℹ skipped 0
ℹ todo 0
ℹ duration_ms 45.2

✖ failing tests:

test at test/math.test.js:9:3
✖ subtracts (0.811ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  1 !== 2
  
      at TestContext.<anonymous> (file:///ws/test/math.test.js:10:12)
      at Test.runInAsyncScope (node:async_hooks:206:9) {
    generatedMessage: true,
    code: 'ERR_ASSERTION',
    actual: 1,
    expected: 2,
    operator: 'strictEqual'
  }
";

    #[test]
    fn node_test_runner_spec_reporter() {
        assert_eq!(
            rows(&parse(NODE_SPEC, "node --test", None)),
            vec![(
                Some("test/math.test.js"),
                Some(10),
                Some(12),
                "subtracts: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:\n1 !== 2",
                "node-test"
            )]
        );
    }

    #[test]
    fn node_spec_failure_without_stack_uses_the_test_location() {
        let output = "✖ failing tests:\n\ntest at test/a.test.js:4:1\n✖ times out (30001.2ms)\n  'test timed out after 30000ms'\n";
        assert_eq!(
            rows(&parse(output, "npm test", None)),
            vec![(
                Some("test/a.test.js"),
                Some(4),
                Some(1),
                "times out: 'test timed out after 30000ms'",
                "node-test"
            )]
        );
    }

    const JEST: &str = " FAIL  src/sum.test.js
  sum
    ✕ adds 1 + 2 to equal 3 (5 ms)
    ✓ adds 0 (1 ms)

  ● sum › adds 1 + 2 to equal 3

    expect(received).toBe(expected) // Object.is equality

    Expected: 3
    Received: 4

      3 | describe('sum', () => {
      4 |   test('adds 1 + 2 to equal 3', () => {
    > 5 |     expect(sum(1, 2)).toBe(3);
        |                       ^
      6 |   });
      7 | });

      at Object.toBe (src/sum.test.js:5:23)

 FAIL  src/api.test.js
  ● Test suite failed to run

    Cannot find module './api' from 'src/api.test.js'

    > 1 | const api = require('./api');
        |             ^

      at Resolver._throwModNotFoundError (node_modules/jest-resolve/build/resolver.js:427:11)
      at Object.<anonymous> (src/api.test.js:1:13)

 FAIL  src/empty.test.js (1.2 s)
 PASS  src/ok.test.js

Test Suites: 3 failed, 1 passed, 4 total
Tests:       1 failed, 2 passed, 3 total
Snapshots:   0 total
Time:        1.234 s
";

    #[test]
    fn jest_entries_and_failing_files() {
        assert_eq!(
            rows(&parse(JEST, "npm test", None)),
            vec![
                (
                    Some("src/sum.test.js"),
                    Some(5),
                    Some(23),
                    "sum › adds 1 + 2 to equal 3: expect(received).toBe(expected) // Object.is equality\nExpected: 3\nReceived: 4",
                    "jest"
                ),
                (
                    Some("src/api.test.js"),
                    Some(1),
                    Some(13),
                    "Test suite failed to run: Cannot find module './api' from 'src/api.test.js'",
                    "jest"
                ),
                (
                    Some("src/empty.test.js"),
                    None,
                    None,
                    "test file failed",
                    "jest"
                ),
            ]
        );
    }

    const VITEST: &str = "
 RUN  v1.2.0 /ws

 ❯ src/sum.test.ts (2 tests | 1 failed) 5ms
   × sum > adds 2ms
     → expected 4 to be 3 // Object.is equality

⎯⎯⎯⎯⎯⎯⎯ Failed Tests 1 ⎯⎯⎯⎯⎯⎯⎯

 FAIL  src/sum.test.ts > sum > adds
AssertionError: expected 4 to be 3 // Object.is equality

- Expected
+ Received

- 3
+ 4

 ❯ src/sum.test.ts:5:23
      3| describe('sum', () => {
      4|   it('adds', () => {
      5|     expect(sum(1, 2)).toBe(3)
       |                       ^
      6|   })

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  src/api.test.ts [ src/api.test.ts ]
Error: Failed to load url ./api (resolved id: ./api) in /ws/src/api.test.ts. Does the file exist?
⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯

 Test Files  2 failed (2)
      Tests  1 failed | 1 passed (2)
";

    #[test]
    fn vitest_failures() {
        assert_eq!(
            rows(&parse(VITEST, "npx vitest run", None)),
            vec![
                (
                    Some("src/sum.test.ts"),
                    Some(5),
                    Some(23),
                    "sum > adds: AssertionError: expected 4 to be 3 // Object.is equality\n- Expected\n+ Received\n- 3\n+ 4",
                    "vitest"
                ),
                (
                    Some("src/api.test.ts"),
                    None,
                    None,
                    "test file failed to run: Error: Failed to load url ./api (resolved id: ./api) in /ws/src/api.test.ts. Does the file exist?",
                    "vitest"
                ),
            ]
        );
        // `npm test` leaves the choice to the output's shape.
        assert_eq!(parse(VITEST, "npm test", None).len(), 2);
        assert!(
            parse(VITEST, "npm test", None)
                .iter()
                .all(|e| e.tool == "vitest")
        );
    }

    const PYTEST: &str =
        "============================= test session starts ==============================
platform linux -- Python 3.12.1, pytest-8.0.0, pluggy-1.4.0
rootdir: /ws
collected 4 items

tests/test_calc.py .F                                                    [ 50%]
tests/test_api.py F                                                      [ 75%]
tests/test_other.py F                                                    [100%]

=================================== FAILURES ===================================
_________________________________ test_divide __________________________________

    def test_divide():
>       assert divide(6, 3) == 3
E       assert 2.0 == 3
E        +  where 2.0 = divide(6, 3)

tests/test_calc.py:12: AssertionError
__________________________ TestApi.test_get_missing ___________________________

self = <tests.test_api.TestApi object at 0x7f3a2c1d9e50>

    def test_get_missing(self):
>       get(\"/missing\")

tests/test_api.py:8: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _

path = '/missing'

    def get(path):
>       return ROUTES[path]
E       KeyError: '/missing'

app/api.py:3: KeyError
=========================== short test summary info ============================
FAILED tests/test_calc.py::test_divide - assert 2.0 == 3
FAILED tests/test_api.py::TestApi::test_get_missing - KeyError: '/missing'
FAILED tests/test_other.py::test_x - ValueError: boom
========================= 3 failed, 1 passed in 0.05s ==========================
";

    #[test]
    fn pytest_failures_and_summary() {
        assert_eq!(
            rows(&parse(PYTEST, "python -m pytest -q", None)),
            vec![
                (
                    Some("tests/test_calc.py"),
                    Some(12),
                    None,
                    "test_divide: assert 2.0 == 3\n+  where 2.0 = divide(6, 3)",
                    "pytest"
                ),
                (
                    Some("app/api.py"),
                    Some(3),
                    None,
                    "TestApi.test_get_missing: KeyError: '/missing'",
                    "pytest"
                ),
                (
                    Some("tests/test_other.py"),
                    None,
                    None,
                    "test_x: ValueError: boom",
                    "pytest"
                ),
            ]
        );
    }

    #[test]
    fn pytest_collection_errors() {
        let output =
            "==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_models.py _____________________
ImportError while importing test module '/ws/tests/test_models.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/usr/lib/python3.12/importlib/__init__.py:90: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
tests/test_models.py:1: in <module>
    from app.models import User
E   ModuleNotFoundError: No module named 'app.models'
=========================== short test summary info ============================
ERROR tests/test_models.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!!
";
        assert_eq!(
            rows(&parse(output, "pytest", None)),
            vec![(
                Some("tests/test_models.py"),
                Some(1),
                None,
                "ERROR collecting tests/test_models.py: ModuleNotFoundError: No module named 'app.models'",
                "pytest"
            )]
        );
    }

    #[test]
    fn cargo_build_errors() {
        let output = "   Compiling app v0.1.0 (/ws)
error[E0308]: mismatched types
 --> src/main.rs:3:18
  |
3 |     let x: i32 = \"a\";
  |            ---   ^^^ expected `i32`, found `&str`
  |            |
  |            expected due to this

error[E0425]: cannot find value `y` in this scope
 --> src/main.rs:4:20
  |
4 |     println!(\"{}\", y);
  |                    ^ not found in this scope

warning: unused variable: `x`
 --> src/main.rs:3:9

Some errors have detailed explanations: E0308, E0425.
For more information about an error, try `rustc --explain E0308`.
error: could not compile `app` (bin \"app\") due to 2 previous errors
";
        assert_eq!(
            rows(&parse(output, "cargo build", None)),
            vec![
                (
                    Some("src/main.rs"),
                    Some(3),
                    Some(18),
                    "E0308: mismatched types (expected `i32`, found `&str`)",
                    "cargo"
                ),
                (
                    Some("src/main.rs"),
                    Some(4),
                    Some(20),
                    "E0425: cannot find value `y` in this scope (not found in this scope)",
                    "cargo"
                ),
            ]
        );
    }

    #[test]
    fn cargo_test_panics() {
        let output = "running 2 tests
test tests::adds ... FAILED
test tests::subs ... ok

failures:

---- tests::adds stdout ----

thread 'tests::adds' panicked at src/lib.rs:10:9:
assertion `left == right` failed
  left: 3
 right: 4
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    tests::adds

test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s

error: test failed, to rerun pass `--lib`
";
        assert_eq!(
            rows(&parse(output, "cargo test", None)),
            vec![(
                Some("src/lib.rs"),
                Some(10),
                Some(9),
                "tests::adds: assertion `left == right` failed\nleft: 3\nright: 4",
                "cargo"
            )]
        );
        let old = "thread 'main' panicked at 'index out of bounds: the len is 3 but the index is 5', src/main.rs:4:5\n";
        assert_eq!(
            rows(&parse(old, "cargo run", None)),
            vec![(
                Some("src/main.rs"),
                Some(4),
                Some(5),
                "main: index out of bounds: the len is 3 but the index is 5",
                "cargo"
            )]
        );
    }

    #[test]
    fn php_lint_and_fatal_errors() {
        let lint = "PHP Parse error:  syntax error, unexpected token \"}\", expecting \";\" in /ws/public/index.php on line 7\nParse error: syntax error, unexpected token \"}\", expecting \";\" in /ws/public/index.php on line 7\nErrors parsing /ws/public/index.php\n";
        assert_eq!(
            rows(&parse(lint, "php -l public/index.php", None)),
            vec![(
                Some("public/index.php"),
                Some(7),
                None,
                "Parse error: syntax error, unexpected token \"}\", expecting \";\"",
                "php"
            )]
        );
        let fatal = "PHP Fatal error:  Uncaught Error: Call to undefined function render() in /ws/src/page.php:3\nStack trace:\n#0 {main}\n  thrown in /ws/src/page.php on line 3\n";
        assert_eq!(
            rows(&parse(fatal, "php src/page.php", None)),
            vec![(
                Some("src/page.php"),
                Some(3),
                None,
                "Fatal error: Uncaught Error: Call to undefined function render()",
                "php"
            )]
        );
    }

    #[test]
    fn phpunit_failures_and_errors_not_risky() {
        let output = "PHPUnit 10.5.2 by Sebastian Bergmann and contributors.

Runtime:       PHP 8.3.1

F.ER                                                                4 / 4 (100%)

Time: 00:00.021, Memory: 8.00 MB

There was 1 error:

1) Tests\\Unit\\CartTest::testTotal
Error: Call to undefined method App\\Cart::total()

/ws/tests/Unit/CartTest.php:21

--

There was 1 failure:

1) Tests\\Unit\\CalculatorTest::testDivide
Failed asserting that 2 is identical to 3.

/ws/tests/Unit/CalculatorTest.php:12

There was 1 risky test:

1) Tests\\Unit\\EmptyTest::testNothing
This test did not perform any assertions

/ws/tests/Unit/EmptyTest.php:8

ERRORS!
Tests: 4, Assertions: 2, Errors: 1, Failures: 1, Risky: 1.
";
        assert_eq!(
            rows(&parse(output, "vendor/bin/phpunit", None)),
            vec![
                (
                    Some("tests/Unit/CartTest.php"),
                    Some(21),
                    None,
                    "Tests\\Unit\\CartTest::testTotal: Error: Call to undefined method App\\Cart::total()",
                    "phpunit"
                ),
                (
                    Some("tests/Unit/CalculatorTest.php"),
                    Some(12),
                    None,
                    "Tests\\Unit\\CalculatorTest::testDivide: Failed asserting that 2 is identical to 3.",
                    "phpunit"
                ),
            ]
        );
    }

    #[test]
    fn flutter_analyze_both_separators() {
        let output = "Analyzing app...

  error • The argument type 'String' can't be assigned to the parameter type 'int' • lib/main.dart:12:20 • argument_type_not_assignable
warning • Unused import: 'dart:async' • lib/main.dart:1:8 • unused_import
   info • Prefer const with constant constructors • lib/widgets/card.dart:20:12 • prefer_const_constructors
  error - Undefined name 'foo' - lib/a.dart:3:5 - undefined_identifier

4 issues found. (ran in 1.4s)
";
        assert_eq!(
            rows(&parse(output, "flutter analyze", None)),
            vec![
                (
                    Some("lib/main.dart"),
                    Some(12),
                    Some(20),
                    "The argument type 'String' can't be assigned to the parameter type 'int' (argument_type_not_assignable)",
                    "flutter"
                ),
                (
                    Some("lib/main.dart"),
                    Some(1),
                    Some(8),
                    "warning: Unused import: 'dart:async' (unused_import)",
                    "flutter"
                ),
                (
                    Some("lib/widgets/card.dart"),
                    Some(20),
                    Some(12),
                    "info: Prefer const with constant constructors (prefer_const_constructors)",
                    "flutter"
                ),
                (
                    Some("lib/a.dart"),
                    Some(3),
                    Some(5),
                    "Undefined name 'foo' (undefined_identifier)",
                    "flutter"
                ),
            ]
        );
    }

    #[test]
    fn python_tracebacks_and_unittest() {
        let script = "Traceback (most recent call last):
  File \"/ws/app/main.py\", line 10, in <module>
    main()
  File \"/ws/app/main.py\", line 7, in main
    config = load()
  File \"/usr/lib/python3.12/json/__init__.py\", line 293, in load
    return loads(fp.read(),
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
";
        assert_eq!(
            rows(&parse(script, "python app/main.py", None)),
            vec![(
                Some("app/main.py"),
                Some(7),
                None,
                "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)",
                "python"
            )]
        );
        let unittest = "F
======================================================================
FAIL: test_add (tests.test_calc.CalcTest.test_add)
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"/ws/tests/test_calc.py\", line 6, in test_add
    self.assertEqual(add(1, 2), 4)
AssertionError: 3 != 4

----------------------------------------------------------------------
Ran 1 test in 0.001s

FAILED (failures=1)
";
        assert_eq!(
            rows(&parse(unittest, "python -m unittest", None)),
            vec![(
                Some("tests/test_calc.py"),
                Some(6),
                None,
                "test_add (tests.test_calc.CalcTest.test_add): AssertionError: 3 != 4",
                "python"
            )]
        );
    }

    #[test]
    fn node_crashes() {
        let syntax = "/ws/src/server.js:12
    app.listen(port, () => {
                          ^

SyntaxError: Unexpected token '=>'
    at internalCompileFunction (node:internal/vm:76:18)
    at wrapSafe (node:internal/modules/cjs/loader:1283:20)

Node.js v20.11.0
";
        assert_eq!(
            rows(&parse(syntax, "node src/server.js", None)),
            vec![(
                Some("src/server.js"),
                Some(12),
                None,
                "SyntaxError: Unexpected token '=>'",
                "node"
            )]
        );
        let missing = "node:internal/modules/cjs/loader:1147
  throw err;
  ^

Error: Cannot find module 'express'
Require stack:
- /ws/src/server.js
    at Module._resolveFilename (node:internal/modules/cjs/loader:1144:15)
    at Module._load (node:internal/modules/cjs/loader:985:27)
    at Object.<anonymous> (/ws/src/server.js:1:17)
    at Module._compile (node:internal/modules/cjs/loader:1376:14) {
  code: 'MODULE_NOT_FOUND',
  requireStack: [ '/ws/src/server.js' ]
}

Node.js v20.11.0
";
        assert_eq!(
            rows(&parse(missing, "npm start", None)),
            vec![(
                Some("src/server.js"),
                Some(1),
                Some(17),
                "Error: Cannot find module 'express'",
                "node"
            )]
        );
        // An error-looking log line is not a crash.
        assert!(parse("Error: retrying in 5s\nok\n", "npm start", None).is_empty());
    }

    #[test]
    fn generic_fallback_and_missing_commands() {
        let output = "gcc -c main.c\nmain.c:5:3: error: expected ';' before 'return'\nMakefile:12: recipe for target 'all' failed\n";
        assert_eq!(
            rows(&parse(output, "make", None)),
            vec![(
                Some("main.c"),
                Some(5),
                Some(3),
                "error: expected ';' before 'return'",
                "generic"
            )]
        );
        let shell = "> app@1.0.0 test\n> jest\n\nsh: 1: jest: not found\nbash: line 1: pytest: command not found\n/bin/sh: 1: tsc: not found\nfoo: command not found\nenv: 'node': No such file or directory\nnpm ERR! Missing script: \"lint\"\n";
        assert_eq!(
            rows(&parse(shell, "npm test", None)),
            vec![
                (None, None, None, "command not found: jest", "shell"),
                (None, None, None, "command not found: pytest", "shell"),
                (None, None, None, "command not found: tsc", "shell"),
                (None, None, None, "command not found: foo", "shell"),
                (None, None, None, "command not found: node", "shell"),
                (
                    Some("package.json"),
                    None,
                    None,
                    "missing script: lint",
                    "npm"
                ),
            ]
        );
    }

    #[test]
    fn mixed_output_is_ordered_by_position() {
        let output = format!(
            "src/a.ts(1,1): error TS1005: ';' expected.\nsh: 1: vitest: not found\n{NODE_TAP}"
        );
        let errors = parse(&output, "npm test", None);
        let tools: Vec<&str> = errors.iter().map(|e| e.tool.as_str()).collect();
        assert_eq!(tools, ["tsc", "shell", "node-test", "node-test"]);
    }

    #[test]
    fn paths_are_made_relative() {
        let output = "/home/runner/app/src/a.ts(1,2): error TS1005: ';' expected.\n/tmp/kiln/ws/src/b.ts(3,4): error TS1005: ';' expected.\n./src/c.ts(5,6): error TS1005: ';' expected.\n/elsewhere/d.ts(7,8): error TS1005: ';' expected.\n";
        let files: Vec<Option<String>> = parse(output, "tsc", Some("/home/runner/app/"))
            .into_iter()
            .map(|e| e.file)
            .collect();
        assert_eq!(
            files,
            vec![
                Some("src/a.ts".to_owned()),
                Some("src/b.ts".to_owned()),
                Some("src/c.ts".to_owned()),
                Some("/elsewhere/d.ts".to_owned()),
            ]
        );
        assert_eq!(relativize("file:///ws/x.js", None), "x.js");
        assert_eq!(relativize("/ws/x.js", Some("/")), "x.js");
        assert_eq!(relativize("/wsx/y.js", Some("/ws")), "/wsx/y.js");
    }

    #[test]
    fn output_is_capped_in_count_and_length() {
        let many: String = (1..=200)
            .map(|i| format!("src/a.ts({i},1): error TS2304: Cannot find name 'x{i}'.\n"))
            .collect();
        let errors = parse(&many, "tsc", None);
        assert_eq!(errors.len(), MAX_ERRORS);
        assert_eq!(errors[0].line, Some(1));
        assert_eq!(errors[49].line, Some(50));
        let long = format!("src/a.ts(1,1): error TS2304: {}\n", "x".repeat(5000));
        let errors = parse(&long, "tsc", None);
        assert_eq!(errors[0].message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(errors[0].message.ends_with('…'));
    }

    #[test]
    fn duplicates_are_dropped_and_zero_lines_are_unknown() {
        let output = "src/a.ts(1,1): error TS1005: ';' expected.\nsrc/a.ts(1,1): error TS1005: ';' expected.\n/ws/src/x.js\n  0:0  error  Parsing error: bad  \n";
        let errors = parse(output, "tsc && eslint .", None);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].line, None);
        assert_eq!(errors[1].column, None);
    }

    #[test]
    fn command_hints() {
        assert_eq!(
            hinted_tools("./node_modules/.bin/tsc -p ."),
            vec![Tool::Tsc]
        );
        assert_eq!(
            hinted_tools("python3 -m pytest -x"),
            vec![Tool::Pytest, Tool::Python]
        );
        assert_eq!(hinted_tools("vendor/bin/phpunit"), vec![Tool::Phpunit]);
        assert_eq!(hinted_tools("php -l index.php"), vec![Tool::Php]);
        assert_eq!(hinted_tools("flutter analyze"), vec![Tool::Flutter]);
        assert_eq!(hinted_tools("cargo test --workspace"), vec![Tool::Cargo]);
        assert_eq!(
            hinted_tools("npm test"),
            vec![Tool::NodeTest, Tool::Jest, Tool::Vitest, Tool::Node]
        );
        assert_eq!(
            hinted_tools("node --test"),
            vec![Tool::NodeTest, Tool::Node]
        );
        assert!(hinted_tools("").is_empty());
    }

    #[test]
    fn errors_serialize_flat() {
        let json = serde_json::to_value(StructuredError {
            file: Some("a.js".into()),
            line: Some(1),
            column: None,
            message: "m".into(),
            tool: "node".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"file": "a.js", "line": 1, "column": null, "message": "m", "tool": "node"})
        );
    }
}
