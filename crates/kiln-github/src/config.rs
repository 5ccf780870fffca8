//! `[github]`: how Kiln authenticates to GitHub.

use std::path::PathBuf;

use kiln_runtime::config::Secret;
use serde::{Deserialize, Serialize};

/// The `[github]` section. GitHub is off unless an App (`app_id` and a private key) or, as
/// the documented fallback, a personal access token is configured.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// REST API root: `https://api.github.com`, or `https://<host>/api/v3` for GitHub
    /// Enterprise Server.
    pub api_url: String,
    /// The GitHub App's id.
    pub app_id: Option<u64>,
    /// The App's private key (PEM) in a file readable only by Kiln.
    pub private_key_file: Option<PathBuf>,
    /// The App's private key (PEM) itself, e.g. from `KILN_GITHUB__PRIVATE_KEY`.
    pub private_key: Option<Secret>,
    /// A personal access token, used only when no App is configured. It acts with its
    /// owner's rights everywhere; an App is limited to the repositories it is installed on.
    pub token: Option<Secret>,
    /// The secret GitHub signs webhook deliveries with; without it every delivery to
    /// `/api/v1/webhooks/github` is refused.
    pub webhook_secret: Option<Secret>,
    /// The issue label that hands an issue to Kiln.
    pub label: String,
    /// Where people open the dashboard; pull requests link to `<dashboard_url>/tasks/<id>`.
    pub dashboard_url: Option<String>,
    /// Seconds one API request may take.
    pub timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".to_owned(),
            app_id: None,
            private_key_file: None,
            private_key: None,
            token: None,
            webhook_secret: None,
            label: "kiln".to_owned(),
            dashboard_url: None,
            timeout_secs: 30,
        }
    }
}

impl Config {
    /// Whether any credentials are configured.
    pub fn enabled(&self) -> bool {
        self.app_id.is_some() || self.token.is_some()
    }

    /// Checks that the settings fit together; the message names the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.api_url.trim().is_empty() {
            return Err("[github] api_url is empty".into());
        }
        let url = self.api_url.trim_end_matches('/');
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!(
                "[github] api_url `{}` is not an http(s) URL",
                self.api_url
            ));
        }
        let key = self.private_key_file.is_some() || self.private_key.is_some();
        match self.app_id {
            Some(_) if !key => Err(
                "[github] app_id is set but no private key: set private_key_file or private_key"
                    .into(),
            ),
            Some(_) if self.private_key_file.is_some() && self.private_key.is_some() => {
                Err("[github] set one of private_key_file and private_key, not both".into())
            }
            None if key => Err("[github] a private key is set but no app_id".into()),
            _ if self.timeout_secs == 0 => Err("[github] timeout_secs must be at least 1".into()),
            _ => Ok(()),
        }
    }

    /// The link to a task in the dashboard, when `dashboard_url` is set.
    pub fn task_url(&self, task: &str) -> Option<String> {
        self.dashboard_url
            .as_deref()
            .map(|u| format!("{}/tasks/{task}", u.trim_end_matches('/')))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_must_fit_together() {
        assert!(!Config::default().enabled());
        assert_eq!(Config::default().validate(), Ok(()));
        let app = Config {
            app_id: Some(1),
            ..Config::default()
        };
        assert!(app.validate().unwrap_err().contains("no private key"));
        let both = Config {
            app_id: Some(1),
            private_key_file: Some("k.pem".into()),
            private_key: Some(Secret::new("pem")),
            ..Config::default()
        };
        assert!(both.validate().unwrap_err().contains("not both"));
        let orphan = Config {
            private_key: Some(Secret::new("pem")),
            ..Config::default()
        };
        assert!(orphan.validate().unwrap_err().contains("no app_id"));
        let url = Config {
            api_url: "ftp://x".into(),
            ..Config::default()
        };
        assert!(url.validate().unwrap_err().contains("api_url"));
        let pat = Config {
            token: Some(Secret::new("ghp_x")),
            dashboard_url: Some("https://kiln.example/".into()),
            ..Config::default()
        };
        assert!(pat.enabled());
        assert_eq!(pat.validate(), Ok(()));
        assert_eq!(
            pat.task_url("t1").as_deref(),
            Some("https://kiln.example/tasks/t1")
        );
    }
}
