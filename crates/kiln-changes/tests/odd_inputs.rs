//! Property-style checks over hostile input: every public function of the crate must
//! return (an error value or a result) for empty, huge, binary-ish and marker-soup input,
//! and keep its invariants while doing so. A small deterministic generator keeps the runs
//! reproducible without extra dependencies.

use std::collections::BTreeMap;

use kiln_changes::{Files, edits, errors, fingerprint, paths, shrink, tamper};

/// xorshift64*: deterministic, dependency-free, good enough to shuffle tokens.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Fragments that exercise every parser's markers, plus text that breaks naive code:
/// multi-byte characters, control bytes, lone carriage returns, escapes, long runs.
const TOKENS: &[&str] = &[
    "\n",
    "\n",
    "\n",
    "\r",
    "\r\n",
    "\t",
    " ",
    "    ",
    "a.txt",
    "src/app.js",
    "../etc/passwd",
    ".git/config",
    "FILE: ",
    "FILE:",
    "DELETE: ",
    "**FILE:** ",
    "```",
    "```js",
    "````",
    "~~~",
    "<<<<<<< SEARCH",
    "<<<<< SEARCH",
    "=======",
    ">>>>>>> REPLACE",
    ">>>>>>>>> REPLACE",
    "x",
    "foo();",
    "é",
    "日本",
    "🙂",
    "\u{202e}",
    "\u{0}",
    "\u{1b}[31m",
    "\u{1b}]8;;",
    "\u{feff}",
    ":",
    "::",
    "(1,2)",
    ":12:5",
    " - error TS2322: ",
    "error[E0308]: ",
    " --> ",
    "not ok 1 - ",
    "  ---",
    "  ...",
    "error: |-",
    "✖ ",
    " (1.5ms)",
    "● ",
    " FAIL ",
    " > ",
    "❯ ",
    "⎯⎯",
    "E   ",
    "_____ ",
    "=== FAILURES ===",
    "FAILED ",
    "thread 'x' panicked at ",
    "PHP Parse error: ",
    " on line ",
    "1) ",
    "There were 2 failures:",
    "error • ",
    "Traceback (most recent call last):",
    "  File \"",
    "Error: ",
    "    at ",
    "Node.js v20",
    "sh: 1: ",
    ": not found",
    "it.skip(",
    "expect(",
    "assert ",
    "toBe(",
    "toBeTruthy()",
    "#[ignore]",
    "@@ -1,2 +1,3 @@",
    "index abc..def",
    "0x7fff1234",
    "123456789012345678901234567890",
];

fn soup(rng: &mut Rng, max_tokens: usize) -> String {
    let n = rng.below(max_tokens + 1);
    (0..n).map(|_| rng.pick(TOKENS)).collect()
}

fn file_set(rng: &mut Rng) -> Files {
    let mut files = BTreeMap::new();
    for _ in 0..rng.below(5) {
        let path = rng
            .pick(&[
                "a.txt",
                "src/app.js",
                "test/a.test.js",
                "tests/test_a.py",
                "x/y/z.rs",
            ])
            .to_owned();
        files.insert(path, soup(rng, 30));
    }
    files
}

/// Some whole lines of `text` (a SEARCH section the model could have copied).
fn line_slice(rng: &mut Rng, text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.is_empty() {
        return String::new();
    }
    let a = rng.below(lines.len());
    let b = a + 1 + rng.below((lines.len() - a).min(4));
    lines[a..b].concat()
}

/// Model output built from well-formed blocks about `files`, noise, and corrupted blocks
/// (a marker dropped or duplicated), so both the success and the error paths run.
fn model_output(rng: &mut Rng, files: &Files) -> String {
    let paths: Vec<&str> = files.keys().map(String::as_str).collect();
    let mut out = String::new();
    for _ in 0..1 + rng.below(4) {
        let path = if !paths.is_empty() && rng.below(3) > 0 {
            paths[rng.below(paths.len())].to_owned()
        } else {
            rng.pick(&["new.txt", "src/new.js", "../x", "a.txt/b", "src"])
                .to_owned()
        };
        let current = files.get(&path).cloned().unwrap_or_default();
        let mut block = match rng.below(4) {
            0 => format!("FILE: {path}\n```\n{}\n```\n", soup(rng, 10)),
            1 => format!("DELETE: {path}\n"),
            _ => {
                let search = if rng.below(4) == 0 {
                    soup(rng, 6)
                } else {
                    line_slice(rng, &current)
                };
                let search = search.trim_end_matches(['\n', '\r']);
                let search_section = if search.is_empty() {
                    String::new()
                } else {
                    format!("{search}\n")
                };
                format!(
                    "{path}\n```\n<<<<<<< SEARCH\n{search_section}=======\n{}\n>>>>>>> REPLACE\n```\n",
                    soup(rng, 6).replace(['\r', '\n'], " ")
                )
            }
        };
        if rng.below(6) == 0 {
            let marker = rng.pick(&[
                "=======\n",
                ">>>>>>> REPLACE\n",
                "```\n",
                "<<<<<<< SEARCH\n",
            ]);
            block = if rng.below(2) == 0 {
                block.replacen(marker, "", 1)
            } else {
                block.replacen(marker, &marker.repeat(2), 1)
            };
        }
        if rng.below(3) == 0 {
            out.push_str(&soup(rng, 8));
            out.push('\n');
        }
        out.push_str(&block);
    }
    out
}

