//! Keeps secrets out of prompts: known secret values and common token shapes are replaced
//! before any text reaches a model.

use std::sync::LazyLock;

use regex::Regex;

static TOKEN_SHAPES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"\b(AKIA|ASIA)[0-9A-Z]{16}\b",
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
        r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
        r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b",
        r"\bsk-[A-Za-z0-9_-]{20,}\b",
        r"(?i)(postgres(?:ql)?|mysql|mariadb|redis|amqp|nats)://[^:\s/@]+:[^@\s]+@",
    ]
    .into_iter()
    .map(|re| Regex::new(re).expect("valid redaction pattern"))
    .collect()
});

/// Replaces secrets in text bound for a model.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    known: Vec<String>,
}

impl Redactor {
    /// `known` are the deployment's own secret values (API keys, database passwords).
    pub fn new(known: impl IntoIterator<Item = String>) -> Self {
        let mut known: Vec<String> = known.into_iter().filter(|k| k.len() >= 6).collect();
        // Longest first, so a secret containing another is replaced whole.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        Self { known }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for k in &self.known {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), "[redacted]");
            }
        }
        for re in TOKEN_SHAPES.iter() {
            if re.is_match(&out) {
                out = re.replace_all(&out, "[redacted]").into_owned();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_token_shapes_are_redacted() {
        let r = Redactor::new(["hunter2-secret".to_owned(), "short".to_owned()]);
        let text =
            "key=hunter2-secret aws=AKIAABCDEFGHIJKLMNOP db=postgres://kiln:pw@db/kiln short";
        let out = r.redact(text);
        assert!(!out.contains("hunter2-secret"));
        assert!(!out.contains("AKIAABCDEFGHIJKLMNOP"));
        assert!(!out.contains(":pw@"));
        assert!(
            out.contains("short"),
            "values too short to be secrets are left alone"
        );
    }
}
