//! Deterministic review checks: tests present, no secret-like strings, a sane diff size.
//! Pure functions over the change, so they are tested without I/O.

use std::sync::LazyLock;

use kiln_store::records::Finding;
use regex::Regex;

/// A line added by the change, with its place in the new file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedLine {
    pub file: String,
    pub line: i32,
    pub text: String,
}

/// Added lines of a unified diff, with new-file line numbers.
pub fn added_lines(diff: &str) -> Vec<AddedLine> {
    let mut out = Vec::new();
    let mut file = String::new();
    let mut line = 0i32;
    for l in diff.lines() {
        if let Some(path) = l.strip_prefix("+++ ") {
            file = path.strip_prefix("b/").unwrap_or(path).to_owned();
        } else if l.starts_with("@@") {
            // @@ -a,b +c,d @@
            line = l
                .split_whitespace()
                .find_map(|p| p.strip_prefix('+'))
                .and_then(|p| p.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
        } else if let Some(text) = l.strip_prefix('+') {
            out.push(AddedLine {
                file: file.clone(),
                line,
                text: text.to_owned(),
            });
            line += 1;
        } else if !l.starts_with('-') && !l.starts_with('\\') {
            line += 1;
        }
    }
    out
}

static SECRET_PATTERNS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("aws access key id", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("private key", r"-----BEGIN (RSA |EC |DSA |OPENSSH |PGP )?PRIVATE KEY( BLOCK)?-----"),
        ("github token", r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
        ("slack token", r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),
        ("openai-style api key", r"\bsk-[A-Za-z0-9_-]{20,}\b"),
        (
            "hard-coded credential",
            r#"(?i)\b(api[_-]?key|secret|passwd|password|token|auth[_-]?token)\b\s*[:=]\s*["'][^"'\s]{8,}["']"#,
        ),
    ]
    .into_iter()
    .map(|(name, re)| (name, Regex::new(re).expect("valid secret pattern")))
    .collect()
});

/// Findings for secret-like strings in added lines. The matched value is never repeated.
pub fn secrets(added: &[AddedLine]) -> Vec<Finding> {
    let mut out = Vec::new();
    for a in added {
        for (name, re) in SECRET_PATTERNS.iter() {
            if re.is_match(&a.text) {
                out.push(Finding {
                    rule: "secret".into(),
                    severity: "critical".into(),
                    file: Some(a.file.clone()),
                    line: Some(a.line),
                    message: format!("looks like a {name}; secrets belong in the deployment's environment, not the repository"),
                });
                break;
            }
        }
    }
    out
}

/// Whether `path` is a test file by common conventions across stacks.
pub fn is_test_path(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    lower.starts_with("test/")
        || lower.starts_with("tests/")
        || lower.contains("/test/")
        || lower.contains("/tests/")
        || lower.contains("__tests__/")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.starts_with("test_")
        || name.ends_with("_test.go")
        || name.ends_with("_test.py")
        || name == "test.sh"
}

/// A finding when the project has no tests at all.
pub fn tests_present(files: &[String]) -> Option<Finding> {
    (!files.iter().any(|f| is_test_path(f))).then(|| Finding {
        rule: "tests_present".into(),
        severity: "high".into(),
        file: None,
        line: None,
        message: "the project has no test files; nothing shows the app does what the stories ask"
            .into(),
    })
}

/// A finding when the change is larger than a person can review.
pub fn diff_size(insertions: u64, deletions: u64, limit: u64) -> Option<Finding> {
    let total = insertions + deletions;
    (total > limit).then(|| Finding {
        rule: "diff_size".into(),
        severity: "medium".into(),
        file: None,
        line: None,
        message: format!("the change touches {total} lines (+{insertions} -{deletions}), over the {limit}-line review limit"),
    })
}

/// `block` on any critical finding, `concerns` on any other, else `pass`.
pub fn verdict(findings: &[Finding]) -> &'static str {
    if findings.iter().any(|f| f.severity == "critical") {
        "block"
    } else if findings.iter().any(|f| f.severity != "info") {
        "concerns"
    } else {
        "pass"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "diff --git a/app.js b/app.js\n--- a/app.js\n+++ b/app.js\n@@ -1,2 +1,3 @@\n const a = 1;\n-const b = 2;\n+const b = 3;\n+const key = \"AKIAABCDEFGHIJKLMNOP\";\n";

    #[test]
    fn added_lines_carry_new_file_line_numbers() {
        let added = added_lines(DIFF);
        assert_eq!(added.len(), 2);
        assert_eq!((added[0].file.as_str(), added[0].line), ("app.js", 2));
        assert_eq!(added[1].line, 3);
    }

    #[test]
    fn secrets_are_found_with_their_place_but_not_repeated() {
        let findings = secrets(&added_lines(DIFF));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].file.as_deref(), Some("app.js"));
        assert_eq!(findings[0].line, Some(3));
        assert!(!findings[0].message.contains("AKIA"));
        assert_eq!(verdict(&findings), "block");
    }

    #[test]
    fn each_secret_pattern_fires_and_ordinary_code_does_not() {
        let hits = [
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "token: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "const apiKey = 'x' ; api_key = \"s3cr3tvalue\"",
            "OPENAI=sk-abcdefghijklmnopqrstuvwx",
            "xoxb-1234567890-abcdef",
        ];
        for h in hits {
            let line = AddedLine {
                file: "f".into(),
                line: 1,
                text: h.into(),
            };
            assert_eq!(secrets(&[line]).len(), 1, "{h}");
        }
        let clean = [
            "const password = req.body.password;",
            "token = getToken()",
            "<input type=\"password\" name=\"password\">",
            "const pk = process.env.API_KEY;",
        ];
        for c in clean {
            let line = AddedLine {
                file: "f".into(),
                line: 1,
                text: c.into(),
            };
            assert!(secrets(&[line]).is_empty(), "{c}");
        }
    }

    #[test]
    fn test_files_are_recognised_across_stacks() {
        for p in [
            "test/app.test.js",
            "tests/test_api.py",
            "src/__tests__/x.tsx",
            "pkg/x_test.go",
            "test.sh",
            "web/a.spec.ts",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in ["src/app.js", "testing.md", "contest.js"] {
            assert!(!is_test_path(p), "{p}");
        }
        assert!(tests_present(&["app.js".into()]).is_some());
        assert!(tests_present(&["app.js".into(), "test/a.test.js".into()]).is_none());
    }

    #[test]
    fn large_diffs_raise_concerns_not_blocks() {
        let f = diff_size(4000, 1500, 5000).expect("over the limit");
        assert_eq!(verdict(&[f]), "concerns");
        assert!(diff_size(10, 10, 5000).is_none());
        assert_eq!(verdict(&[]), "pass");
    }
}
