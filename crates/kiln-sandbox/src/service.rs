//! Long-running sandboxed processes (deployed apps): the isolation of [`Sandbox::run`] for a
//! process that is started once and supervised by the caller instead of run to completion.
//!
//! What differs from [`Sandbox::run`], and why:
//! - The host network is always shared: an app listens on `127.0.0.1:$PORT` for the proxy and
//!   reaches its database on loopback. So it can also reach every other loopback service and
//!   abstract Unix socket of the host; those must require authentication.
//! - No CPU-time limit and no wall clock: a service runs until it is stopped.
//! - Only the service's directory is writable (no extra caches), and only [`ServiceSpec::env`]
//!   plus `LANG` (and `RUSTUP_HOME` for rustup toolchains) reach it: no `CI` or `NO_COLOR`.
//! - Output is not captured here; the caller sets stdio on [`Service::command`].
//!
//! Memory and process count are capped by a per-service cgroup when the host lets Kiln create
//! one (rlimits otherwise), file size and open files by rlimits. [`ServiceGuard`] removes the
//! cgroup when the service is over.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::rlimit;
use crate::{Error, MIB, Mode, Sandbox, bwrap, cgroup};

/// The sandbox's first process under bubblewrap: runs the service's `sh -c ...` (its
/// arguments) and waits for it.
///
/// bubblewrap ends the whole sandbox (SIGKILL to everything) as soon as its first process
/// exits. If that were the service's own shell, a SIGTERM for a graceful stop would end it at
/// once and kill the app behind it mid-shutdown. So this process waits: when the service exits
/// by itself (a crash) it exits at once with its status, so nothing the service left behind
/// survives it, as for an unsandboxed leader; when it got SIGTERM (a stop) it stays until every
/// other process in the sandbox is gone, however deep, since orphans are adopted by init, not
/// by it. Stdin is passed through explicitly: a background job's stdin would be /dev/null.
const SUPERVISOR: &str = r#"exec 3<&0
sh "$@" <&3 3<&- &
exec 3<&-
stopping=
trap 'stopping=1' TERM
others() {
  for p in /proc/[0-9]*; do
    case ${p#/proc/} in 1|$$) continue ;; esac
    read -r stat 2>/dev/null < "$p/stat" || continue
    state=${stat##*") "}
    case $state in Z*|X*) ;; *) return 0 ;; esac
  done
  return 1
}
wait $!
status=$?
if [ -n "$stopping" ]; then
  wait $!
  again=$?
  [ "$again" -ne 127 ] && status=$again
  while others; do sleep 0.1; done
fi
exit $status"#;

/// One long-running command to start.
#[derive(Debug, Clone, Default)]
pub struct ServiceSpec {
    /// Shell command line, run with `sh -c`.
    pub command: String,
    /// Positional parameters after the command line (`$0`, `$1`, ...), so a fixed wrapper
    /// script can take the app's own command without quoting it into the script.
    pub args: Vec<String>,
    /// Working directory, writable and mounted at the same absolute path (apps write caches
    /// such as `.next/cache` into their release). Nothing else of the host is writable.
    pub dir: PathBuf,
    /// The only variables the service sees besides `PATH`, `HOME` and `LANG` (and
    /// `RUSTUP_HOME` when rustup is found on `PATH`); these win over all of them.
    pub env: Vec<(String, String)>,
    /// `PATH` for the service; toolchain directories outside `/usr` on it are bound read-only.
    pub path: String,
    /// `HOME`; defaults to `dir`. Outside `dir` it is an empty read-only directory.
    pub home: Option<PathBuf>,
}

/// A service ready to be spawned. Dropping it unspawned removes its cgroup.
#[derive(Debug)]
pub struct Service {
    command: Command,
    group: Option<cgroup::Group>,
    mode: Mode,
}

impl Service {
    /// The command that starts the service, in its own process group. Callers set stdio and
    /// may add `pre_exec` hooks; its arguments, environment and directory are the sandbox's.
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Starts the service. The child must be reaped by the caller; the guard signals and
    /// cleans up what the child alone does not cover.
    pub fn spawn(mut self) -> std::io::Result<(Child, ServiceGuard)> {
        let child = self.command.spawn()?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        Ok((
            child,
            ServiceGuard {
                pid,
                group: self.group.take(),
                mode: self.mode,
            },
        ))
    }
}

/// What a running service holds besides its child process: its cgroup, and the knowledge of
/// where its processes live. Dropping it kills what is left in the cgroup and removes it
/// (best effort; [`ServiceGuard::release`] waits until that is done).
#[derive(Debug)]
pub struct ServiceGuard {
    /// The spawned process: bubblewrap, or `sh` in mode none.
    pid: i32,
    group: Option<cgroup::Group>,
    mode: Mode,
}

