//! Test-tamper guard: a fix loop under pressure can make a red build green by weakening the
//! tests instead of fixing the code. [`check`] compares every test file before and after a
//! revision and reports deleted test files, fewer assertions, new skip/focus markers and
//! exact matchers swapped for weaker ones, so the gate can refuse or escalate the change.
//!
//! All counts are lexical heuristics over the raw text: comments and strings count like
//! code, and nothing is parsed. That is deliberate: the comparison is between two versions
//! of the same file, so systematic over- or under-counting cancels out, while a parser per
//! language would be slower, larger and just as easy to confuse with generated code.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Files;

/// One reason to believe a revision weakened the tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TamperFinding {
    pub path: String,
    pub kind: TamperKind,
    /// A sentence fragment for humans and for the model, naming the numbers.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TamperKind {
    /// A test file that existed before is gone.
    Deleted,
    /// The file has fewer assertion calls than before.
    FewerAssertions { before: usize, after: usize },
    /// A skip or focus marker (normalized, e.g. `it.skip(`) occurs more often than before.
    Skipped { marker: String },
    /// Exact matchers fell while weaker ones rose in the same file.
    Loosened { detail: String },
}

/// Compares the test files (as decided by `is_test`) of two versions of a file set.
///
/// Test files new in `after` are checked for skip markers only (a new file cannot lose
/// assertions). Findings are ordered by path. A renamed test file shows up as deleted:
/// whether the move was honest is for a reviewer to judge.
pub fn check(before: &Files, after: &Files, is_test: impl Fn(&str) -> bool) -> Vec<TamperFinding> {
    let paths: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut findings = Vec::new();
    for path in paths {
        if !is_test(path) {
            continue;
        }
        match (before.get(path), after.get(path)) {
            (Some(old), None) => {
                let assertions = Counts::of(path, old).assertions;
                findings.push(TamperFinding {
                    path: path.clone(),
                    kind: TamperKind::Deleted,
                    message: format!(
                        "test file {path} was deleted (it had {assertions} {})",
                        plural(assertions, "assertion", "assertions")
                    ),
                });
            }
            (Some(old), Some(new)) => compare(path, old, new, &mut findings),
            (None, Some(new)) => compare(path, "", new, &mut findings),
            (None, None) => {}
        }
    }
    findings
}