#[test]
fn edits_parse_and_apply_survive_marker_soup() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut parsed_ok, mut applied_ok) = (0, 0);
    for round in 0..3000 {
        let original = file_set(&mut rng);
        let output = if round % 3 == 0 {
            soup(&mut rng, 60)
        } else {
            model_output(&mut rng, &original)
        };
        let Ok(parsed) = edits::parse(&output) else {
            continue;
        };
        parsed_ok += 1;
        for edit in &parsed {
            let path = edit.path();
            assert_eq!(paths::check_path(path).as_deref(), Ok(path), "{output:?}");
        }
        let mut files = original.clone();
        match edits::apply(&mut files, &parsed) {
            Err(err) => {
                assert_eq!(files, original, "failed apply changed files: {err}");
                let message = err.to_string();
                assert!(message.starts_with("block "), "{message}");
            }
            Ok(applied) => {
                applied_ok += 1;
                for path in applied.created.iter().chain(&applied.changed) {
                    assert!(files.contains_key(path));
                    assert!(!original.contains_key(path) || applied.changed.contains(path));
                }
                for path in &applied.deleted {
                    assert!(!files.contains_key(path) && original.contains_key(path));
                }
            }
        }
    }
    // The generator must reach the success paths, or this test proves little.
    assert!(
        parsed_ok > 500 && applied_ok > 200,
        "{parsed_ok} parsed, {applied_ok} applied"
    );
}

#[test]
fn replace_matching_survives_random_files_and_searches() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let mut replaced = 0;
    for _ in 0..3000 {
        let content = soup(&mut rng, 40);
        let original: Files = [("f.txt".to_owned(), content.clone())].into();
        let mut files = original.clone();
        let search = match rng.below(3) {
            0 => line_slice(&mut rng, &content),
            // An arbitrary character slice: mid-line starts, split CRLFs, partial markers.
            1 if !content.is_empty() => {
                let chars: Vec<char> = content.chars().collect();
                let a = rng.below(chars.len());
                let b = a + rng.below(chars.len() - a + 1);
                chars[a..b].iter().collect()
            }
            _ => soup(&mut rng, 8),
        };
        let edit = edits::Edit::Replace {
            path: "f.txt".into(),
            search,
            replace: soup(&mut rng, 8),
        };
        if edits::apply(&mut files, std::slice::from_ref(&edit)).is_err() {
            assert_eq!(files, original);
        } else {
            replaced += 1;
        }
    }
    assert!(replaced > 300, "only {replaced} replacements succeeded");
}

#[test]
fn edits_handle_huge_and_degenerate_output() {
    let cases = [
        String::new(),
        "\n".repeat(100_000),
        "<<<<<<< SEARCH\n".repeat(20_000),
        format!("a.txt\n{}", "<<<<<<< SEARCH\n".repeat(20_000)),
        "FILE: a.txt\n".repeat(20_000),
        format!("FILE: a.txt\n```\n{}", "```js\n".repeat(20_000)),
        format!("FILE: big.txt\n```\n{}```\n", "x".repeat(2_000_000)),
        ">>>>>>> REPLACE\n".repeat(10),
        "=======\n".repeat(10_000),
        "\u{0}\u{1}\u{2}\u{ffff}".repeat(10_000),
    ];
    for output in &cases {
        let _ = edits::parse(output);
    }
    // A large file with many near-identical lines stays fast and unambiguous.
    let content: String = (0..20_000)
        .map(|i| format!("    line {}\n", i % 7))
        .collect();
    let mut files: Files = [("f.txt".to_owned(), content)].into();
    let err = edits::apply(
        &mut files,
        &[edits::Edit::Replace {
            path: "f.txt".into(),
            search: "line 1\nline 2\nline 3\nline 9\n".into(),
            replace: "x\n".into(),
        }],
    )
    .unwrap_err();
    assert!(matches!(err, edits::ApplyError::NotFound { .. }), "{err:?}");
}

