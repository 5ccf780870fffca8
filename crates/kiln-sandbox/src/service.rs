//! Long-running sandboxed processes (deployed apps): the isolation of [`Sandbox::run`] for a
//! process that is started once and supervised by the caller instead of run to completion.
//!
//! What differs from [`Sandbox::run`], and why:
//! - The network is always the service's own namespace with nothing but a loopback, never the
//!   host's: an app must not reach Kiln's database, NATS, the API, other apps or any other
//!   host service. What it may reach is its [`ServiceNetwork`]: the host connects to it through
//!   a Unix socket the host listens on ([`Inbound`]), and it reaches chosen host sockets
//!   through ports on its loopback ([`Outbound`]), both carried by the [`bridge`](crate::bridge)
//!   which runs inside the sandbox as the service's parent.
//! - No CPU-time limit and no wall clock: a service runs until it is stopped.
//! - Only the service's directory is writable (no extra caches), and only [`ServiceSpec::env`]
//!   plus `LANG` (and `RUSTUP_HOME` for rustup toolchains) reach it: no `CI` or `NO_COLOR`.
//! - Output is not captured here; the caller sets stdio on [`Service::command`].
//!
//! Memory and process count are capped by a per-service cgroup when the host lets Kiln create
//! one (rlimits otherwise), file size and open files by rlimits. [`ServiceGuard`] removes the
//! cgroup when the service is over.
//!
//! In mode none a service shares the host network and must not ask for a [`ServiceNetwork`].

use std::ffi::OsString;
use std::io::{PipeReader, PipeWriter};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::rlimit;
use crate::{Error, MIB, Mode, Sandbox, bridge, bwrap, cgroup};

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
/// Its parent is bubblewrap's init, or the bridge, which stays until this process exits.
const SUPERVISOR: &str = r#"exec 3<&0
sh "$@" <&3 3<&- &
exec 3<&-
stopping=
trap 'stopping=1' TERM
others() {
  for p in /proc/[0-9]*; do
    case ${p#/proc/} in 1|$$|$PPID) continue ;; esac
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
    /// What the service may reach and be reached by besides its own loopback.
    pub network: ServiceNetwork,
}

/// The ways into and out of a service's network namespace. Empty: nothing at all.
#[derive(Debug, Clone, Default)]
pub struct ServiceNetwork {
    pub inbound: Option<Inbound>,
    pub outbound: Vec<Outbound>,
}

impl ServiceNetwork {
    fn is_empty(&self) -> bool {
        self.inbound.is_none() && self.outbound.is_empty()
    }
}

/// How the host reaches the service: the sandbox listens on `socket`, a host path the service
/// never sees (any stale file there is replaced), and forwards each connection to
/// `127.0.0.1:port` inside the service's namespace. [`ServiceGuard::ready`] says when that
/// port first accepts connections.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub socket: PathBuf,
    pub port: u16,
}

/// A way out: connections to `127.0.0.1:port` inside go to the Unix socket `socket`, which
/// must already be listening on the host (its server decides what gets through).
#[derive(Debug, Clone)]
pub struct Outbound {
    pub port: u16,
    pub socket: PathBuf,
}

/// A service ready to be spawned. Dropping it unspawned removes its cgroup.
#[derive(Debug)]
pub struct Service {
    command: Command,
    group: Option<cgroup::Group>,
    mode: Mode,
    /// The inbound listener and the readiness pipe's write end, handed to the bridge at
    /// spawn and closed here afterwards.
    handed_over: Option<(UnixListener, PipeWriter)>,
    ready: Option<PipeReader>,
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
        // Only the sandbox holds the listener and the pipe's write end now: a dead sandbox
        // refuses connections and reads as "never ready".
        drop(self.handed_over.take());
        let pid = child.id().and_then(|p| i32::try_from(p).ok()).unwrap_or(0);
        Ok((
            child,
            ServiceGuard {
                pid,
                group: self.group.take(),
                mode: self.mode,
                ready: self.ready.take().map(Ready),
            },
        ))
    }
}

/// Resolves when the service's inbound port first accepts connections (see [`Inbound`]).
#[derive(Debug)]
pub struct Ready(PipeReader);

impl Ready {
    /// True once the port accepted a connection; false when the sandbox ended first.
    pub async fn wait(self) -> bool {
        let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(self.0))
        else {
            return false;
        };
        let mut pipe = pipe;
        let mut byte = [0u8; 1];
        matches!(pipe.read(&mut byte).await, Ok(1))
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
    ready: Option<Ready>,
}