fn compare(path: &str, old: &str, new: &str, findings: &mut Vec<TamperFinding>) {
    let (was, now) = (Counts::of(path, old), Counts::of(path, new));
    let existed = !old.is_empty();
    if existed && now.assertions < was.assertions {
        findings.push(TamperFinding {
            path: path.to_owned(),
            kind: TamperKind::FewerAssertions {
                before: was.assertions,
                after: now.assertions,
            },
            message: format!(
                "{path}: assertions fell from {} to {}",
                was.assertions, now.assertions
            ),
        });
    }
    for (marker, &count) in &now.markers {
        let previous = was.markers.get(marker).copied().unwrap_or(0);
        if count > previous {
            findings.push(TamperFinding {
                path: path.to_owned(),
                kind: TamperKind::Skipped {
                    marker: marker.clone(),
                },
                message: format!(
                    "{path}: `{marker}` went from {previous} to {count}, so tests that ran \
                     before may no longer run"
                ),
            });
        }
    }
    if !existed {
        return;
    }
    for (family, (strict_was, loose_was)) in LOOSENING.iter().zip(&was.loosening) {
        let (strict_now, loose_now) = now.loosening[family.index];
        if strict_now < *strict_was && loose_now > *loose_was {
            let detail = format!(
                "{} fell from {strict_was} to {strict_now} while {} rose from {loose_was} to \
                 {loose_now}",
                family.strict_name, family.loose_name
            );
            findings.push(TamperFinding {
                path: path.to_owned(),
                kind: TamperKind::Loosened {
                    detail: detail.clone(),
                },
                message: format!("{path}: exact checks were replaced by weaker ones: {detail}"),
            });
        }
    }
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// The default notion of a test file across the stacks Kiln generates: files under
/// `test/`, `tests/`, `__tests__/` or Flutter's `integration_test/`, and the naming
/// conventions `*.test.*`, `*.spec.*`, `test_*.py`, `*_test.py`, `tests.py`,
/// `conftest.py`, `*_test.go`, `*_test.dart`, `*Test.php` and `test.sh`.
pub fn default_is_test(path: &str) -> bool {
    let mut segments: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let Some(name) = segments.pop() else {
        return false;
    };
    if segments.iter().any(|dir| {
        ["test", "tests", "__tests__", "integration_test"]
            .iter()
            .any(|t| dir.eq_ignore_ascii_case(t))
    }) {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    lower.contains(".test.")
        || lower.contains(".spec.")
        || (lower.starts_with("test_") && lower.ends_with(".py"))
        || lower.ends_with("_test.py")
        || lower == "tests.py"
        || lower == "conftest.py"
        || lower.ends_with("_test.go")
        || lower.ends_with("_test.dart")
        // Case matters: `latest.php` is not a test.
        || (name.ends_with("Test.php") && name.len() > "Test.php".len())
        || lower == "test.sh"
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Js,
    Python,
    Rust,
    Php,
    Go,
    Dart,
    /// Unknown extension (shell tests, ...): every language's patterns apply.
    Other,
}

fn language(path: &str) -> Lang {
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" | "vue" | "svelte" => Lang::Js,
        "py" => Lang::Python,
        "rs" => Lang::Rust,
        "php" => Lang::Php,
        "go" => Lang::Go,
        "dart" => Lang::Dart,
        _ => Lang::Other,
    }
}

/// Assertion call patterns per language.
const ASSERTIONS: &[(Lang, &str)] = &[
    // `assert(`, `assert.equal(`, `t.assert.ok(`; `expect(` for jest/vitest/chai.
    (Lang::Js, r"\bassert(?:\.\w+)?\s*\("),
    (Lang::Js, r"\bexpect\s*\("),
    (Lang::Python, r"(?m)^\s*assert\b"),
    (Lang::Python, r"\bself\.assert\w*\s*\("),
    (Lang::Rust, r"\b(?:debug_)?assert(?:_eq|_ne|_matches)?!"),
    (Lang::Php, r"\$this->assert\w*\s*\("),
    (Lang::Php, r"\b(?:self|static)::assert\w*\s*\("),
    (Lang::Php, r"\$this->expectException\w*\s*\("),
    (Lang::Go, r"\bt\.(?:Error|Errorf|Fatal|Fatalf)\s*\("),
    (Lang::Go, r"\b(?:require|assert)\.\w+\s*\("),
    (Lang::Dart, r"\bexpect(?:Later)?\s*\("),
];

/// Skip and focus markers per language. A fixed label names markers whose matched text
/// varies too much to read well; otherwise the match itself, without whitespace, is the
/// label (`it.skip(`, `@pytest.mark.skipif`).
const MARKERS: &[(Lang, Option<&str>, &str)] = &[
    // `.only` skips every other test, so it counts as a skip.
    (
        Lang::Js,
        None,
        r"\b(?:it|test|describe|suite|context)\s*\.\s*(?:skip|only|todo|skipIf)\s*\(",
    ),
    (
        Lang::Js,
        None,
        r"\b(?:xit|xdescribe|xtest|fit|fdescribe)\s*\(",
    ),
    (Lang::Js, None, r"\bt\.(?:skip|todo)\s*\("),
    (Lang::Js, Some("{ skip: true }"), r"\bskip\s*:\s*true\b"),
    (Lang::Js, Some("{ only: true }"), r"\bonly\s*:\s*true\b"),
    (Lang::Js, Some("{ todo: true }"), r"\btodo\s*:\s*true\b"),
    (
        Lang::Python,
        None,
        r"@pytest\.mark\.(?:skip|skipif|xfail)\b",
    ),
    (
        Lang::Python,
        None,
        r"@unittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b",
    ),
    (Lang::Python, None, r"\bpytest\.skip\s*\("),
    (Lang::Python, None, r"\bself\.skipTest\s*\("),
    (
        Lang::Python,
        Some("raise SkipTest"),
        r"\braise\s+(?:unittest\.)?SkipTest\b",
    ),
    (Lang::Rust, Some("#[ignore]"), r"#\[\s*ignore\b"),
    (Lang::Go, None, r"\bt\.(?:Skip|Skipf|SkipNow)\s*\("),
    (Lang::Php, None, r"\bmarkTest(?:Skipped|Incomplete)\s*\("),
    (Lang::Dart, Some("skip:"), r"\bskip\s*:"),
    (Lang::Dart, Some("solo: true"), r"\bsolo\s*:\s*true\b"),
];

/// An exact check and its weaker stand-ins. Applied to every file: the patterns are
/// distinctive enough not to fire across languages.
struct Loosening {
    index: usize,
    strict_name: &'static str,
    strict: Regex,
    loose_name: &'static str,
    loose: Regex,
}

const LOOSENING_PATTERNS: &[(&str, &str, &str, &str)] = &[
    (
        "toBe/toEqual/toStrictEqual",
        r"\.(?:toBe|toEqual|toStrictEqual)\s*\(",
        "toBeTruthy/toBeDefined/toBeGreaterThan(0)",
        r"\.(?:toBeTruthy|toBeDefined)\s*\(\s*\)|\.not\.(?:toBeNull|toBeUndefined)\s*\(\s*\)|\.toBeGreaterThan(?:OrEqual)?\s*\(\s*0\s*\)",
    ),
    (
        "assert.equal/assert.strictEqual/assert.deepStrictEqual",
        r"\bassert\.(?:equal|strictEqual|deepEqual|deepStrictEqual)\s*\(",
        "assert.ok/assert(",
        r"\bassert(?:\.ok)?\s*\(",
    ),
    (
        "assertEqual/assertEquals/assertSame",
        r"\bassert(?:Equal|Equals|Same|Identical|CountEqual|DictEqual|ListEqual|SequenceEqual|AlmostEqual|Count)\s*\(",
        "assertTrue/assertNotNull/assertIsNotNone",
        r"\bassert(?:True|NotNull|IsNotNone|NotEmpty|NotFalse)\s*\(",
    ),
    (
        "assert_eq!/assert_ne!",
        r"\bassert_(?:eq|ne)!",
        "assert!",
        r"\bassert!",
    ),
    (
        "assert.Equal/require.Equal",
        r"\b(?:assert|require)\.(?:Equal|EqualValues|Exactly|JSONEq)\s*\(",
        "assert.True/assert.NotNil",
        r"\b(?:assert|require)\.(?:True|NotNil|NotEmpty|NotZero)\s*\(",
    ),
    (
        "equals(",
        r"\bequals\s*\(",
        "isNotNull/isTrue/isNotEmpty",
        r"\b(?:isNotNull|isTrue|isNotEmpty)\b",
    ),
];

static LOOSENING: LazyLock<Vec<Loosening>> = LazyLock::new(|| {
    LOOSENING_PATTERNS
        .iter()
        .enumerate()
        .map(
            |(index, (strict_name, strict, loose_name, loose))| Loosening {
                index,
                strict_name,
                strict: compile(strict),
                loose_name,
                loose: compile(loose),
            },
        )
        .collect()
});

struct Profile {
    assertions: Vec<Regex>,
    markers: Vec<(Option<&'static str>, Regex)>,
}

static PROFILES: LazyLock<Vec<(Lang, Profile)>> = LazyLock::new(|| {
    [
        Lang::Js,
        Lang::Python,
        Lang::Rust,
        Lang::Php,
        Lang::Go,
        Lang::Dart,
        Lang::Other,
    ]
    .into_iter()
    .map(|lang| {
        let applies = |l: Lang| lang == Lang::Other || l == lang;
        let profile = Profile {
            assertions: ASSERTIONS
                .iter()
                .filter(|(l, _)| applies(*l))
                .map(|(_, p)| compile(p))
                .collect(),
            markers: MARKERS
                .iter()
                .filter(|(l, _, _)| applies(*l))
                .map(|(_, label, p)| (*label, compile(p)))
                .collect(),
        };
        (lang, profile)
    })
    .collect()
});

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern:?}: {e}"))
}

