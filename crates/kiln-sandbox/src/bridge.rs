//! The network bridge of a service sandbox: the only way into and out of the private network
//! namespace a service gets, running inside the sandbox as the parent of the service.
//!
//! A service started with a [`ServiceNetwork`](crate::ServiceNetwork) has nothing but its own
//! loopback. The launcher starts `<program> sandbox-bridge ...` as the sandbox's command (the
//! program is the `kiln` binary, bound read-only at [`PROGRAM`]) and the bridge:
//!
//! - inbound: accepts on a Unix socket the host created and listens on, handed over as fd
//!   [`INBOUND_FD`], and connects each connection to `127.0.0.1:<port>` inside the namespace.
//!   The host connects to the socket by its host path, which the service cannot see or
//!   replace; a socket file the service could swap for a symlink would let it steer the host's
//!   connections to any host socket. When the port first accepts a connection it writes one
//!   byte to the pipe at fd [`READY_FD`], which is how the host learns the service is up;
//! - outbound: listens on `127.0.0.1:<port>` inside for each outbound port and connects each
//!   connection to the host Unix socket bound read-only at [`outbound_socket`]`(port)`. What
//!   serves that socket on the host (a database gate) decides what the service may reach;
//! - then runs the rest of its arguments (the service's supervisor) as its child and exits
//!   with the child's status. SIGTERM does not stop it: a graceful stop must keep the service's
//!   connections up until the service is gone.
//!
//! Nothing else leaves the namespace: no DNS, no other port, no abstract Unix socket of the
//! host (those belong to the network namespace too).

use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The subcommand the bridge program is started with: `<program> sandbox-bridge ...`.
pub const COMMAND: &str = "sandbox-bridge";

/// Where the bridge program is bound inside the sandbox.
pub(crate) const PROGRAM: &str = "/run/kiln/bridge";
/// The inbound listening socket, inherited by the bridge.
pub(crate) const INBOUND_FD: RawFd = 3;
/// The write end of the readiness pipe, inherited by the bridge.
pub(crate) const READY_FD: RawFd = 4;

/// Where the host socket for an outbound port is bound inside the sandbox.
pub(crate) fn outbound_socket(port: u16) -> String {
    format!("/run/kiln/out-{port}.sock")
}

const READY_POLL: Duration = Duration::from_millis(50);
/// Exit status when the bridge itself cannot start, as `env` and `nohup` use.
const CANNOT_START: u8 = 125;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    inbound: Option<u16>,
    outbound: Vec<u16>,
    command: Vec<OsString>,
}

fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Plan, String> {
    let mut args = args.into_iter();
    let mut plan = Plan {
        inbound: None,
        outbound: Vec::new(),
        command: Vec::new(),
    };
    let port = |value: Option<OsString>, flag: &str| -> Result<u16, String> {
        value
            .and_then(|v| v.to_str().and_then(|v| v.parse().ok()))
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("{flag} needs a port"))
    };
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--inbound") => plan.inbound = Some(port(args.next(), "--inbound")?),
            Some("--outbound") => plan.outbound.push(port(args.next(), "--outbound")?),
            Some("--") => {
                plan.command = args.collect();
                break;
            }
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    if plan.command.is_empty() {
        return Err("no command after --".into());
    }
    Ok(plan)
}

/// Runs the bridge with the arguments after [`COMMAND`] and returns the service's exit status.
/// The `kiln` binary calls it for `kiln sandbox-bridge`.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let plan = match parse(args) {
        Ok(plan) => plan,
        Err(why) => {
            eprintln!("kiln sandbox-bridge: {why}");
            return ExitCode::from(CANNOT_START);
        }
    };
    // One thread: the bridge counts against the service's process limit.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kiln sandbox-bridge: cannot start the async runtime: {e}");
            return ExitCode::from(CANNOT_START);
        }
    };
    match runtime.block_on(run(plan)) {
        Ok(status) => ExitCode::from(status),
        Err(why) => {
            eprintln!("kiln sandbox-bridge: {why}");
            ExitCode::from(CANNOT_START)
        }
    }
}

async fn run(plan: Plan) -> Result<u8, String> {
    // Installed before the service exists, so a stop's SIGTERM never ends the bridge first.
    let mut terms = Vec::new();
    for kind in [
        tokio::signal::unix::SignalKind::terminate(),
        tokio::signal::unix::SignalKind::interrupt(),
        tokio::signal::unix::SignalKind::hangup(),
    ] {
        terms.push(
            tokio::signal::unix::signal(kind)
                .map_err(|e| format!("cannot handle stop signals: {e}"))?,
        );
    }
    if let Some(port) = plan.inbound {
        let (listener, ready) = inherited()?;
        tokio::spawn(inbound(listener, port));
        tokio::spawn(announce_ready(ready, port));
    }
    for &port in &plan.outbound {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        tokio::spawn(outbound(listener, port));
    }
    let (program, args) = plan.command.split_first().ok_or("no command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e}"))?;
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for the service: {e}"))?;
    drop(terms);
    Ok(exit_status(status))
}

