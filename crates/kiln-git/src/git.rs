//! The one place a git process is started, so the hardening (no hooks, no user or system
//! config, no prompts, fixed identity, scrubbed environment) cannot be forgotten by any
//! single operation.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::Error;

/// HOME for git: it must not find a user's `~/.gitconfig`, credentials or templates, and a
/// path that cannot exist is the simplest way to guarantee that on every host.
const NEUTRAL_HOME: &str = "/nonexistent";

/// Used when the service itself runs without PATH, so `git` and `/bin/sh` helpers resolve.
const FALLBACK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How much of git's stderr an [`Error::Command`] keeps; the reason is at the end.
const STDERR_TAIL_BYTES: usize = 2048;

/// Configuration forced on every invocation. Command-line `-c` is "protected" config, so
/// it also wins over anything a repository's own `config` file says.
const HARDENING: &[&str] = &[
    "core.hooksPath=/dev/null",
    // A repository config could name an fsmonitor program that git would execute.
    "core.fsmonitor=false",
    "protocol.file.allow=always",
    "init.defaultBranch=main",
    "commit.gpgsign=false",
    "tag.gpgsign=false",
    "safe.directory=*",
    "advice.detachedHead=false",
];

/// The author and committer recorded on commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    name: String,
    email: String,
}

impl Identity {
    /// An identity to override Kiln's default on one commit.
    ///
    /// Refuses `<`, `>` and control characters, which git would silently strip and thereby
    /// record something other than what was asked for.
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Result<Self, Error> {
        let (name, email) = (name.into(), email.into());
        for (kind, value) in [("identity name", &name), ("identity email", &email)] {
            if value.trim().is_empty() {
                return Err(Error::invalid(kind, value, "must not be empty"));
            }
            if value
                .chars()
                .any(|c| c.is_control() || c == '<' || c == '>')
            {
                return Err(Error::invalid(
                    kind,
                    value,
                    "must not contain `<`, `>` or control characters",
                ));
            }
        }
        Ok(Identity { name, email })
    }

