//! App processes: spawning them in a sealed environment, capturing their output, waiting until
//! they listen, and keeping them alive (within limits) once they do.
//!
//! Each app runs in its own process group so stopping it also stops whatever it forked. A killed
//! deployer must not leave orphans holding ports (it restores apps when it comes back), so the
//! whole group dies with the deployer: the leader through `PR_SET_PDEATHSIG` on Linux, and
//! everything it forked (`npm start` runs node as a grandchild, which the kernel signal does not
//! reach) through a watchdog in the group that kills it when the deployer's end of a pipe closes.
//!
//! With a sandbox, the same wrapper runs inside bubblewrap (see [`kiln_sandbox::ServiceGuard`]):
//! the app sees its release directory and nothing else of the data directory. Killing
//! bubblewrap ends its PID namespace and so everything the app started; a graceful stop signals
//! the processes inside the sandbox instead, since bubblewrap itself would die at SIGTERM.
//! A sandbox that isolates the network gives the app its own namespace: it listens on `$PORT`
//! there, the proxy reaches it through its [`AppNetwork`]'s socket, and readiness comes from
//! the sandbox's bridge instead of a connection to the port.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::network::AppNetwork;
use crate::Error;

/// Longer lines are split; an app printing megabytes without a newline must not grow memory.
const MAX_LINE: usize = 8 * 1024;
/// How many log lines go into a startup error.
const ERROR_TAIL: usize = 30;
const READY_POLL: Duration = Duration::from_millis(100);
/// Output readers normally end right after the process; a forked child holding the pipe must
/// not stall a stop.
const READER_DRAIN: Duration = Duration::from_secs(1);
const STOP_POLL: Duration = Duration::from_millis(50);

/// Runs the app command (`$0`) next to a watchdog. The watchdog blocks reading a pipe whose
/// only writer is the deployer; EOF means the deployer is gone, and it kills the whole group.
/// The pipe moves to fd 3 because background jobs get stdin from /dev/null, and the app itself
/// gets neither, so it cannot hold the watchdog alive or read from it.
const WRAPPER: &str = "exec 3<&0 </dev/null
{ read -r _ <&3; kill -KILL 0; } >/dev/null 2>&1 &
exec 3<&-
exec /bin/sh -c \"$0\"";

/// Everything needed to (re)start one release of an app.
#[derive(Clone, Debug)]
pub(crate) struct Launch {
    pub app: String,
    pub commit: String,
    pub release: PathBuf,
    pub run: String,
    /// The complete environment; nothing is inherited from the deployer.
    pub env: Vec<(String, String)>,
    pub port: u16,
    /// Runs the app isolated when set.
    pub sandbox: Option<kiln_sandbox::Sandbox>,
    /// The app's own network, when the sandbox isolates it; shared by every restart of the
    /// instance and gone with it.
    pub network: Option<Arc<AppNetwork>>,
}

/// Restart and stop policy, copied out of `LocalConfig`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub readiness_timeout: Duration,
    pub stop_grace: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub max_crashes: u32,
    pub crash_window: Duration,
    pub log_lines: usize,
}

/// Last lines of an app's output, kept across restarts of the same release.
#[derive(Debug)]
pub(crate) struct LogRing {
    lines: Mutex<VecDeque<String>>,
    capacity: usize,
}

impl LogRing {
    fn new(capacity: usize) -> Self {
        LogRing {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            capacity,
        }
    }

    fn push(&self, line: String) {
        if self.capacity == 0 {
            return;
        }
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        while lines.len() >= self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub(crate) fn snapshot(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().cloned().collect()
    }

    fn tail(&self, count: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = lines.len().saturating_sub(count);
        let tail: Vec<&str> = lines.iter().skip(skip).map(String::as_str).collect();
        if tail.is_empty() {
            "(no output)".to_string()
        } else {
            tail.join("\n")
        }
    }
}

/// What the proxy needs to know about a supervised app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    Running {
        pid: u32,
    },
    Restarting {
        crashes: u32,
    },
    /// Crashed too often; stays down until redeployed.
    GaveUp {
        crashes: u32,
    },
    Stopped,
}

/// One spawned process with its output readers.
struct Running {
    child: Child,
    /// The process group id, which equals the leader's pid because of `process_group(0)`.
    pgid: i32,
    readers: Vec<JoinHandle<()>>,
    reaped: bool,
    /// Write end of the watchdog pipe; held, never written, so closing it (by drop or by the
    /// deployer dying) takes the group down.
    _lifeline: Option<ChildStdin>,
    /// The sandbox's cgroup and processes, when the app runs sandboxed; dropping it removes
    /// the cgroup (best effort), so the `Drop` below covers sandboxed apps too.
    sandbox: Option<kiln_sandbox::ServiceGuard>,
}

