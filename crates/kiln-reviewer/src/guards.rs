//! Guards no model can talk its way past: a change that deletes or weakens existing tests
//! (unless a story asks for it), and a revision that destroys more of the codebase than
//! configured. Both are critical findings, which the gate turns into hard blocks.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use kiln_changes::tamper::{self, TamperKind};
use kiln_store::records::{Finding, Story};
use regex::Regex;

use crate::Config;

static ASKS_FOR_TEST_CHANGES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(remove|delete|drop|skip|disable|rewrite|replace|relax|loosen)\b[^.]{0,40}\btests?\b")
        .expect("valid pattern")
});

/// Whether the stories themselves ask for tests to be removed or relaxed.
pub fn stories_allow_test_changes(stories: &[Story]) -> bool {
    stories.iter().any(|s| {
        ASKS_FOR_TEST_CHANGES.is_match(&s.title) || ASKS_FOR_TEST_CHANGES.is_match(&s.description)
    })
}

/// Test-tamper guard between the baseline and the change.
pub fn tamper(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    stories: &[Story],
) -> Vec<Finding> {
    let allowed = stories_allow_test_changes(stories);
    tamper::check(before, after, tamper::default_is_test)
        .into_iter()
        .map(|t| {
            let what = match &t.kind {
                TamperKind::Deleted => "an existing test file was deleted".to_owned(),
                TamperKind::FewerAssertions { before, after } => {
                    format!("assertions fell from {before} to {after}")
                }
                TamperKind::Skipped { marker } => format!("tests were skipped ({marker})"),
                TamperKind::Loosened { detail } => format!("expectations were loosened ({detail})"),
            };
            Finding {
                rule: "tests_tampered".into(),
                severity: if allowed { "info" } else { "critical" }.into(),
                file: Some(t.path.clone()),
                line: None,
                message: if allowed {
                    format!("{what}; a story asks for test changes, so this is allowed")
                } else {
                    format!(
                        "{what}: changes must not weaken existing tests unless a story asks for it"
                    )
                },
            }
        })
        .collect()
}

/// Revision safety gate: blocks destructive shrinkage, with the numbers.
pub fn shrink(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    config: &Config,
) -> Option<Finding> {
    let limits = kiln_changes::shrink::ShrinkLimits {
        max_shrink_ratio: config.max_shrink_ratio,
        max_deleted_files: config.max_deleted_files,
        max_deleted_ratio: config.max_deleted_ratio,
    };
    kiln_changes::shrink::check(before, after, limits).map(|v| Finding {
        rule: "destructive_revision".into(),
        severity: "critical".into(),
        file: None,
        line: None,
        message: v.message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn story(title: &str) -> Story {
        Story {
            title: title.into(),
            description: String::new(),
            acceptance: vec![],
        }
    }

    #[test]
    fn only_stories_that_ask_for_it_allow_test_changes() {
        assert!(stories_allow_test_changes(&[story(
            "Remove the flaky login test"
        )]));
        assert!(!stories_allow_test_changes(&[story(
            "Add a dark mode toggle"
        )]));
        let before = BTreeMap::from([(
            "test/app.test.js".to_owned(),
            "assert.equal(a, 1);\nassert.equal(b, 2);\n".to_owned(),
        )]);
        let after = BTreeMap::from([(
            "test/app.test.js".to_owned(),
            "assert.equal(a, 1);\n".to_owned(),
        )]);
        let blocked = tamper(&before, &after, &[story("Add a menu")]);
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].severity, "critical");
        assert!(
            blocked[0].message.contains("assertions fell from 2 to 1"),
            "{}",
            blocked[0].message
        );
        let allowed = tamper(&before, &after, &[story("Remove the obsolete total test")]);
        assert_eq!(allowed[0].severity, "info");
    }
}