    /// `Kiln <kiln@localhost>`, used for every commit unless overridden.
    pub fn kiln() -> Self {
        Identity {
            name: "Kiln".to_owned(),
            email: "kiln@localhost".to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn email(&self) -> &str {
        &self.email
    }
}

impl Default for Identity {
    fn default() -> Self {
        Identity::kiln()
    }
}

/// Handle on a git binary. Cheap to clone; holds no repository state.
#[derive(Debug, Clone)]
pub struct Git {
    binary: PathBuf,
    search_path: OsString,
}

impl Default for Git {
    fn default() -> Self {
        Git::new()
    }
}

impl Git {
    /// Uses `git` found on PATH.
    pub fn new() -> Self {
        Git::with_binary("git")
    }

    /// Uses a specific git binary (a bare name is looked up on PATH).
    pub fn with_binary(binary: impl Into<PathBuf>) -> Self {
        // PATH is inherited (it is not Kiln configuration) because git needs it to find
        // /bin/sh for the transport helpers; everything else in the environment is dropped.
        let search_path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from(FALLBACK_PATH));
        Git {
            binary: binary.into(),
            search_path,
        }
    }

    /// The binary this handle runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// A shell command line for `git <service>` on the far side of a local transport.
    ///
    /// git strips `GIT_CONFIG_PARAMETERS` (our `-c` options) from the environment of the
    /// `upload-pack`/`receive-pack` child it spawns for a local clone or push, so without
    /// this the origin's `pre-receive`/`post-receive` hooks would run.
    pub(crate) fn transport_helper(&self, service: &str) -> OsString {
        let mut line = shell_quote(self.binary.as_os_str());
        for setting in ["core.hooksPath=/dev/null", "safe.directory=*"] {
            line.push(" -c ");
            line.push(shell_quote(OsStr::new(setting)));
        }
        line.push(" ");
        line.push(service);
        line
    }

    fn command(&self, inv: &Invocation<'_>) -> Command {
        let identity = inv.identity.cloned().unwrap_or_default();
        let mut cmd = Command::new(&self.binary);
        cmd.env_clear()
            .env("PATH", &self.search_path)
            .env("HOME", NEUTRAL_HOME)
            .env("LANG", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", identity.name())
            .env("GIT_AUTHOR_EMAIL", identity.email())
            .env("GIT_COMMITTER_NAME", identity.name())
            .env("GIT_COMMITTER_EMAIL", identity.email());
        for setting in HARDENING {
            cmd.arg("-c").arg(setting);
        }
        if let Some(header) = inv.auth {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env("GIT_CONFIG_VALUE_0", header);
        }
        match inv.location {
            // An explicit --git-dir disables repository discovery: a missing or wrong path
            // fails instead of silently operating on some enclosing repository.
            Location::None => {}
            Location::Bare(dir) => {
                cmd.arg(prefixed("--git-dir=", dir));
            }
            Location::Worktree(dir) => {
                cmd.arg("-C")
                    .arg(dir)
                    .arg("--git-dir=.git")
                    .arg("--work-tree=.");
            }
        }
        cmd.args(&inv.args)
            .stdin(if inv.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A caller that drops the future (timeout, shutdown) must not leave git running.
            .kill_on_drop(true);
        cmd
    }

    fn spawn(&self, inv: &Invocation<'_>) -> Result<tokio::process::Child, Error> {
        tracing::debug!(git = %inv.describe(), "running git");
        self.command(inv).spawn().map_err(|source| Error::Spawn {
            program: self.binary.display().to_string(),
            source,
        })
    }

    /// Runs git and returns its output whatever the exit status, for commands whose status
    /// carries an answer (`rev-parse --verify`, `diff --quiet`).
    pub(crate) async fn output(&self, inv: &Invocation<'_>) -> Result<Output, Error> {
        let started = Instant::now();
        let mut child = self.spawn(inv)?;
        let stdin = child.stdin.take();
        let feed = async {
            if let (Some(mut pipe), Some(data)) = (stdin, inv.stdin.as_deref()) {
                // A git that exits early closes the pipe; its exit status explains why,
                // so the write error itself carries nothing worth reporting.
                let _ = pipe.write_all(data).await;
            }
        };
        // stdout and stderr are drained concurrently by wait_with_output, so a large
        // output cannot fill one pipe while we wait on the other.
        let ((), output) = tokio::join!(feed, child.wait_with_output());
        let output = output.map_err(|source| Error::Spawn {
            program: self.binary.display().to_string(),
            source,
        })?;
        tracing::debug!(
            git = %inv.describe(),
            status = exit_code(output.status),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "git finished"
        );
        Ok(output)
    }

    /// Runs git, requires success, returns stdout.
    pub(crate) async fn run(&self, inv: &Invocation<'_>) -> Result<Vec<u8>, Error> {
        let output = self.output(inv).await?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(inv.failed(output.status, &output.stderr))
        }
    }

    /// Runs git, requires success, returns at most `limit` bytes of stdout and whether more
    /// was available. Once the limit is passed git is killed instead of read to the end,
    /// so a huge diff costs neither memory nor time.
    pub(crate) async fn run_capped(
        &self,
        inv: &Invocation<'_>,
        limit: usize,
    ) -> Result<(Vec<u8>, bool), Error> {
        let mut child = self.spawn(inv)?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(inv.unexpected("stdout or stderr was not captured"));
        };
        let read_stdout = async {
            let mut buf = Vec::new();
            let read = stdout
                .take(limit as u64 + 1)
                .read_to_end(&mut buf)
                .await
                .map(|_| ());
            let truncated = buf.len() > limit;
            if truncated {
                buf.truncate(limit);
                // Killing fails only if git already exited, which is what we want anyway.
                let _ = child.start_kill();
            }
            let status = child.wait().await;
            (read, buf, truncated, status)
        };
        let read_stderr = async {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf).await;
            buf
        };
        let ((read, stdout, truncated, status), stderr) = tokio::join!(read_stdout, read_stderr);
        let spawn_error = |source| Error::Spawn {
            program: self.binary.display().to_string(),
            source,
        };
        let status = status.map_err(spawn_error)?;
        if truncated {
            return Ok((stdout, true));
        }
        read.map_err(spawn_error)?;
        if status.success() {
            Ok((stdout, false))
        } else {
            Err(inv.failed(status, &stderr))
        }
    }
}