/// A shell's view of a status: the code, or 128 + the signal that ended it.
fn exit_status(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}

/// Takes ownership of the inbound socket and the readiness pipe at their fixed descriptors,
/// after checking that they are what the launcher hands over, and keeps them from the service.
#[allow(unsafe_code)]
fn inherited() -> Result<(UnixListener, tokio::net::unix::pipe::Sender), String> {
    let kind = |fd: RawFd| -> Option<libc::mode_t> {
        // SAFETY: fstat(2) writes only into the zeroed struct we own.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        (unsafe { libc::fstat(fd, &mut stat) } == 0).then_some(stat.st_mode & libc::S_IFMT)
    };
    if kind(INBOUND_FD) != Some(libc::S_IFSOCK) || kind(READY_FD) != Some(libc::S_IFIFO) {
        return Err(format!(
            "fd {INBOUND_FD} must be the inbound socket and fd {READY_FD} the readiness pipe"
        ));
    }
    let (listener, ready) = {
        // SAFETY: both descriptors were just checked to be open, are inherited from the
        // launcher for this purpose only, and nothing else in this process owns them.
        unsafe {
            (
                OwnedFd::from_raw_fd(INBOUND_FD),
                OwnedFd::from_raw_fd(READY_FD),
            )
        }
    };
    for fd in [INBOUND_FD, READY_FD] {
        // SAFETY: fcntl(2) on a descriptor this function now owns; the service the bridge
        // starts must not inherit either of them.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(format!(
                "cannot keep fd {fd} from the service: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    let listener = std::os::unix::net::UnixListener::from(listener);
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("inbound socket: {e}"))?;
    let listener = UnixListener::from_std(listener).map_err(|e| format!("inbound socket: {e}"))?;
    let ready = tokio::net::unix::pipe::Sender::from_owned_fd(ready)
        .map_err(|e| format!("readiness pipe: {e}"))?;
    Ok((listener, ready))
}

/// Writes one byte once the service accepts connections on `port`, then closes the pipe.
async fn announce_ready(mut ready: tokio::net::unix::pipe::Sender, port: u16) {
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        tokio::time::sleep(READY_POLL).await;
    }
    // The host may have stopped waiting; nothing to do about that.
    let _ = ready.write_all(b"R").await;
}

async fn inbound(listener: UnixListener, port: u16) {
    loop {
        let Ok((mut from_host, _)) = listener.accept().await else {
            // Out of descriptors, most likely: the service's own limit; try again shortly.
            tokio::time::sleep(READY_POLL).await;
            continue;
        };
        tokio::spawn(async move {
            // Not listening (yet, or any more): closing tells the host at once.
            if let Ok(mut to_service) = TcpStream::connect(("127.0.0.1", port)).await {
                let _ = tokio::io::copy_bidirectional(&mut from_host, &mut to_service).await;
            }
        });
    }
}

async fn outbound(listener: TcpListener, port: u16) {
    let socket = outbound_socket(port);
    loop {
        let Ok((mut from_service, _)) = listener.accept().await else {
            tokio::time::sleep(READY_POLL).await;
            continue;
        };
        let socket = socket.clone();
        tokio::spawn(async move {
            match UnixStream::connect(&socket).await {
                Ok(mut to_host) => {
                    let _ = tokio::io::copy_bidirectional(&mut from_service, &mut to_host).await;
                }
                Err(e) => eprintln!("kiln sandbox-bridge: outbound port {port}: {e}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn reads_ports_and_the_command() {
        let plan = parse(args(&[
            "--inbound",
            "8080",
            "--outbound",
            "5432",
            "--outbound",
            "3306",
            "--",
            "sh",
            "-c",
            "--inbound",
        ]))
        .unwrap();
        assert_eq!(
            plan,
            Plan {
                inbound: Some(8080),
                outbound: vec![5432, 3306],
                command: args(&["sh", "-c", "--inbound"]),
            }
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        for bad in [
            &["--"][..],
            &["sh"],
            &["--inbound", "--", "sh"],
            &["--inbound", "0", "--", "sh"],
            &["--outbound", "70000", "--", "sh"],
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?} accepted");
        }
    }
}
