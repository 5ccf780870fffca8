//! Runs commands that come from generated code, which Kiln must treat as hostile.
//!
//! In the default mode ([`Mode::Bubblewrap`]) every command runs under bubblewrap with its
//! own user, mount, PID, IPC, UTS, cgroup and network namespaces: the system, a curated
//! `/etc` and the toolchains found on `PATH` are read-only, only the workspace and the
//! caches a command names are writable, `/tmp` and `/proc` are fresh, and the network is
//! a lone loopback unless the command asks for it ([`CommandSpec::network`]). Memory and
//! process count are capped by a per-command cgroup when the host lets Kiln create one
//! (rlimits otherwise), CPU time, file size and open files by rlimits, and the wall clock
//! by a timer. [`CommandResult::limit`] says which limit stopped a command.
//!
//! [`Mode::None`] keeps only process hygiene (cleared environment, time limit, output cap,
//! process group killed afterwards) for hosts without user namespaces; it must be chosen
//! explicitly and reports isolation `"none"` so callers can record it.
//!
//! [`Sandbox::service`] starts long-running processes (deployed apps) with the same
//! isolation, except that they have no CPU-time or wall-clock limit and may be given a
//! [`ServiceNetwork`]: a way in from the host and ways out to host sockets, through the
//! [`bridge`] that runs inside their sandbox; see the `service` module for the full list and
//! the reasons.

pub mod bridge;
mod bwrap;
mod cgroup;
mod rlimit;
mod service;

pub use service::{Inbound, Outbound, Ready, Service, ServiceGuard, ServiceNetwork, ServiceSpec};

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use crate::rlimit::{Resource, Rlimit};

/// Variables a command sees besides `PATH`, `HOME` and the ones its spec sets.
const BASE_ENV: &[(&str, &str)] = &[("LANG", "C.UTF-8"), ("CI", "1"), ("NO_COLOR", "1")];

const MIB: u64 = 1 << 20;

/// How commands are isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Namespaces, read-only system, resource limits (the default).
    #[default]
    Bubblewrap,
    /// Process hygiene only; for hosts where bubblewrap cannot run, chosen explicitly.
    None,
}

/// `[sandbox]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub mode: Mode,
    /// The bubblewrap binary; a bare name is looked up on `PATH`.
    pub bwrap: PathBuf,
    pub limits: Limits,
    /// Extra host directories bound read-only, for toolchains `PATH` does not reveal.
    pub ro_paths: Vec<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Bubblewrap,
            bwrap: PathBuf::from("bwrap"),
            limits: Limits::default(),
            ro_paths: Vec::new(),
        }
    }
}

/// Resource limits per command. The defaults fit `npm install`, `next build` and
/// `cargo build` of a generated app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// CPU seconds per process (RLIMIT_CPU; SIGXCPU at the limit).
    pub cpu_secs: u64,
    /// Memory of the whole command, including its `/tmp`.
    pub memory_mb: u64,
    /// Processes and threads of the whole command.
    pub processes: u64,
    /// Largest file a command may write (RLIMIT_FSIZE).
    pub file_size_mb: u64,
    /// Open files per process (RLIMIT_NOFILE).
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_secs: 600,
            memory_mb: 2048,
            processes: 512,
            file_size_mb: 1024,
            open_files: 4096,
        }
    }
}

/// How each limit is enforced on this host, for the record and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enforcement {
    pub memory: &'static str,
    pub processes: &'static str,
    pub cpu: &'static str,
    pub file_size: &'static str,
    pub open_files: &'static str,
    pub wall_clock: &'static str,
}

