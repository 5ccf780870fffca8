//! Pushing to and fetching from a remote git host over https with a token.
//!
//! The token travels only as an `Authorization` header in git's environment, so it is in no
//! URL, command line, config file, reflog or error message. Kiln pushes only `kiln/...`
//! branches: [`Git::push_task_branch`] refuses any other destination, so no bug elsewhere can
//! push to a default branch.

use std::path::Path;

use base64::Engine as _;

use crate::git::Invocation;
use crate::{Error, Git};

/// Credentials for an http(s) remote: HTTP basic auth as GitHub takes installation tokens
/// (`x-access-token:<token>`). `Debug` never shows them.
#[derive(Clone)]
pub struct HttpAuth {
    header: String,
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpAuth([redacted])")
    }
}

impl HttpAuth {
    /// Basic auth with `user` and `password` (a token).
    pub fn basic(user: &str, password: &str) -> Self {
        Self {
            header: format!(
                "Authorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            ),
        }
    }

    pub(crate) fn header(&self) -> &str {
        &self.header
    }
}

/// Only these transports, whatever a remote redirects to.
const REMOTE_PROTOCOLS: &[&str] = &[
    "protocol.allow=never",
    "protocol.https.allow=always",
    "protocol.http.allow=always",
];

fn check_remote_url(url: &str) -> Result<(), Error> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
        && !url.contains('@');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRemote(crate::redact(url)))
    }
}

impl Git {
    /// Pushes `commit` of the bare repository `bare` to `refs/heads/<branch>` of `url`,
    /// replacing what is there (a task branch belongs to its task). `branch` must start with
    /// `kiln/`.
    pub async fn push_task_branch(
        &self,
        bare: &Path,
        url: &str,
        auth: &HttpAuth,
        commit: &str,
        branch: &str,
    ) -> Result<(), Error> {
        check_remote_url(url)?;
        crate::check_branch_name(branch)?;
        if !branch.starts_with("kiln/") {
            return Err(Error::RefusedPush(branch.to_owned()));
        }
        let refspec = format!("+{commit}:refs/heads/{branch}");
        let mut inv = Invocation::bare(bare);
        for p in REMOTE_PROTOCOLS {
            inv = inv.arg("-c").arg(p);
        }
        let inv = inv
            .args(["push", "--no-verify", "--quiet", "--", url, &refspec])
            .auth(Some(auth.header()));
        self.run(&inv).await.map(|_| ())
    }

    /// Fetches `branch` of `url` into `refs/heads/<local>` of `bare` (moving it wherever the
    /// remote has it: the local branch mirrors the remote one) and returns its head.
    pub async fn fetch_branch(
        &self,
        bare: &Path,
        url: &str,
        auth: &HttpAuth,
        branch: &str,
        local: &str,
    ) -> Result<String, Error> {
        check_remote_url(url)?;
        crate::check_branch_name(branch)?;
        crate::check_branch_name(local)?;
        let refspec = format!("+refs/heads/{branch}:refs/heads/{local}");
        let mut inv = Invocation::bare(bare);
        for p in REMOTE_PROTOCOLS {
            inv = inv.arg("-c").arg(p);
        }
        let inv = inv
            .args(["fetch", "--no-tags", "--quiet", "--", url, &refspec])
            .auth(Some(auth.header()));
        self.run(&inv).await?;
        self.branch_head(bare, local)
            .await?
            .ok_or_else(|| Error::UnexpectedOutput {
                args: format!("fetch {branch}"),
                detail: "the fetched branch is missing".into(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_is_rfc4648_base64_and_never_shown() {
        let auth = HttpAuth::basic("x-access-token", "ghs_abc");
        assert_eq!(
            auth.header(),
            "Authorization: Basic eC1hY2Nlc3MtdG9rZW46Z2hzX2FiYw=="
        );
        assert_eq!(format!("{auth:?}"), "HttpAuth([redacted])");
    }

    #[test]
    fn only_plain_http_urls_are_remotes() {
        assert!(check_remote_url("https://github.com/a/b.git").is_ok());
        for bad in [
            "ssh://git@github.com/a/b.git",
            "file:///tmp/x",
            "https://user:tok@github.com/a/b.git",
            "https://github.com/a b.git",
            "ext::sh -c x",
        ] {
            assert!(check_remote_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn only_task_branches_are_pushed() {
        let dir = tempfile::tempdir().unwrap();
        let git = Git::new();
        let auth = HttpAuth::basic("x", "y");
        for branch in ["main", "refs/heads/main", "feature/x"] {
            let err = git
                .push_task_branch(dir.path(), "https://h/a/b.git", &auth, "abc", branch)
                .await
                .unwrap_err();
            assert!(
                matches!(err, Error::RefusedPush(_) | Error::InvalidInput { .. }),
                "{branch}: {err}"
            );
        }
    }
}
