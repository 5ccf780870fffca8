//! Runs commands that come from generated code: `sh -c` in a workspace, with a cleared
//! environment (an explicit allow-list, never Kiln's own secrets), a wall-clock limit, an
//! output cap, and the whole process group killed afterwards so nothing lingers.
//!
//! This is process hygiene, not isolation: namespaces and resource limits (bubblewrap)
//! wrap this same call in a later release. Callers record which isolation was used.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

/// Variables a command sees besides the ones its spec sets.
const BASE_ENV: &[(&str, &str)] = &[("LANG", "C.UTF-8"), ("CI", "1"), ("NO_COLOR", "1")];

/// One command to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Shell command line, run with `sh -c`.
    pub command: String,
    /// Working directory (the workspace).
    pub dir: PathBuf,
    /// The only variables the command sees besides `PATH`, `HOME` and [`BASE_ENV`].
    pub env: Vec<(String, String)>,
    /// `PATH` for the command; toolchains are looked up here.
    pub path: String,
    /// `HOME` for the command; defaults to the workspace.
    pub home: Option<PathBuf>,
    pub timeout: Duration,
    /// Bytes of output kept (the tail); everything is still streamed line by line.
    pub output_cap: usize,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// Exit code; `None` when killed by a signal or the time limit.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The last `output_cap` bytes of combined stdout and stderr.
    pub output_tail: String,
    /// Whether output was dropped from the front to respect the cap.
    pub truncated: bool,
}

impl CommandResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start `sh -c {command}` in {dir}")]
    Spawn {
        command: String,
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for `{command}`")]
    Wait {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs `spec`, sending each output line to `lines` (when given) as it appears.
pub async fn run(
    spec: &CommandSpec,
    lines: Option<mpsc::Sender<String>>,
) -> Result<CommandResult, Error> {
    let started = Instant::now();
    let mut cmd = Command::new("sh");
    // stderr joins stdout so the tail keeps the interleaving people expect to read.
    cmd.arg("-c")
        .arg(format!("exec 2>&1\n{}", spec.command))
        .current_dir(&spec.dir)
        .env_clear()
        .env("PATH", &spec.path)
        .env("HOME", spec.home.as_ref().unwrap_or(&spec.dir))
        .envs(BASE_ENV.iter().copied())
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        command: spec.command.clone(),
        dir: spec.dir.clone(),
        source,
    })?;
    let pgid = child.id();
    let stdout = child.stdout.take();

    let cap = spec.output_cap.max(1024);
    let reader = async move {
        let mut tail: VecDeque<u8> = VecDeque::new();
        let mut truncated = false;
        if let Some(out) = stdout {
            let mut reader = BufReader::new(out);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        tail.extend(buf.iter().copied());
                        if tail.len() > cap {
                            tail.drain(..tail.len() - cap);
                            truncated = true;
                        }
                        if let Some(tx) = &lines {
                            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                            // A slow reader must not stall the command: drop lines instead.
                            let _ = tx.try_send(line);
                        }
                    }
                }
            }
        }
        (tail, truncated)
    };
    let reader = tokio::spawn(reader);
    let waited = tokio::time::timeout(spec.timeout, child.wait()).await;
    // Whatever the command left running in the background (servers, watchers) goes too;
    // that also closes the pipe they inherited, so the reader reaches its end.
    if let Some(pgid) = pgid {
        kill_group(pgid);
    }
    let _ = child.kill().await;
    let (mut tail, truncated) = match tokio::time::timeout(Duration::from_secs(5), reader).await {
        Ok(Ok(read)) => read,
        _ => (VecDeque::new(), true),
    };
    let result = match waited {
        Ok(status) => {
            let status = status.map_err(|source| Error::Wait {
                command: spec.command.clone(),
                source,
            })?;
            CommandResult {
                exit_code: status.code(),
                timed_out: false,
                duration: started.elapsed(),
                output_tail: String::from_utf8_lossy(tail.make_contiguous()).into_owned(),
                truncated,
            }
        }
        Err(_) => {
            let mut out = String::from_utf8_lossy(tail.make_contiguous()).into_owned();
            out.push_str(&format!(
                "\nkilled after the {:?} time limit\n",
                spec.timeout
            ));
            CommandResult {
                exit_code: None,
                timed_out: true,
                duration: started.elapsed(),
                output_tail: out,
                truncated,
            }
        }
    };
    Ok(result)
}

#[allow(unsafe_code)]
fn kill_group(pgid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created for this
    // command (process_group(0) made its leader's pid the group id); it touches no memory.
    unsafe {
        libc::kill(-(pgid as i32), libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &std::path::Path, command: &str) -> CommandSpec {
        CommandSpec {
            command: command.into(),
            dir: dir.to_path_buf(),
            env: vec![("KILN_BUILD_SHA".into(), "abc".into())],
            path: std::env::var("PATH").unwrap_or_default(),
            home: None,
            timeout: Duration::from_secs(20),
            output_cap: 4096,
        }
    }

    #[tokio::test]
    async fn reports_exit_codes_and_streams_lines_with_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = mpsc::channel(100);
        let r = run(
            &spec(dir.path(), "echo one; echo two >&2; exit 3"),
            Some(tx),
        )
        .await
        .unwrap();
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.success());
        assert_eq!(r.output_tail, "one\ntwo\n");
        assert_eq!(rx.recv().await.as_deref(), Some("one"));
        assert_eq!(rx.recv().await.as_deref(), Some("two"));
    }

    #[tokio::test]
    async fn sees_only_the_allowed_environment() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(
            &spec(dir.path(), "env | cut -d= -f1 | sort | tr '\\n' ' '"),
            None,
        )
        .await
        .unwrap();
        assert!(r.success(), "{r:?}");
        let mut names: Vec<&str> = r.output_tail.split_whitespace().collect();
        names.retain(|n| *n != "PWD" && *n != "SHLVL" && *n != "_" && *n != "OLDPWD");
        assert_eq!(
            names,
            ["CI", "HOME", "KILN_BUILD_SHA", "LANG", "NO_COLOR", "PATH"]
        );
    }

    #[tokio::test]
    async fn kills_commands_that_outlive_the_limit_with_their_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let mut s = spec(
            dir.path(),
            &format!("(sleep 3; touch {}) & sleep 30", marker.display()),
        );
        s.timeout = Duration::from_millis(500);
        let r = run(&s, None).await.unwrap();
        assert!(r.timed_out);
        assert_eq!(r.exit_code, None);
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(
            !marker.exists(),
            "a background child survived the time limit"
        );
    }

    #[tokio::test]
    async fn background_processes_die_when_the_command_ends() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let r = run(
            &spec(
                dir.path(),
                &format!("(sleep 2; touch {}) & echo started", marker.display()),
            ),
            None,
        )
        .await
        .unwrap();
        assert!(r.success());
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!marker.exists(), "a background child outlived its command");
    }

    #[tokio::test]
    async fn keeps_only_the_tail_of_large_output() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(&spec(dir.path(), "seq 1 100000"), None).await.unwrap();
        assert!(r.success());
        assert!(r.truncated);
        assert!(r.output_tail.len() <= 4096);
        assert!(r.output_tail.ends_with("99999\n100000\n"));
    }
}