#[test]
fn paths_and_globs_survive_random_input() {
    let mut rng = Rng(0x5eed_1234_abcd_0003);
    for _ in 0..5000 {
        let path = soup(&mut rng, 10);
        if let Ok(normalized) = paths::check_path(&path) {
            assert_eq!(
                paths::check_path(&normalized).as_deref(),
                Ok(normalized.as_str())
            );
            assert!(!normalized.starts_with('/'));
            assert!(!normalized.split('/').any(|s| s == ".." || s.is_empty()));
            assert!(!normalized.contains(['\\', ':', '\0', '\n', '\r']));
        }
        let pattern = soup(&mut rng, 6);
        let _ = paths::glob_match(&pattern, &path);
        let _ = paths::is_protected(&path, &[pattern.as_str()]);
        let _ = paths::is_protected_by_default(&path);
        let _ = tamper::default_is_test(&path);
    }
}

#[test]
fn tamper_and_shrink_survive_random_file_sets() {
    let mut rng = Rng(0x5eed_1234_abcd_0004);
    for _ in 0..2000 {
        let before = file_set(&mut rng);
        let after = file_set(&mut rng);
        for finding in tamper::check(&before, &after, tamper::default_is_test) {
            assert!(before.contains_key(&finding.path) || after.contains_key(&finding.path));
            assert!(!finding.message.is_empty());
        }
        let everything = tamper::check(&before, &after, |_: &str| true);
        assert!(everything.iter().all(|f| !f.path.is_empty()));
        if let Some(violation) = shrink::check(&before, &after, shrink::ShrinkLimits::default()) {
            assert!(violation.shrink_ratio.is_finite());
            assert!((0.0..=1.0).contains(&violation.shrink_ratio));
            assert!(violation.message.starts_with("the revision removes "));
        }
    }
    let empty = Files::new();
    assert!(tamper::check(&empty, &empty, tamper::default_is_test).is_empty());
    assert_eq!(
        shrink::check(&empty, &empty, shrink::ShrinkLimits::default()),
        None
    );
}

#[test]
fn tool_errors_survive_random_output() {
    let mut rng = Rng(0x5eed_1234_abcd_0005);
    let commands = [
        "",
        "npm test",
        "npx tsc --noEmit",
        "pytest",
        "cargo test",
        "php -l x.php",
        "vendor/bin/phpunit",
        "flutter analyze",
        "python app.py",
        "node --test",
        "make",
    ];
    let mut total = 0;
    for _ in 0..2000 {
        let output = soup(&mut rng, 120);
        let command = commands[rng.below(commands.len())];
        let workspace = ["/ws", "/", "", "/home/x/"][rng.below(4)];
        let found = errors::parse(&output, command, Some(workspace));
        total += found.len();
        assert!(found.len() <= errors::MAX_ERRORS);
        for error in &found {
            assert!(!error.message.is_empty());
            assert!(error.message.chars().count() <= errors::MAX_MESSAGE_CHARS);
            assert!(!error.message.contains('\u{1b}'));
            assert!(error.line != Some(0) && error.column != Some(0));
        }
        let diff = soup(&mut rng, 40);
        let fp = fingerprint::fingerprint(&diff, &found);
        assert_eq!(fp.len(), 64);
        assert_eq!(fp, fingerprint::fingerprint(&diff, &found));
    }
    assert!(
        total > 100,
        "only {total} errors recognized in all the soup"
    );
}

#[test]
fn tool_errors_handle_huge_and_binary_output() {
    // Past the input cap: the head is kept, so the first errors still come through.
    let huge: String = (1..=150_000)
        .map(|i| format!("src/a.ts({i},1): error TS1005: ';' expected.\n"))
        .collect();
    assert!(huge.len() > 6 << 20);
    let found = errors::parse(&huge, "tsc", None);
    assert_eq!(found.len(), errors::MAX_ERRORS);
    assert_eq!(found[0].line, Some(1));

    let binary: String = (0u32..200_000)
        .filter_map(|i| char::from_u32(i % 0x3000))
        .collect();
    let _ = errors::parse(&binary, "npm test", Some("/ws"));

    let deep: String = (0..20_000)
        .map(|i| format!("{}✖ t (1ms)\n", " ".repeat(i % 400)))
        .collect();
    let _ = errors::parse(&deep, "node --test", None);

    let unbalanced = "  ---\n  error: |-\n".repeat(50_000);
    let _ = errors::parse(&format!("not ok 1 - x\n{unbalanced}"), "npm test", None);

    let no_newlines = "x".repeat(3_000_000);
    assert!(errors::parse(&no_newlines, "", None).is_empty());
}