// If the owning task is dropped (runtime shutdown, panic) the app must not outlive it.
impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

impl Running {
    async fn wait(&mut self) -> String {
        let status = self.child.wait().await;
        self.reaped = true;
        // The leader is gone; anything it forked into the group would keep the port or pipes.
        signal_group(self.pgid, libc::SIGKILL);
        self.release_sandbox().await;
        self.drain_readers().await;
        describe(status)
    }

    async fn release_sandbox(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            sandbox.release().await;
        }
    }

    async fn drain_readers(&mut self) {
        for mut reader in self.readers.drain(..) {
            if tokio::time::timeout(READER_DRAIN, &mut reader)
                .await
                .is_err()
            {
                reader.abort();
            }
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`. The grace covers the whole group, not just
    /// the leader: a shell leader dies at once while the app behind it is still shutting down.
    async fn terminate(mut self, grace: Duration) {
        match &self.sandbox {
            Some(sandbox) => sandbox.signal(libc::SIGTERM),
            None => signal_group(self.pgid, libc::SIGTERM),
        }
        let deadline = Instant::now() + grace;
        let mut status = None;
        loop {
            if status.is_none()
                && let Ok(Some(exited)) = self.child.try_wait()
            {
                status = Some(exited);
                self.reaped = true;
            }
            if self.reaped && !group_alive(self.pgid) {
                break;
            }
            if Instant::now() >= deadline {
                signal_group(self.pgid, libc::SIGKILL);
                break;
            }
            tokio::time::sleep(STOP_POLL).await;
        }
        let status = match status {
            Some(status) => Ok(status),
            None => self.child.wait().await,
        };
        self.reaped = true;
        signal_group(self.pgid, libc::SIGKILL);
        self.release_sandbox().await;
        self.drain_readers().await;
        tracing::debug!(pgid = self.pgid, status = %describe(status), "app process ended");
    }
}

fn describe(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(err) => format!("unknown status: {err}"),
    }
}

/// Sends `signal` to a whole process group; failures (group already gone) are expected.
fn signal_group(pgid: i32, signal: libc::c_int) {
    // Group ids 0 and 1 would address our own group or every process we may signal.
    if pgid <= 1 {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) has no memory-safety preconditions; the negative pid addresses only the
    // process group created for this app, guarded above against the special values 0 and -1.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Whether any process that can still act is in the group. Zombies do not count: orphans are
/// reaped by init, and a lazy init (as in some containers) must not stretch every stop to the
/// full grace period.
fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    #[allow(unsafe_code)]
    // SAFETY: kill(2) with signal 0 only checks for existence and permission; see signal_group
    // for why the group id is safe to use.
    let result = unsafe { libc::kill(-pgid, 0) };
    let exists = result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    exists && live_member_in_proc(pgid).unwrap_or(true)
}

/// Scans /proc for a non-zombie member of `pgid`; `None` when /proc is unavailable.
fn live_member_in_proc(pgid: i32) -> Option<bool> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let wanted = pgid.to_string();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may contain spaces or parentheses; fields resume after the last ')'.
        let Some((_, fields)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = fields.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1);
        if pgrp == Some(wanted.as_str()) && !matches!(state, Some("Z" | "X")) {
            return Some(true);
        }
    }
    Some(false)
}

/// Asks the kernel to SIGKILL the app when the spawning thread's process dies.
#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut Command) {
    let parent = std::process::id();
    #[allow(unsafe_code)]
    // SAFETY: the closure runs in the forked child before exec; it only calls the
    // async-signal-safe prctl(2) and getppid(2) and builds errors without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The deployer may have died between fork and prctl; the signal would never come.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut Command) {}

/// Picks a free loopback port by letting the kernel choose one and releasing it again.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

// PR_SET_PDEATHSIG fires when the spawning *thread* exits, so this must run on a long-lived
// thread: a tokio worker or the runtime's main thread, never inside spawn_blocking.
fn spawn(launch: &Launch, logs: &Arc<LogRing>) -> Result<Running, Error> {
    let spawn_error = |source| Error::Spawn {
        app: launch.app.clone(),
        commit: launch.commit.clone(),
        source,
    };
    let (mut child, sandbox) = match &launch.sandbox {
        Some(sandbox) => {
            let var = |name: &str| {
                launch
                    .env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let spec = kiln_sandbox::ServiceSpec {
                command: WRAPPER.to_owned(),
                args: vec![launch.run.clone()],
                dir: launch.release.clone(),
                env: launch.env.clone(),
                path: var("PATH").unwrap_or_default(),
                home: var("HOME").map(PathBuf::from),
                network: launch
                    .network
                    .as_ref()
                    .map(|n| n.service_network(launch.port))
                    .unwrap_or_default(),
            };
            let mut service = sandbox
                .service(&spec)
                .map_err(|e| spawn_error(std::io::Error::other(e)))?;
            let command = service.command();
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            set_parent_death_signal(command);
            let (child, guard) = service.spawn().map_err(spawn_error)?;
            (child, Some(guard))
        }
        None => {
            let mut command = Command::new("/bin/sh");
            command
                .arg("-c")
                .arg(WRAPPER)
                .arg(&launch.run)
                .current_dir(&launch.release)
                .env_clear()
                .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(false);
            set_parent_death_signal(&mut command);
            (command.spawn().map_err(spawn_error)?, None)
        }
    };
    let pgid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .unwrap_or(0);
    let lifeline = child.stdin.take();
    let mut readers = Vec::with_capacity(2);
    if let Some(stdout) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            stdout,
            launch.clone(),
            "stdout",
            logs.clone(),
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            stderr,
            launch.clone(),
            "stderr",
            logs.clone(),
        )));
    }
    Ok(Running {
        child,
        pgid,
        readers,
        reaped: false,
        _lifeline: lifeline,
        sandbox,
    })
}

/// Copies output into tracing and the ring line by line, bounding each line.
async fn pump(
    stream: impl AsyncRead + Unpin,
    launch: Launch,
    stream_name: &'static str,
    logs: Arc<LogRing>,
) {
    let mut reader = BufReader::new(stream);
    let mut line: Vec<u8> = Vec::new();
    // A read error ends the stream just like EOF: the process is gone or closed its end.
    while let Ok(buf) = reader.fill_buf().await {
        if buf.is_empty() {
            break;
        }
        let (take, complete) = match buf.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (buf.len(), false),
        };
        let content = if complete { take - 1 } else { take };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&buf[..content.min(room)]);
        reader.consume(take);
        if complete || line.len() >= MAX_LINE {
            emit(&launch, stream_name, &logs, &line);
            line.clear();
        }
    }
    if !line.is_empty() {
        emit(&launch, stream_name, &logs, &line);
    }
}

fn emit(launch: &Launch, stream_name: &'static str, logs: &LogRing, raw: &[u8]) {
    let text = String::from_utf8_lossy(raw);
    let text = text.trim_end_matches('\r');
    info!(app = %launch.app, commit = %launch.commit, stream = stream_name, line = %text, "app output");
    logs.push(text.to_string());
}

enum Startup {
    Listening,
    Exited(String),
    TimedOut,
}

async fn wait_ready(running: &mut Running, port: u16, timeout: Duration) -> Startup {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    // In a network of its own the port is out of reach; the bridge says when it accepts.
    if let Some(ready) = running.sandbox.as_mut().and_then(|s| s.ready()) {
        let ready = ready.wait();
        tokio::pin!(ready);
        let mut waiting = true;
        loop {
            tokio::select! {
                status = running.wait() => return Startup::Exited(status),
                () = &mut deadline => return Startup::TimedOut,
                up = &mut ready, if waiting => {
                    if up {
                        return Startup::Listening;
                    }
                    // The bridge is gone, so the sandbox is ending: its exit says why.
                    waiting = false;
                }
            }
        }
    }
    loop {
        tokio::select! {
            status = running.wait() => return Startup::Exited(status),
            () = &mut deadline => return Startup::TimedOut,
            () = tokio::time::sleep(READY_POLL) => {
                let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
                if let Ok(Ok(_)) = tokio::time::timeout(READY_POLL * 10, connect).await {
                    return Startup::Listening;
                }
            }
        }
    }
}

/// State shared between an [`Instance`] handle and its supervisor task.
#[derive(Debug)]
struct Shared {
    launch: Launch,
    policy: Policy,
    logs: Arc<LogRing>,
    health: Mutex<Health>,
}

impl Shared {
    fn set_health(&self, health: Health) {
        *self.health.lock().unwrap_or_else(PoisonError::into_inner) = health;
    }
}

/// A release's process under supervision.
#[derive(Debug)]
pub(crate) struct Instance {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Instance {
    /// Spawns the app and returns once it accepts connections on its port.
    pub(crate) async fn start(launch: Launch, policy: Policy) -> Result<Instance, Error> {
        let logs = Arc::new(LogRing::new(policy.log_lines));
        let mut running = spawn(&launch, &logs)?;
        match wait_ready(&mut running, launch.port, policy.readiness_timeout).await {
            Startup::Listening => {}
            Startup::Exited(status) => {
                return Err(Error::ExitedOnStart {
                    app: launch.app,
                    commit: launch.commit,
                    status,
                    output: logs.tail(ERROR_TAIL),
                });
            }
            Startup::TimedOut => {
                running.terminate(policy.stop_grace).await;
                return Err(Error::NotReady {
                    app: launch.app,
                    commit: launch.commit,
                    port: launch.port,
                    timeout: policy.readiness_timeout,
                    output: logs.tail(ERROR_TAIL),
                });
            }
        }
        let pid = u32::try_from(running.pgid).unwrap_or(0);
        info!(app = %launch.app, commit = %launch.commit, port = launch.port, pid, "app started");
        let shared = Arc::new(Shared {
            launch,
            policy,
            logs,
            health: Mutex::new(Health::Running { pid }),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(supervise(shared.clone(), running, stop_rx));
        Ok(Instance {
            shared,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    pub(crate) fn health(&self) -> Health {
        *self
            .shared
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn logs(&self) -> Vec<String> {
        self.shared.logs.snapshot()
    }

    pub(crate) fn port(&self) -> u16 {
        self.shared.launch.port
    }

    /// The socket the proxy connects to instead of the port, when the app has a network of
    /// its own.
    pub(crate) fn inbound_socket(&self) -> Option<&std::path::Path> {
        self.shared.launch.network.as_ref().map(|n| n.inbound())
    }

    pub(crate) fn crash_window(&self) -> Duration {
        self.shared.policy.crash_window
    }

    /// Tells the supervisor to stop without waiting, so many apps can wind down in parallel.
    pub(crate) fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops the process (if still running) and waits until it is gone.
    pub(crate) async fn stop(&self) {
        self.request_stop();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(err) = task.await
        {
            error!(app = %self.shared.launch.app, error = %err, "supervisor task failed");
        }
    }
}

async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    // A dropped sender means the Instance is gone, which is also a stop.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Restarts the app when it exits on its own, backing off exponentially and giving up after
/// too many crashes in a window so a broken app never spins in a hot loop.
async fn supervise(shared: Arc<Shared>, first: Running, mut stop: watch::Receiver<bool>) {
    let launch = &shared.launch;
    let policy = shared.policy;
    let mut current = Some(first);
    let mut crashes: VecDeque<Instant> = VecDeque::new();
    loop {
        let status = match current.take() {
            Some(mut running) => {
                tokio::select! {
                    status = running.wait() => status,
                    () = stop_requested(&mut stop) => {
                        running.terminate(policy.stop_grace).await;
                        shared.set_health(Health::Stopped);
                        info!(app = %launch.app, commit = %launch.commit, "app stopped");
                        return;
                    }
                }
            }
            None => "failed to spawn".to_string(),
        };

        let now = Instant::now();
        crashes.push_back(now);
        while crashes
            .front()
            .is_some_and(|at| now.duration_since(*at) > policy.crash_window)
        {
            crashes.pop_front();
        }
        let count = u32::try_from(crashes.len()).unwrap_or(u32::MAX);
        if count >= policy.max_crashes {
            error!(
                app = %launch.app,
                commit = %launch.commit,
                crashes = count,
                window_s = policy.crash_window.as_secs(),
                status = %status,
                "app keeps crashing, giving up"
            );
            shared.set_health(Health::GaveUp { crashes: count });
            return;
        }
        let delay = backoff(policy, count);
        warn!(
            app = %launch.app,
            commit = %launch.commit,
            status = %status,
            crashes = count,
            restart_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "app exited unexpectedly, restarting"
        );
        shared.set_health(Health::Restarting { crashes: count });
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop_requested(&mut stop) => {
                shared.set_health(Health::Stopped);
                return;
            }
        }
        match spawn(launch, &shared.logs) {
            Ok(running) => {
                let pid = u32::try_from(running.pgid).unwrap_or(0);
                info!(app = %launch.app, commit = %launch.commit, pid, "app restarted");
                shared.set_health(Health::Running { pid });
                current = Some(running);
            }
            Err(err) => {
                error!(app = %launch.app, commit = %launch.commit, error = %err, "app restart failed");
            }
        }
    }
}

/// `initial * 2^(crashes-1)`, capped; derived from the crash count in the window so a stable
/// period resets it.
fn backoff(policy: Policy, crashes: u32) -> Duration {
    let factor = 2u32.saturating_pow(crashes.saturating_sub(1));
    policy
        .backoff_initial
        .saturating_mul(factor)
        .min(policy.backoff_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_lines() {
        let ring = LogRing::new(3);
        for n in 0..5 {
            ring.push(format!("line {n}"));
        }
        assert_eq!(ring.snapshot(), ["line 2", "line 3", "line 4"]);
        assert_eq!(ring.tail(2), "line 3\nline 4");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = Policy {
            readiness_timeout: Duration::from_secs(20),
            stop_grace: Duration::from_secs(5),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(30),
            max_crashes: 5,
            crash_window: Duration::from_secs(60),
            log_lines: 200,
        };
        let delays: Vec<u64> = (1..=7).map(|n| backoff(policy, n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }
}