impl ServiceGuard {
    /// The readiness of the service's inbound port, once; `None` without [`Inbound`].
    pub fn ready(&mut self) -> Option<Ready> {
        self.ready.take()
    }

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
    /// under bubblewrap every namespace (the network's included), a read-only system and
    /// toolchains, `dir` writable, fresh `/tmp`, `/proc` and `/dev`, `--die-with-parent` and
    /// `--new-session`, and the bridge when the spec has a network. In mode none it is the
    /// plain `sh -c` with only the given environment.
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
        let mut handed_over = None;
        let mut ready = None;
        let mut command = match self.inner.mode {
            Mode::None => {
                if !spec.network.is_empty() {
                    return Err(Error::NetworkWithoutSandbox);
                }
                let mut command = Command::new("sh");
                command.current_dir(&dir);
                command
            }
            Mode::Bubblewrap => {
                let bridge = if spec.network.is_empty() {
                    None
                } else {
                    Some(self.bridge_setup(&spec.network)?)
                };
                let limits = &self.inner.limits;
                let args = bwrap::args(&bwrap::Layout {
                    workspace: &dir,
                    home: &home,
                    writable: &[],
                    toolchains: &toolchains.dirs,
                    network: false,
                    tmp_bytes: limits.memory_mb * MIB,
                    binds: bridge.as_ref().map_or(&[], |b| b.binds.as_slice()),
                });
                let mut command = Command::new(&self.inner.bwrap);
                command.args(args);
                // No CPU-time limit: a service runs for as long as it is deployed.
                group = self.confine(&mut command, None)?;
                if let Some(bridge) = bridge {
                    command.arg(bridge::PROGRAM).arg(bridge::COMMAND);
                    command.args(bridge.args).arg("--");
                    if let Some((listener, writer, reader)) = bridge.inbound {
                        hand_over(
                            &mut command,
                            [
                                (listener.as_raw_fd(), bridge::INBOUND_FD),
                                (writer.as_raw_fd(), bridge::READY_FD),
                            ],
                        );
                        handed_over = Some((listener, writer));
                        ready = Some(reader);
                    }
                }
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
            handed_over,
            ready,
        })
    }

    /// The bridge's binds and arguments, and for inbound the listener (bound now, so the
    /// host can connect as soon as the service is up) with the readiness pipe.
    fn bridge_setup(&self, network: &ServiceNetwork) -> Result<BridgeSetup, Error> {
        let program = match &self.bridge {
            Some(program) => program.as_ref().clone(),
            None => std::env::current_exe().map_err(|source| Error::Network {
                what: "cannot find the bridge program",
                path: PathBuf::from("/proc/self/exe"),
                source,
            })?,
        };
        let mut binds = vec![(program, PathBuf::from(bridge::PROGRAM))];
        let mut args: Vec<OsString> = Vec::new();
        for out in &network.outbound {
            let is_socket = std::fs::metadata(&out.socket).and_then(|m| {
                use std::os::unix::fs::FileTypeExt;
                if m.file_type().is_socket() {
                    Ok(())
                } else {
                    Err(std::io::Error::from(std::io::ErrorKind::InvalidInput))
                }
            });
            is_socket.map_err(|source| Error::Network {
                what: "outbound socket is not a listening Unix socket:",
                path: out.socket.clone(),
                source,
            })?;
            binds.push((
                out.socket.clone(),
                PathBuf::from(bridge::outbound_socket(out.port)),
            ));
            args.extend(["--outbound".into(), out.port.to_string().into()]);
        }
        let inbound = match &network.inbound {
            Some(inbound) => {
                args.extend(["--inbound".into(), inbound.port.to_string().into()]);
                let listener = listen(&inbound.socket)?;
                let (reader, writer) = std::io::pipe().map_err(|source| Error::Network {
                    what: "cannot create the readiness pipe for",
                    path: inbound.socket.clone(),
                    source,
                })?;
                Some((listener, writer, reader))
            }
            None => None,
        };
        Ok(BridgeSetup {
            binds,
            args,
            inbound,
        })
    }
}

struct BridgeSetup {
    binds: Vec<(PathBuf, PathBuf)>,
    args: Vec<OsString>,
    inbound: Option<(UnixListener, PipeWriter, PipeReader)>,
}

/// Listens on `socket`, replacing a stale socket left by an earlier run of the service.
fn listen(socket: &Path) -> Result<UnixListener, Error> {
    let fail = |what, source| Error::Network {
        what,
        path: socket.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(socket) {
        Ok(meta) => {
            use std::os::unix::fs::FileTypeExt;
            if !meta.file_type().is_socket() {
                return Err(fail(
                    "refusing to replace a non-socket at",
                    std::io::ErrorKind::AlreadyExists.into(),
                ));
            }
            std::fs::remove_file(socket).map_err(|e| fail("cannot remove the stale socket", e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("cannot inspect", e)),
    }
    UnixListener::bind(socket).map_err(|e| fail("cannot listen on", e))
}

/// Makes each `(source, target)` descriptor available to the spawned program at `target`,
/// without CLOEXEC, and nothing else of ours.
fn hand_over(command: &mut Command, fds: [(RawFd, RawFd); 2]) {
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec and calls only the
    // async-signal-safe fcntl(2) and dup2(2) on descriptors the parent keeps open until spawn
    // returns. Copying every source above the targets first means no dup2 overwrites a source
    // that is still to be copied; the copies are CLOEXEC, the targets are not.
    unsafe {
        command.pre_exec(move || {
            let mut copies = [0; 2];
            for (copy, (source, _)) in copies.iter_mut().zip(fds) {
                *copy = libc::fcntl(source, libc::F_DUPFD_CLOEXEC, 10);
                if *copy < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (copy, (_, target)) in copies.into_iter().zip(fds) {
                if libc::dup2(copy, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