/// One command to run.
#[derive(Debug, Clone, Default)]
pub struct CommandSpec {
    /// Shell command line, run with `sh -c`.
    pub command: String,
    /// Working directory: the workspace, writable and mounted at the same absolute path.
    pub dir: PathBuf,
    /// The only variables the command sees besides `PATH`, `HOME` and [`BASE_ENV`] (and
    /// `RUSTUP_HOME` when rustup is found on `PATH` and this does not set it).
    pub env: Vec<(String, String)>,
    /// `PATH` for the command; toolchains are looked up here, and toolchain directories
    /// outside `/usr` on it are bound read-only.
    pub path: String,
    /// `HOME` for the command; defaults to the workspace. Outside the workspace and
    /// [`CommandSpec::writable`] it is an empty read-only directory.
    pub home: Option<PathBuf>,
    pub timeout: Duration,
    /// Bytes of output kept (the tail); everything is still streamed line by line.
    pub output_cap: usize,
    /// Whether the command shares the host's network (to reach package registries).
    /// Without it the command has only its own loopback.
    pub network: bool,
    /// Absolute host directories (package caches) bound writable at the same path;
    /// created when missing.
    pub writable: Vec<PathBuf>,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandResult {
    /// Exit code; `None` when killed by a signal or the time limit. Under bubblewrap a
    /// command killed by signal N shows as 128 + N, as in a shell.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration: Duration,
    /// The last `output_cap` bytes of combined stdout and stderr.
    pub output_tail: String,
    /// Whether output was dropped from the front to respect the cap.
    pub truncated: bool,
    /// The limits the command ran into, e.g. "memory limit of 256 MiB"; several are
    /// joined with "; ". `None` when no limit was detected.
    pub limit: Option<String>,
}

impl CommandResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the bubblewrap sandbox is unavailable: {reason}; install bubblewrap \
         (`apt-get install bubblewrap`) and allow user namespaces \
         (`sysctl user.max_user_namespaces` above 0, `kernel.unprivileged_userns_clone=1` \
         where it exists, no AppArmor restriction on bwrap), or set `[sandbox] mode = \"none\"` \
         to run generated code without isolation"
    )]
    Unavailable { reason: String },
    #[error("workspace {dir} is not an existing absolute directory")]
    Workspace {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writable directory {path} must be absolute and creatable")]
    Writable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the command's cgroup")]
    Cgroup(#[source] std::io::Error),
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
    #[error("a service network needs bubblewrap: in mode none a service shares the host network")]
    NetworkWithoutSandbox,
    #[error("cannot set up the service's network: {what} {}", path.display())]
    Network {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Runs commands with the configured isolation. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
    /// The program started as `<program> sandbox-bridge` inside a service sandbox that has a
    /// network; `None` is the running executable (the `kiln` binary).
    bridge: Option<Arc<PathBuf>>,
}

#[derive(Debug)]
struct Inner {
    mode: Mode,
    bwrap: PathBuf,
    limits: Limits,
    ro_paths: Vec<PathBuf>,
    cgroups: Option<cgroup::Hierarchy>,
    enforcement: Enforcement,
}

impl Sandbox {
    /// Checks that the configured isolation works here: in bubblewrap mode a trivial
    /// command runs in a sandbox with every namespace, and a cgroup is tried out.
    pub fn new(config: &Config) -> Result<Sandbox, Error> {
        let limits = config.limits;
        let (cgroups, enforcement) = match config.mode {
            Mode::None => (
                None,
                Enforcement {
                    memory: "none",
                    processes: "none",
                    cpu: "none",
                    file_size: "none",
                    open_files: "none",
                    wall_clock: "timer",
                },
            ),
            Mode::Bubblewrap => {
                bwrap::probe(&config.bwrap).map_err(|reason| Error::Unavailable { reason })?;
                let cgroups = cgroup::Hierarchy::detect()
                    .inspect_err(|why| {
                        tracing::warn!(
                            why,
                            "no writable cgroup; memory and processes fall back to rlimits"
                        );
                    })
                    .ok();
                let enforcement = Enforcement {
                    memory: cgroups
                        .as_ref()
                        .map_or("RLIMIT_AS per process", |h| h.describe_memory()),
                    processes: cgroups
                        .as_ref()
                        .map_or("RLIMIT_NPROC (per uid, not enforced for root)", |h| {
                            h.describe_processes()
                        }),
                    cpu: "RLIMIT_CPU per process",
                    file_size: "RLIMIT_FSIZE",
                    open_files: "RLIMIT_NOFILE",
                    wall_clock: "timer",
                };
                (cgroups, enforcement)
            }
        };
        tracing::info!(mode = ?config.mode, ?enforcement, "sandbox ready");
        Ok(Sandbox {
            inner: Arc::new(Inner {
                mode: config.mode,
                bwrap: config.bwrap.clone(),
                limits,
                ro_paths: config.ro_paths.clone(),
                cgroups,
                enforcement,
            }),
            bridge: None,
        })
    }

    /// Uses `program` as the bridge of service sandboxes instead of the running executable;
    /// it must run [`bridge::main`] when started as `program sandbox-bridge ...`.
    pub fn with_bridge_program(mut self, program: impl Into<PathBuf>) -> Sandbox {
        self.bridge = Some(Arc::new(program.into()));
        self
    }

    /// Whether services get a network namespace of their own (bubblewrap) rather than the
    /// host's (mode none), i.e. whether a [`ServiceNetwork`] is how they reach anything.
    pub fn isolates_network(&self) -> bool {
        self.inner.mode == Mode::Bubblewrap
    }

    /// `"bubblewrap"` or `"none"`, for the record of how a command ran.
    pub fn isolation(&self) -> &'static str {
        match self.inner.mode {
            Mode::Bubblewrap => "bubblewrap",
            Mode::None => "none",
        }
    }

    /// How each limit is enforced on this host.
    pub fn enforcement(&self) -> &Enforcement {
        &self.inner.enforcement
    }

    /// Confines `cmd` (bwrap) with the configured limits: file size and open files always,
    /// `extra` when given, memory and process count by a fresh cgroup (returned, to be
    /// released after the command) or, without one, by rlimits.
    pub(crate) fn confine(
        &self,
        cmd: &mut Command,
        extra: Option<Rlimit>,
    ) -> Result<Option<cgroup::Group>, Error> {
        let limits = &self.inner.limits;
        let mut rlimits: Vec<Rlimit> = extra.into_iter().collect();
        rlimits.extend([
            Rlimit {
                resource: Resource::FileSize,
                soft: limits.file_size_mb * MIB,
                hard: limits.file_size_mb * MIB,
            },
            Rlimit {
                resource: Resource::OpenFiles,
                soft: limits.open_files,
                hard: limits.open_files,
            },
        ]);
        let (group, procs) = match &self.inner.cgroups {
            Some(hierarchy) => {
                let g = hierarchy
                    .create(limits.memory_mb * MIB, limits.processes)
                    .map_err(Error::Cgroup)?;
                let procs = g.procs_files();
                (Some(g), procs)
            }
            None => {
                rlimits.extend([
                    Rlimit {
                        resource: Resource::AddressSpace,
                        soft: limits.memory_mb * MIB,
                        hard: limits.memory_mb * MIB,
                    },
                    Rlimit {
                        resource: Resource::Processes,
                        soft: limits.processes,
                        hard: limits.processes,
                    },
                ]);
                (None, Vec::new())
            }
        };
        rlimit::confine(cmd, &procs, &rlimits).map_err(Error::Cgroup)?;
        Ok(group)
    }

    /// Runs `spec`, sending each output line to `lines` (when given) as it appears.
    pub async fn run(
        &self,
        spec: &CommandSpec,
        lines: Option<mpsc::Sender<String>>,
    ) -> Result<CommandResult, Error> {
        let started = Instant::now();
        let workspace = std::fs::canonicalize(&spec.dir)
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
        let home = spec.home.clone().unwrap_or_else(|| workspace.clone());
        let mut env: Vec<(String, String)> = BASE_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        // Toolchain variables (RUSTUP_HOME for rustup's proxies) matter in both modes: the
        // environment is cleared either way.
        let toolchains = bwrap::toolchains(&spec.path, &self.inner.ro_paths, &workspace);
        for (k, v) in &toolchains.env {
            if !spec.env.iter().any(|(name, _)| name == k) {
                env.push((k.clone(), v.clone()));
            }
        }
        let mut group = None;
        let mut cmd = match self.inner.mode {
            Mode::None => {
                let mut cmd = Command::new("sh");
                cmd.current_dir(&workspace);
                cmd
            }
            Mode::Bubblewrap => {
                let writable = spec
                    .writable
                    .iter()
                    .map(|path| {
                        let fail = |source| Error::Writable {
                            path: path.clone(),
                            source,
                        };
                        if !path.is_absolute() {
                            return Err(fail(std::io::ErrorKind::InvalidInput.into()));
                        }
                        std::fs::create_dir_all(path).map_err(fail)?;
                        path.canonicalize().map_err(fail)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let limits = &self.inner.limits;
                let args = bwrap::args(&bwrap::Layout {
                    workspace: &workspace,
                    home: &home,
                    writable: &writable,
                    toolchains: &toolchains.dirs,
                    network: spec.network,
                    tmp_bytes: limits.memory_mb * MIB,
                    binds: &[],
                });
                // The hard limit a little above the soft one: SIGXCPU first, which a shell
                // reports as such, SIGKILL only for a command that ignores it.
                let cpu = Rlimit {
                    resource: Resource::Cpu,
                    soft: limits.cpu_secs,
                    hard: limits.cpu_secs + 5,
                };
                let mut cmd = Command::new(&self.inner.bwrap);
                cmd.args(args);
                group = self.confine(&mut cmd, Some(cpu))?;
                cmd.arg("sh");
                cmd
            }
        };
        env.push(("PATH".into(), spec.path.clone()));
        env.push(("HOME".into(), home.display().to_string()));
        env.extend(spec.env.iter().cloned());

        let spawn_error = |source| Error::Spawn {
            command: spec.command.clone(),
            dir: spec.dir.clone(),
            source,
        };
        // stdout and stderr share one pipe so the tail keeps the interleaving people
        // expect to read, and bubblewrap's own complaints land in it too.
        let (writer, reader) = tokio::net::unix::pipe::pipe().map_err(spawn_error)?;
        let writer: OwnedFd = writer.into_blocking_fd().map_err(spawn_error)?;
        let writer_err = writer.try_clone().map_err(spawn_error)?;
        cmd.arg("-c")
            .arg(&spec.command)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer_err))
            .process_group(0)
            .kill_on_drop(true);
        let spawned = cmd.spawn();
        // Our copies of the pipe's write end must go, or the reader never sees its end.
        drop(cmd);
        let mut child = spawned.map_err(spawn_error)?;
        let pgid = child.id();

        let cap = spec.output_cap.max(1024);
        let reader = tokio::spawn(read_tail(reader, cap, lines));
        let waited = tokio::time::timeout(spec.timeout, child.wait()).await;
        // Whatever the command left running in the background (servers, watchers) goes too;
        // that also closes the pipe they inherited, so the reader reaches its end. Under
        // bubblewrap, killing its processes ends the PID namespace and everything in it.
        if let Some(pgid) = pgid {
            rlimit::kill(-(pgid as i32));
        }
        let _ = child.kill().await;
        let hits = group.as_ref().map(cgroup::Group::hits).unwrap_or_default();
        if let Some(group) = group {
            group.destroy().await;
        }
        let (mut tail, truncated) = match tokio::time::timeout(Duration::from_secs(5), reader).await
        {
            Ok(Ok(read)) => read,
            _ => (VecDeque::new(), true),
        };
        let mut output_tail = String::from_utf8_lossy(tail.make_contiguous()).into_owned();
        let status = match waited {
            Ok(status) => Some(status.map_err(|source| Error::Wait {
                command: spec.command.clone(),
                source,
            })?),
            Err(_) => {
                output_tail.push_str(&format!(
                    "\nkilled after the {} time limit\n",
                    human(spec.timeout)
                ));
                None
            }
        };
        let limit = match self.inner.mode {
            Mode::None => status.is_none().then(|| wall_clock(spec.timeout)),
            Mode::Bubblewrap => {
                stop_reasons(&self.inner.limits, spec.timeout, status, hits, &output_tail)
            }
        };
        Ok(CommandResult {
            exit_code: status.and_then(|s| s.code()),
            timed_out: status.is_none(),
            duration: started.elapsed(),
            output_tail,
            truncated,
            limit,
        })
    }
}

/// Streams lines to `lines` and keeps the last `cap` bytes.
async fn read_tail(
    out: tokio::net::unix::pipe::Receiver,
    cap: usize,
    lines: Option<mpsc::Sender<String>>,
) -> (VecDeque<u8>, bool) {
    let mut tail: VecDeque<u8> = VecDeque::new();
    let mut truncated = false;
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
    (tail, truncated)
}

fn wall_clock(timeout: Duration) -> String {
    format!("wall-clock limit of {}", human(timeout))
}

/// Which limits stopped a command, from the timer, the cgroup's event counters and the
/// signal it died of. bubblewrap reports a command killed by signal N as exit 128 + N.
/// Programs that ignore SIGXFSZ (Python does) fail their write with EFBIG instead, so
/// "File too large" in the output of a failed command counts too.
fn stop_reasons(
    limits: &Limits,
    timeout: Duration,
    status: Option<ExitStatus>,
    hits: cgroup::Hits,
    output: &str,
) -> Option<String> {
    let mut reasons = Vec::new();
    if hits.oom_kills > 0 {
        reasons.push(format!("memory limit of {} MiB", limits.memory_mb));
    }
    if hits.process_limit > 0 {
        reasons.push(format!("process limit of {}", limits.processes));
    }
    let signal = status.and_then(|s| {
        s.signal().or_else(|| {
            s.code()
                .filter(|c| (129..=128 + 64).contains(c))
                .map(|c| c - 128)
        })
    });
    if signal == Some(libc::SIGXCPU) {
        reasons.push(format!("CPU time limit of {}s", limits.cpu_secs));
    }
    let failed = status.is_some_and(|s| !s.success());
    if signal == Some(libc::SIGXFSZ) || (failed && output.contains("File too large")) {
        reasons.push(format!("file size limit of {} MiB", limits.file_size_mb));
    }
    if status.is_none() {
        reasons.push(wall_clock(timeout));
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

/// `20s`, `1.5s`, `500ms`: how people write a limit.
fn human(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Sandbox {
        Sandbox::new(&Config {
            mode: Mode::None,
            ..Config::default()
        })
        .unwrap()
    }

    fn bubblewrap() -> Sandbox {
        Sandbox::new(&Config::default()).unwrap()
    }

    fn spec(dir: &std::path::Path, command: &str) -> CommandSpec {
        CommandSpec {
            command: command.into(),
            dir: dir.to_path_buf(),
            env: vec![("KILN_BUILD_SHA".into(), "abc".into())],
            path: "/usr/local/bin:/usr/bin:/bin".into(),
            timeout: Duration::from_secs(20),
            output_cap: 4096,
            ..CommandSpec::default()
        }
    }

    #[tokio::test]
    async fn reports_exit_codes_and_streams_lines_with_stderr() {
        for sandbox in [none(), bubblewrap()] {
            let dir = tempfile::tempdir().unwrap();
            let (tx, mut rx) = mpsc::channel(100);
            let r = sandbox
                .run(
                    &spec(dir.path(), "echo one; sleep 0.1; echo two >&2; exit 3"),
                    Some(tx),
                )
                .await
                .unwrap();
            assert_eq!(r.exit_code, Some(3), "{}: {r:?}", sandbox.isolation());
            assert!(!r.success());
            assert_eq!(r.output_tail, "one\ntwo\n");
            assert_eq!(r.limit, None);
            assert_eq!(rx.recv().await.as_deref(), Some("one"));
            assert_eq!(rx.recv().await.as_deref(), Some("two"));
        }
    }

    #[tokio::test]
    async fn sees_only_the_allowed_environment() {
        for sandbox in [none(), bubblewrap()] {
            let dir = tempfile::tempdir().unwrap();
            let r = sandbox
                .run(
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
    }

    #[tokio::test]
    async fn kills_commands_that_outlive_the_limit_with_their_children() {
        for sandbox in [none(), bubblewrap()] {
            let dir = tempfile::tempdir().unwrap();
            let marker = dir.path().join("survived");
            let mut s = spec(
                dir.path(),
                &format!("(sleep 3; touch {}) & sleep 30", marker.display()),
            );
            s.timeout = Duration::from_millis(500);
            let r = sandbox.run(&s, None).await.unwrap();
            assert!(r.timed_out);
            assert_eq!(r.exit_code, None);
            assert_eq!(r.limit.as_deref(), Some("wall-clock limit of 500ms"));
            tokio::time::sleep(Duration::from_secs(4)).await;
            assert!(
                !marker.exists(),
                "a background child survived the time limit"
            );
        }
    }

    #[tokio::test]
    async fn background_processes_die_when_the_command_ends() {
        for sandbox in [none(), bubblewrap()] {
            let dir = tempfile::tempdir().unwrap();
            let marker = dir.path().join("survived");
            let r = sandbox
                .run(
                    &spec(
                        dir.path(),
                        &format!("(sleep 2; touch {}) & echo started", marker.display()),
                    ),
                    None,
                )
                .await
                .unwrap();
            assert!(r.success(), "{r:?}");
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(!marker.exists(), "a background child outlived its command");
        }
    }

    #[tokio::test]
    async fn keeps_only_the_tail_of_large_output() {
        for sandbox in [none(), bubblewrap()] {
            let dir = tempfile::tempdir().unwrap();
            let r = sandbox
                .run(&spec(dir.path(), "seq 1 100000"), None)
                .await
                .unwrap();
            assert!(r.success());
            assert!(r.truncated);
            assert!(r.output_tail.len() <= 4096);
            assert!(r.output_tail.ends_with("99999\n100000\n"));
        }
    }

    #[test]
    fn names_the_limits_a_command_ran_into() {
        let limits = Limits {
            cpu_secs: 5,
            memory_mb: 256,
            processes: 64,
            file_size_mb: 10,
            open_files: 64,
        };
        let t = Duration::from_secs(20);
        let code = |c: i32| Some(ExitStatus::from_raw(c << 8));
        let none = cgroup::Hits::default();
        assert_eq!(stop_reasons(&limits, t, code(0), none, ""), None);
        assert_eq!(
            stop_reasons(&limits, t, code(128 + libc::SIGXCPU), none, "").as_deref(),
            Some("CPU time limit of 5s")
        );
        assert_eq!(
            stop_reasons(
                &limits,
                t,
                code(1),
                none,
                "OSError: [Errno 27] File too large"
            )
            .as_deref(),
            Some("file size limit of 10 MiB")
        );
        let hits = cgroup::Hits {
            oom_kills: 1,
            process_limit: 3,
        };
        assert_eq!(
            stop_reasons(&limits, t, None, hits, "").as_deref(),
            Some("memory limit of 256 MiB; process limit of 64; wall-clock limit of 20s")
        );
    }

    #[test]
    fn config_reads_the_documented_names() {
        let config: Config = serde_json::from_str(
            r#"{"mode":"none","limits":{"memory_mb":512},"ro_paths":["/opt/tool"]}"#,
        )
        .unwrap();
        assert_eq!(config.mode, Mode::None);
        assert_eq!(config.limits.memory_mb, 512);
        assert_eq!(config.limits.processes, 512);
        assert!(serde_json::from_str::<Config>(r#"{"modes":"none"}"#).is_err());
    }
}