/// What one version of one test file contains, by count.
struct Counts {
    assertions: usize,
    markers: BTreeMap<String, usize>,
    /// (strict, loose) per [`LOOSENING`] family, in order.
    loosening: Vec<(usize, usize)>,
}

impl Counts {
    fn of(path: &str, text: &str) -> Counts {
        let lang = language(path);
        let profile = PROFILES
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, p)| p)
            .unwrap_or_else(|| &PROFILES[PROFILES.len() - 1].1);
        let assertions = profile
            .assertions
            .iter()
            .map(|re| re.find_iter(text).count())
            .sum();
        let mut markers = BTreeMap::new();
        for (label, re) in &profile.markers {
            for found in re.find_iter(text) {
                let label = match label {
                    Some(fixed) => (*fixed).to_owned(),
                    None => found.as_str().split_whitespace().collect(),
                };
                *markers.entry(label).or_insert(0) += 1;
            }
        }
        let loosening = LOOSENING
            .iter()
            .map(|f| {
                (
                    f.strict.find_iter(text).count(),
                    f.loose.find_iter(text).count(),
                )
            })
            .collect();
        Counts {
            assertions,
            markers,
            loosening,
        }
    }
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

    fn kinds(findings: &[TamperFinding]) -> Vec<&TamperKind> {
        findings.iter().map(|f| &f.kind).collect()
    }

    fn assertions(path: &str, text: &str) -> usize {
        Counts::of(path, text).assertions
    }

    #[test]
    fn default_test_file_conventions() {
        for path in [
            "test/app.js",
            "tests/test_api.py",
            "src/__tests__/a.js",
            "src/a.test.ts",
            "src/a.spec.tsx",
            "test_models.py",
            "app/models_test.py",
            "pkg/server_test.go",
            "tests/Feature/UserTest.php",
            "src/UserTest.php",
            "test.sh",
            "app/tests.py",
            "conftest.py",
            "Tests/Unit/X.php",
            "integration_test/app_test.dart",
            "test/widget_test.dart",
            "./src/b.test.js",
        ] {
            assert!(default_is_test(path), "{path:?} is a test");
        }
        for path in [
            "src/app.js",
            "src/latest.php",
            "Test.php",
            "contest.py",
            "src/testing.js",
            "attest/a.js",
            "src/test",
            "",
            "/",
        ] {
            assert!(!default_is_test(path), "{path:?} is not a test");
        }
    }

    #[test]
    fn counts_assertions_per_language() {
        let js = "test('a', () => {\n  assert.strictEqual(f(), 1);\n  assert(ok);\n  expect(x).toBe(2);\n  t.assert.ok(y);\n});\n";
        assert_eq!(assertions("a.test.js", js), 4);
        let py = "def test_a(self):\n    assert f() == 1\n    self.assertEqual(a, b)\n    self.assertTrue(c)\n    x = 'no assert here'\n";
        assert_eq!(assertions("test_a.py", py), 3);
        let rs = "assert!(a);\nassert_eq!(a, b);\nassert_ne!(a, c);\ndebug_assert!(x);\n";
        assert_eq!(assertions("tests/a.rs", rs), 4);
        let php =
            "$this->assertSame(1, $x);\nself::assertTrue($y);\n$this->expectException(E::class);\n";
        assert_eq!(assertions("tests/ATest.php", php), 3);
        let go = "if got != 1 { t.Errorf(\"got %d\", got) }\nt.Fatal(err)\nrequire.NoError(t, err)\nassert.Equal(t, 1, x)\n";
        assert_eq!(assertions("a_test.go", go), 4);
        let dart =
            "test('a', () {\n  expect(f(), equals(1));\n  await expectLater(s, emits(1));\n});\n";
        assert_eq!(assertions("test/a_test.dart", dart), 2);
        let sh = "assert_eq() { :; }\n[ \"$(curl -s localhost)\" = ok ] || exit 1\n";
        assert_eq!(assertions("test.sh", sh), 0);
    }

    #[test]
    fn unchanged_or_strengthened_tests_are_clean() {
        let before = files(&[("a.test.js", "expect(a).toBe(1);\n"), ("src/a.js", "x")]);
        let after = files(&[
            ("a.test.js", "expect(a).toBe(1);\nexpect(b).toBe(2);\n"),
            ("src/a.js", ""),
        ]);
        assert!(check(&before, &after, default_is_test).is_empty());
        assert!(check(&before, &before, default_is_test).is_empty());
    }

    #[test]
    fn deleted_test_file_is_reported() {
        let before = files(&[("tests/test_a.py", "assert 1\nassert 2\n")]);
        let findings = check(&before, &Files::new(), default_is_test);
        assert_eq!(
            findings,
            vec![TamperFinding {
                path: "tests/test_a.py".into(),
                kind: TamperKind::Deleted,
                message: "test file tests/test_a.py was deleted (it had 2 assertions)".into(),
            }]
        );
    }

    #[test]
    fn fewer_assertions_are_reported() {
        let before = files(&[(
            "src/a.test.ts",
            "it('a', () => {\n  expect(f(1)).toBe(2);\n  expect(f(2)).toBe(4);\n});\n",
        )]);
        let after = files(&[(
            "src/a.test.ts",
            "it('a', () => {\n  expect(f(1)).toBe(2);\n});\n",
        )]);
        let findings = check(&before, &after, default_is_test);
        assert_eq!(
            kinds(&findings),
            vec![&TamperKind::FewerAssertions {
                before: 2,
                after: 1
            }]
        );
        assert_eq!(
            findings[0].message,
            "src/a.test.ts: assertions fell from 2 to 1"
        );
    }

    #[test]
    fn new_skip_markers_are_reported_per_marker() {
        let cases = [
            ("a.test.js", "it('a', f);", "it.skip('a', f);", "it.skip("),
            (
                "a.test.js",
                "test('a', f);",
                "test.skip('a', f);",
                "test.skip(",
            ),
            (
                "a.test.js",
                "describe('a', f);",
                "describe.skip('a', f);",
                "describe.skip(",
            ),
            ("a.test.js", "it('a', f);", "xit('a', f);", "xit("),
            (
                "a.test.js",
                "describe('a', f);",
                "xdescribe('a', f);",
                "xdescribe(",
            ),
            (
                "a.test.js",
                "test('a', f);",
                "test.todo('a');",
                "test.todo(",
            ),
            (
                "a.test.js",
                "test('a', f);",
                "test.only('a', f);",
                "test.only(",
            ),
            (
                "a.test.mjs",
                "test('a', f);",
                "test('a', { skip: true }, f);",
                "{ skip: true }",
            ),
            (
                "test_a.py",
                "def test_a():\n",
                "@pytest.mark.skip\ndef test_a():\n",
                "@pytest.mark.skip",
            ),
            (
                "test_a.py",
                "def test_a():\n",
                "@pytest.mark.skipif(True, reason='x')\ndef test_a():\n",
                "@pytest.mark.skipif",
            ),
            (
                "test_a.py",
                "def test_a(self):\n",
                "@unittest.skip('x')\ndef test_a(self):\n",
                "@unittest.skip",
            ),
            (
                "tests/a.rs",
                "#[test]\nfn a() {}",
                "#[test]\n#[ignore]\nfn a() {}",
                "#[ignore]",
            ),
            (
                "tests/a.rs",
                "#[test]\nfn a() {}",
                "#[test]\n#[ignore = \"slow\"]\nfn a() {}",
                "#[ignore]",
            ),
            (
                "a_test.go",
                "func TestA(t *testing.T) {}",
                "func TestA(t *testing.T) { t.Skip(\"x\") }",
                "t.Skip(",
            ),
            (
                "tests/ATest.php",
                "public function testA() {}",
                "public function testA() { $this->markTestSkipped('x'); }",
                "markTestSkipped(",
            ),
            (
                "test/a_test.dart",
                "test('a', () {});",
                "test('a', () {}, skip: 'flaky');",
                "skip:",
            ),
        ];
        for (path, old, new, marker) in cases {
            let findings = check(
                &files(&[(path, old)]),
                &files(&[(path, new)]),
                default_is_test,
            );
            let skipped: Vec<&str> = findings
                .iter()
                .filter_map(|f| match &f.kind {
                    TamperKind::Skipped { marker } => Some(marker.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(skipped, vec![marker], "{path}: {new:?} -> {findings:?}");
        }
    }

    #[test]
    fn existing_skips_are_not_reported_again() {
        let old = "it.skip('a', f);\nit('b', g);\n";
        let new = "it.skip('a', f);\nit('b', g);\nit('c', h);\n";
        let findings = check(
            &files(&[("a.test.js", old)]),
            &files(&[("a.test.js", new)]),
            default_is_test,
        );
        assert!(findings.is_empty(), "{findings:?}");
        let more = "it.skip('a', f);\nit.skip('b', g);\n";
        let findings = check(
            &files(&[("a.test.js", old)]),
            &files(&[("a.test.js", more)]),
            default_is_test,
        );
        assert_eq!(
            findings[0].message,
            "a.test.js: `it.skip(` went from 1 to 2, so tests that ran before may no longer run"
        );
    }

    #[test]
    fn new_test_files_are_checked_for_skips_only() {
        let after = files(&[("test/new.test.js", "it.skip('later', f);\n")]);
        let findings = check(&Files::new(), &after, default_is_test);
        assert_eq!(
            kinds(&findings),
            vec![&TamperKind::Skipped {
                marker: "it.skip(".into()
            }]
        );
        let clean = files(&[("test/new.test.js", "it('x', () => expect(1).toBe(1));\n")]);
        assert!(check(&Files::new(), &clean, default_is_test).is_empty());
    }

    #[test]
    fn loosened_matchers_are_reported() {
        let cases = [
            (
                "a.test.js",
                "expect(total).toBe(42);\nexpect(user).toEqual({ id: 1 });\n",
                "expect(total).toBeTruthy();\nexpect(user).toBeDefined();\n",
                "toBe/toEqual/toStrictEqual fell from 2 to 0 while toBeTruthy/toBeDefined/toBeGreaterThan(0) rose from 0 to 2",
            ),
            (
                "a.test.js",
                "expect(items.length).toBe(3);\n",
                "expect(items.length).toBeGreaterThan(0);\n",
                "toBe/toEqual/toStrictEqual fell from 1 to 0 while toBeTruthy/toBeDefined/toBeGreaterThan(0) rose from 0 to 1",
            ),
            (
                "test/a.test.mjs",
                "assert.strictEqual(sum(1, 2), 3);\nassert.deepStrictEqual(a, [1]);\n",
                "assert.ok(sum(1, 2));\nassert.ok(a);\n",
                "assert.equal/assert.strictEqual/assert.deepStrictEqual fell from 2 to 0 while assert.ok/assert( rose from 0 to 2",
            ),
            (
                "tests/test_a.py",
                "self.assertEqual(total(), 42)\n",
                "self.assertTrue(total())\n",
                "assertEqual/assertEquals/assertSame fell from 1 to 0 while assertTrue/assertNotNull/assertIsNotNone rose from 0 to 1",
            ),
            (
                "tests/UserTest.php",
                "$this->assertSame(3, $n);\n",
                "$this->assertNotNull($n);\n",
                "assertEqual/assertEquals/assertSame fell from 1 to 0 while assertTrue/assertNotNull/assertIsNotNone rose from 0 to 1",
            ),
            (
                "tests/a.rs",
                "assert_eq!(f(), 3);\n",
                "assert!(f() > 0);\n",
                "assert_eq!/assert_ne! fell from 1 to 0 while assert! rose from 0 to 1",
            ),
        ];
        for (path, old, new, detail) in cases {
            let findings = check(
                &files(&[(path, old)]),
                &files(&[(path, new)]),
                default_is_test,
            );
            let loosened: Vec<&str> = findings
                .iter()
                .filter_map(|f| match &f.kind {
                    TamperKind::Loosened { detail } => Some(detail.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(loosened, vec![detail], "{path}: {findings:?}");
        }
    }

    #[test]
    fn a_refactor_that_keeps_exact_checks_is_not_loosened() {
        let old = "expect(a).toBe(1);\nexpect(b).toBe(2);\n";
        let new = "expect(a).toBe(1);\nexpect(b).toBe(2);\nexpect(c).toBeDefined();\n";
        let findings = check(
            &files(&[("a.test.js", old)]),
            &files(&[("a.test.js", new)]),
            default_is_test,
        );
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn custom_is_test_is_respected() {
        let before = files(&[("spec/a.rb", "assert x")]);
        assert!(check(&before, &Files::new(), default_is_test).is_empty());
        let findings = check(&before, &Files::new(), |p: &str| p.starts_with("spec/"));
        assert_eq!(kinds(&findings), vec![&TamperKind::Deleted]);
    }

    #[test]
    fn findings_serialize_with_a_type_tag() {
        let json = serde_json::to_value(TamperKind::FewerAssertions {
            before: 2,
            after: 1,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "fewer_assertions", "before": 2, "after": 1})
        );
    }

    #[test]
    fn all_built_in_patterns_compile() {
        assert_eq!(PROFILES.len(), 7);
        assert_eq!(LOOSENING.len(), LOOSENING_PATTERNS.len());
    }
}