impl ServiceGuard {
    /// Sends `signal` to the service's own processes, for a graceful stop with SIGTERM.
    ///
    /// Under bubblewrap that is every process in the sandbox's PID namespace except its init,
    /// and not bubblewrap itself, whose exit SIGKILLs the whole sandbox before the app could
    /// shut down cleanly; the sandbox's first process, which bubblewrap waits for, stays until
    /// the app's processes are gone (see `SUPERVISOR`). In mode none it is the process group
    /// the service was started in. Call it before the child is reaped, while its pid cannot
    /// have been reused.
    pub fn signal(&self, signal: i32) {
        match self.mode {
            Mode::None => rlimit::signal(-self.pid, signal),
            Mode::Bubblewrap => {
                for pid in namespace_members(self.pid) {
                    rlimit::signal(pid, signal);
                }
            }
        }
    }

    /// Kills whatever is left in the service's cgroup and removes it; waits (a few seconds at
    /// most) for killed processes to be reaped. Without a cgroup there is nothing to do: the
    /// caller killing the spawned process ends the sandbox and everything in it.
    pub async fn release(mut self) {
        if let Some(group) = self.group.take() {
            group.destroy().await;
        }
    }
}

/// Host pids of the processes inside the sandbox started as `bwrap_pid`, except its init
/// (bubblewrap's only child, pid 1 inside). Read from `/proc`; empty when the sandbox is gone.
fn namespace_members(bwrap_pid: i32) -> Vec<i32> {
    let pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let parent_of = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may contain spaces or parentheses; fields resume after the last ')'.
        let (_, fields) = stat.rsplit_once(')')?;
        fields.split_whitespace().nth(1)?.parse().ok()
    };
    let namespace = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(init) = pids
        .iter()
        .copied()
        .find(|&p| bwrap_pid > 1 && parent_of(p) == Some(bwrap_pid))
    else {
        return Vec::new();
    };
    let Some(sandbox_ns) = namespace(init) else {
        return Vec::new();
    };
    // bubblewrap's child might not have entered its namespace yet.
    if namespace(bwrap_pid).as_ref() == Some(&sandbox_ns) {
        return Vec::new();
    }
    pids.into_iter()
        .filter(|&p| p != init && namespace(p).as_ref() == Some(&sandbox_ns))
        .collect()
}

impl Sandbox {
    /// Prepares a long-running service with the isolation described in the module docs:
    /// under bubblewrap every namespace except the network's, a read-only system and
    /// toolchains, `dir` writable, fresh `/tmp`, `/proc` and `/dev`, `--die-with-parent` and
    /// `--new-session`. In mode none it is the plain `sh -c` with only the given environment.
    pub fn service(&self, spec: &ServiceSpec) -> Result<Service, Error> {
        let dir = std::fs::canonicalize(&spec.dir)
            .and_then(|d| {
                if d.is_dir() {
                    Ok(d)
                } else {
                    Err(std::io::Error::from(std::io::ErrorKind::NotADirectory))
                }
            })
            .map_err(|source| Error::Workspace {
                dir: spec.dir.clone(),
                source,
            })?;
        let home = spec.home.clone().unwrap_or_else(|| dir.clone());
        let mut env = vec![("LANG".to_owned(), "C.UTF-8".to_owned())];
        // Toolchain variables matter in both modes: the environment is cleared either way.
        let toolchains = bwrap::toolchains(&spec.path, &self.inner.ro_paths, &dir);
        env.extend(toolchains.env.iter().cloned());
        let mut group = None;
        let mut command = match self.inner.mode {
            Mode::None => {
                let mut command = Command::new("sh");
                command.current_dir(&dir);
                command
            }
            Mode::Bubblewrap => {
                let limits = &self.inner.limits;
                let args = bwrap::args(&bwrap::Layout {
                    workspace: &dir,
                    home: &home,
                    writable: &[],
                    toolchains: &toolchains.dirs,
                    network: true,
                    tmp_bytes: limits.memory_mb * MIB,
                });
                let mut command = Command::new(&self.inner.bwrap);
                command.args(args);
                // No CPU-time limit: a service runs for as long as it is deployed.
                group = self.confine(&mut command, None)?;
                command.args(["sh", "-c", SUPERVISOR, "kiln-service"]);
                command
            }
        };
        env.push(("PATH".into(), spec.path.clone()));
        env.push(("HOME".into(), home.display().to_string()));
        env.extend(spec.env.iter().cloned());
        command
            .arg("-c")
            .arg(&spec.command)
            .args(&spec.args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(false);
        Ok(Service {
            command,
            group,
            mode: self.inner.mode,
        })
    }
}