/// Where a git command operates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Location<'a> {
    /// Outside any repository (`init`, `clone`).
    None,
    /// A bare repository.
    Bare(&'a Path),
    /// A working tree with `.git` directly inside it.
    Worktree(&'a Path),
}

/// One git command line plus what it needs; built by the operations, run by [`Git`].
#[derive(Debug)]
pub(crate) struct Invocation<'a> {
    location: Location<'a>,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
    identity: Option<&'a Identity>,
    /// An `Authorization` header for http(s) remotes, given to git through its environment
    /// (never the command line, which other processes can read, nor any config file).
    auth: Option<&'a str>,
}

impl<'a> Invocation<'a> {
    pub(crate) fn new(location: Location<'a>) -> Self {
        Invocation {
            location,
            args: Vec::new(),
            stdin: None,
            identity: None,
            auth: None,
        }
    }

    pub(crate) fn bare(dir: &'a Path) -> Self {
        Invocation::new(Location::Bare(dir))
    }

    /// Outside any repository (clone, ls-remote).
    pub(crate) fn none() -> Self {
        Invocation::new(Location::None)
    }

    pub(crate) fn worktree(dir: &'a Path) -> Self {
        Invocation::new(Location::Worktree(dir))
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn stdin(mut self, data: Vec<u8>) -> Self {
        self.stdin = Some(data);
        self
    }

    pub(crate) fn identity(mut self, identity: &'a Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Sends `header` (`Authorization: ...`) with every http(s) request of this command.
    pub(crate) fn auth(mut self, header: Option<&'a str>) -> Self {
        self.auth = header;
        self
    }

    /// The command line as shown in logs and errors; the fixed hardening options are left
    /// out because they are the same on every call and would bury the interesting part.
    pub(crate) fn describe(&self) -> String {
        let mut parts = Vec::with_capacity(self.args.len() + 2);
        match self.location {
            Location::None => {}
            Location::Bare(dir) => parts.push(format!("--git-dir={}", dir.display())),
            Location::Worktree(dir) => parts.push(format!("-C {}", dir.display())),
        }
        parts.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        parts.join(" ")
    }

    pub(crate) fn failed(&self, status: ExitStatus, stderr: &[u8]) -> Error {
        Error::Command {
            args: self.describe(),
            status: exit_code(status),
            stderr: stderr_tail(stderr),
        }
    }

    pub(crate) fn unexpected(&self, detail: impl Into<String>) -> Error {
        Error::UnexpectedOutput {
            args: self.describe(),
            detail: detail.into(),
        }
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

/// The last [`STDERR_TAIL_BYTES`] of stderr, cut on a character boundary.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.len() <= STDERR_TAIL_BYTES {
        return text.to_owned();
    }
    let mut start = text.len() - STDERR_TAIL_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

fn prefixed(prefix: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(path.as_os_str());
    arg
}

/// POSIX single-quoting: everything literal, `'` written as `'\''`.
fn shell_quote(value: &OsStr) -> OsString {
    let mut quoted = Vec::with_capacity(value.len() + 2);
    quoted.push(b'\'');
    for &byte in value.as_bytes() {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    OsString::from_vec(quoted)
}

/// Trims one trailing newline and converts to UTF-8, for single-value outputs like shas.
pub(crate) fn single_line(inv: &Invocation<'_>, stdout: &[u8]) -> Result<String, Error> {
    let text = std::str::from_utf8(stdout)
        .map_err(|_| inv.unexpected("output is not UTF-8"))?
        .trim_end_matches('\n');
    if text.is_empty() || text.contains('\n') {
        return Err(inv.unexpected(format!("expected one line, got {text:?}")));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_keeps_the_end() {
        let long = format!("{}THE REASON", "x".repeat(5000));
        let tail = stderr_tail(long.as_bytes());
        assert!(tail.ends_with("THE REASON"));
        assert!(tail.len() <= STDERR_TAIL_BYTES + 3);
        assert_eq!(stderr_tail(b"  short\n"), "short");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(
            shell_quote(OsStr::new("/opt/it's git")),
            OsString::from(r"'/opt/it'\''s git'")
        );
    }

    #[test]
    fn identities_reject_injection() {
        assert!(Identity::new("Bot", "bot@example.com").is_ok());
        assert!(Identity::new("Bot <x@y>", "bot@example.com").is_err());
        assert!(Identity::new("Bot", "a\nb").is_err());
        assert!(Identity::new(" ", "a@b").is_err());
    }
}
