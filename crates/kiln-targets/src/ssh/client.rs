//! Running scripts on a host through the system OpenSSH client, and turning its failures into
//! errors that say what is wrong (host down, key refused, host key unknown) rather than "exit 255".

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use super::SshConfig;
use super::remote::q;
use crate::Error;

/// Error output kept in errors; enough for nginx or tar to explain themselves.
const OUTPUT_LIMIT: usize = 4000;

#[derive(Debug)]
pub(crate) struct Ssh {
    program: PathBuf,
    host: String,
    port: u16,
    destination: String,
    identity: PathBuf,
    known_hosts: PathBuf,
    connect_timeout: Duration,
    command_timeout: Duration,
}

/// A finished remote command.
#[derive(Debug)]
pub(crate) struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ssh {
    pub(crate) fn new(config: &SshConfig) -> Self {
        Ssh {
            program: config.ssh_program.clone(),
            host: config.host.clone(),
            port: config.port,
            destination: format!("{}@{}:{}", config.user, config.host, config.port),
            identity: config.identity_file.clone(),
            known_hosts: config.known_hosts_file.clone(),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs.max(1)),
            command_timeout: Duration::from_secs(config.command_timeout_secs.max(1)),
        }
    }

    /// `user@host:port`, as errors name the host.
    pub(crate) fn destination(&self) -> &str {
        &self.destination
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The ssh invocation. Everything that matters is explicit and `-F /dev/null` ignores the
    /// deployer user's ssh config and agent, so what is tested is what runs: only the configured
    /// key is offered and only the configured known_hosts is trusted.
    fn command(&self, script: &str) -> Command {
        let user_host = self
            .destination
            .rsplit_once(':')
            .map_or(self.destination.as_str(), |(user_host, _)| user_host);
        let mut command = Command::new(&self.program);
        command
            .args(["-F", "/dev/null", "-T"])
            .args(["-o", "BatchMode=yes"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts.display()))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"])
            .args(["-o", "IdentitiesOnly=yes"])
            .args(["-o", "IdentityAgent=none"])
            .args(["-o", "PasswordAuthentication=no"])
            .args(["-o", "KbdInteractiveAuthentication=no"])
            .args(["-o", "LogLevel=ERROR"])
            .args([
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=4",
            ])
            .arg("-o")
            .arg(format!("ConnectTimeout={}", self.connect_timeout.as_secs()))
            .arg("-i")
            .arg(&self.identity)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("--")
            .arg(user_host)
            .arg(format!("sh -c {}", q(script)))
            .env_remove("SSH_AUTH_SOCK")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `script` with `stdin` and returns whatever happened; only local failures (no ssh
    /// binary, time limit) are errors here.
    pub(crate) async fn exec(
        &self,
        action: &'static str,
        script: &str,
        stdin: Option<Stdio>,
    ) -> Result<Finished, Error> {
        let mut command = self.command(script);
        command.stdin(stdin.unwrap_or_else(Stdio::null));
        let child = command.spawn().map_err(|source| Error::Command {
            program: self.program.display().to_string(),
            source,
        })?;
        let output = tokio::time::timeout(self.command_timeout, child.wait_with_output())
            .await
            .map_err(|_| Error::RemoteTimeout {
                destination: self.destination.clone(),
                action,
                timeout: self.command_timeout,
            })?
            .map_err(|source| Error::Command {
                program: self.program.display().to_string(),
                source,
            })?;
        Ok(Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs `script` and returns its stdout, or the error that explains its failure.
    pub(crate) async fn run(&self, action: &'static str, script: &str) -> Result<String, Error> {
        let finished = self.exec(action, script, None).await?;
        if finished.code == Some(0) {
            Ok(finished.stdout)
        } else {
            Err(self.failure(action, &finished))
        }
    }

    /// The error for a failed run: ssh's own failures (exit 255 with its messages) by cause,
    /// anything else as the remote command's failure with its output.
    pub(crate) fn failure(&self, action: &'static str, finished: &Finished) -> Error {
        if finished.code == Some(255)
            && let Some(err) = self.connection_error(&finished.stderr)
        {
            return err;
        }
        let output = if finished.stderr.trim().is_empty() {
            &finished.stdout
        } else {
            &finished.stderr
        };
        Error::Remote {
            destination: self.destination.clone(),
            action,
            status: finished.code.map_or_else(
                || "killed by a signal".to_owned(),
                |code| format!("exit {code}"),
            ),
            output: tail(output.trim(), OUTPUT_LIMIT),
        }
    }

    /// Classifies ssh's stderr; `None` when it does not look like a connection failure.
    pub(crate) fn connection_error(&self, stderr: &str) -> Option<Error> {
        let lower = stderr.to_lowercase();
        let line_with = |needle: &str| {
            lower
                .lines()
                .find(|line| line.contains(needle))
                .map(|line| line.trim().trim_end_matches('.').to_owned())
        };
        if let Some(at) = lower.find("permission denied (") {
            let reason = lower[at..]
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .trim_end_matches('.')
                .to_owned();
            let reason = if lower.contains("not accessible") {
                format!("{reason}; the identity file is not readable")
            } else {
                reason
            };
            return Some(Error::SshAuth {
                destination: self.destination.clone(),
                identity: self.identity.clone(),
                reason,
            });
        }
        if lower.contains("host key verification failed")
            || lower.contains("host key is known")
            || lower.contains("remote host identification has changed")
        {
            let reason = line_with("host key is known")
                .or_else(|| line_with("identification has changed"))
                .unwrap_or_else(|| "host key verification failed".into());
            return Some(Error::SshHostKey {
                destination: self.destination.clone(),
                known_hosts: self.known_hosts.clone(),
                reason,
            });
        }
        let reason = if lower.contains("connection refused") {
            "connection refused".to_owned()
        } else if lower.contains("timed out") {
            format!(
                "connection timed out after {}s",
                self.connect_timeout.as_secs()
            )
        } else if lower.contains("could not resolve hostname") {
            format!("could not resolve host name {}", self.host)
        } else if lower.contains("no route to host") {
            "no route to host".to_owned()
        } else if lower.contains("network is unreachable") {
            "network is unreachable".to_owned()
        } else if lower.contains("connection closed")
            || lower.contains("connection reset")
            || lower.contains("kex_exchange_identification")
        {
            format!(
                "the host closed the connection before login ({})",
                lower.lines().next().unwrap_or_default().trim()
            )
        } else if lower.trim_start().starts_with("ssh:") {
            lower.lines().next().unwrap_or_default().trim().to_owned()
        } else {
            return None;
        };
        Some(Error::SshUnreachable {
            destination: self.destination.clone(),
            reason,
        })
    }
}

/// The last `limit` bytes of `text` (on a char boundary); the end of an error log says most.
pub(crate) fn tail(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut cut = text.len() - limit;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &text[cut..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh() -> Ssh {
        Ssh::new(&SshConfig::new(
            "127.0.0.1",
            "root",
            "/k/id".into(),
            "/k/known".into(),
            "/srv",
            "http://x",
            "/etc/nginx/apps",
        ))
    }

    #[test]
    fn classifies_openssh_failures() {
        let ssh = ssh();
        let cases = [
            (
                "ssh: connect to host 127.0.0.1 port 22: Connection refused\r\n",
                "ssh to root@127.0.0.1:22 failed: connection refused",
            ),
            (
                "root@127.0.0.1: Permission denied (publickey).\r\n",
                "ssh to root@127.0.0.1:22 failed: the host rejected the key /k/id (permission denied (publickey))",
            ),
            (
                "No ED25519 host key is known for [127.0.0.1]:22 and you have requested strict checking.\nHost key verification failed.\n",
                "ssh to root@127.0.0.1:22 failed: its host key is not trusted by /k/known (no ed25519 host key is known for [127.0.0.1]:22 and you have requested strict checking)",
            ),
            (
                "ssh: connect to host 10.0.0.1 port 22: Connection timed out\n",
                "ssh to root@127.0.0.1:22 failed: connection timed out after 10s",
            ),
        ];
        for (stderr, expected) in cases {
            let err = ssh
                .connection_error(stderr)
                .unwrap_or_else(|| panic!("{stderr:?} not classified"));
            assert_eq!(err.to_string(), expected);
        }
        assert!(ssh.connection_error("tar: short read\n").is_none());
    }

    #[test]
    fn remote_failures_keep_their_output() {
        let ssh = ssh();
        let err = ssh.failure(
            "upload",
            &Finished {
                code: Some(2),
                stdout: String::new(),
                stderr: "tar: Unexpected EOF in archive\n".into(),
            },
        );
        assert_eq!(
            err.to_string(),
            "upload on root@127.0.0.1:22 failed (exit 2): tar: Unexpected EOF in archive"
        );
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "…def");
        assert_eq!(tail("abc", 3), "abc");
    }
}
