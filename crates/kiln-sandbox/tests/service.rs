//! Long-running services under real bubblewrap: what they see and reach, and that a graceful
//! stop reaches the app inside while the guard cleans up the cgroup, all checked from outside.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_sandbox::{Config, Inbound, Mode, Outbound, Sandbox, ServiceNetwork, ServiceSpec};

fn spec(dir: &Path, command: &str) -> ServiceSpec {
    ServiceSpec {
        command: command.into(),
        args: vec!["first argument".into()],
        dir: dir.to_path_buf(),
        env: vec![("APP_SETTING".into(), "on".into())],
        path: "/usr/local/bin:/usr/bin:/bin".into(),
        home: None,
        network: ServiceNetwork::default(),
    }
}

fn sandbox() -> Sandbox {
    Sandbox::new(&Config::default())
        .expect("bubblewrap works on this machine")
        .with_bridge_program(env!("CARGO_BIN_EXE_kiln-sandbox-bridge"))
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The per-service cgroup directories of `pid` (below a `kiln-sandbox` parent), from its
/// `/proc/<pid>/cgroup`, trying each suffix of the path since mounts may show a subtree.
fn service_cgroups(pid: u32) -> Vec<PathBuf> {
    let membership = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut dirs = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if !path.contains("/kiln-sandbox/") {
            continue;
        }
        let bases: Vec<PathBuf> = if controllers.is_empty() {
            vec!["/sys/fs/cgroup/unified".into(), "/sys/fs/cgroup".into()]
        } else {
            controllers
                .split(',')
                .map(|c| Path::new("/sys/fs/cgroup").join(c))
                .collect()
        };
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for base in &bases {
            if let Some(dir) = (0..segments.len())
                .map(|start| base.join(segments[start..].join("/")))
                .find(|d| d.is_dir())
            {
                dirs.push(dir);
            }
        }
    }
    dirs
}

async fn wait_for_file(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn a_service_sees_only_its_directory_and_no_host_port() {
    let sandbox = sandbox();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("release");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "top secret").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Kiln's Postgres and NATS listen on the host too; none of them is there for the service.
    let command = format!(
        "echo \"$0\" > arg; env | cut -d= -f1 | sort | tr '\\n' ' ' > env; \
         if cat ../secret.txt; then echo visible; else echo hidden; fi > secret; \
         for p in {port} 5432 4222; do \
           node -e \"require('net').connect($p, '127.0.0.1', () => {{ console.log('REACHED'); process.exit(0); }})\
           .on('error', (e) => console.log(e.code))\"; \
         done > reach"
    );
    let service = sandbox.service(&spec(&dir, &command)).expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    let status = child.wait().await.unwrap();
    guard.release().await;
    assert!(status.success(), "{status}");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("arg"), "first argument\n");
    assert_eq!(read("secret"), "hidden\n");
    assert_eq!(read("reach"), "ECONNREFUSED\nECONNREFUSED\nECONNREFUSED\n");
    assert!(
        listener.accept().is_err(),
        "the host listener saw a connection from the service"
    );
    let mut names: Vec<String> = read("env").split_whitespace().map(String::from).collect();
    names.retain(|n| n != "PWD" && n != "SHLVL" && n != "_" && n != "OLDPWD");
    assert_eq!(names, ["APP_SETTING", "HOME", "LANG", "PATH"]);
}

/// A service that reports what it can reach and serves the report over HTTP on `$PORT`.
const REPORTER_PY: &str = r#"
import http.server, json, os, socket, sys

def attempt(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=3).close()
        return 'REACHED'
    except OSError as e:
        return type(e).__name__

def outbound(port):
    s = socket.create_connection(('127.0.0.1', port), timeout=3)
    s.sendall(b'ping')
    s.shutdown(socket.SHUT_WR)
    # Until the host end closes: the bridge may deliver the answer in more than one piece.
    got = b''
    while True:
        chunk = s.recv(100)
        if not chunk:
            return got.decode()
        got += chunk

def resolves(name):
    try:
        socket.getaddrinfo(name, 80)
        return 'RESOLVED'
    except OSError as e:
        return type(e).__name__

def tamper(path):
    try:
        os.unlink(path)
        return 'REMOVED'
    except OSError as e:
        return type(e).__name__

out_port = int(os.environ['OUT_PORT'])
report = {
    'hosts': {p: attempt(int(p)) for p in os.environ['HOST_PORTS'].split()},
    'outbound': outbound(out_port),
    'dns': resolves('example.com'),
    'inbound_socket_visible': os.path.exists(os.environ['INBOUND_SOCKET']),
    'tamper_outbound': tamper('/run/kiln/out-%d.sock' % out_port),
    'plant': tamper('/run/kiln/bridge'),
}

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(report).encode()
        self.send_response(200)
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler).serve_forever()
"#;

/// `GET /` over the Unix socket at `path`, returning the body.
fn get_over(path: &Path) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(path).expect("connect inbound");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: app\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    assert!(head.starts_with("HTTP/1.0 200"), "{head}");
    body.to_owned()
}

#[tokio::test]
async fn a_service_is_reached_only_through_its_socket_and_reaches_only_its_outbound() {
    let sandbox = sandbox();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("release");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("app.py"), REPORTER_PY).unwrap();
    // Stand-ins for the API and another app on host loopback, beside Postgres and NATS.
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other_app = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    for l in [&api, &other_app] {
        l.set_nonblocking(true).unwrap();
    }
    let host_ports = [
        api.local_addr().unwrap().port(),
        other_app.local_addr().unwrap().port(),
        5432,
        4222,
    ];
    // The host end of the way out: answers what it is sent, marked.
    let out_socket = tmp.path().join("out.sock");
    let out_listener = std::os::unix::net::UnixListener::bind(&out_socket).unwrap();
    let echo = std::thread::spawn(move || {
        let (mut conn, _) = out_listener.accept().unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        conn.write_all(b"host:").unwrap();
        conn.write_all(&got).unwrap();
    });
    let inbound = tmp.path().join("in.sock");
    let (port, out_port) = (free_port(), free_port());
    let ports: Vec<String> = host_ports.iter().map(u16::to_string).collect();
    let mut spec = spec(&dir, "exec python3 app.py");
    spec.env = vec![
        ("PORT".into(), port.to_string()),
        ("OUT_PORT".into(), out_port.to_string()),
        ("HOST_PORTS".into(), ports.join(" ")),
        ("INBOUND_SOCKET".into(), inbound.display().to_string()),
    ];
    spec.path = format!("{}:/usr/local/bin:/usr/bin:/bin", python_dir());
    spec.network = ServiceNetwork {
        inbound: Some(Inbound {
            socket: inbound.clone(),
            port,
        }),
        outbound: vec![Outbound {
            port: out_port,
            socket: out_socket.clone(),
        }],
    };
    let service = sandbox.service(&spec).expect("service");
    let (mut child, mut guard) = service.spawn().expect("spawn");
    let ready = guard.ready().expect("an inbound service reports readiness");
    tokio::select! {
        up = ready.wait() => assert!(up, "the bridge reported the service down"),
        status = child.wait() => panic!("the service exited: {status:?}"),
        () = tokio::time::sleep(Duration::from_secs(30)) => panic!("the service never got ready"),
    }
    let body = tokio::task::spawn_blocking(move || get_over(&inbound))
        .await
        .unwrap();
    echo.join().unwrap();
    let report: serde_json::Value = serde_json::from_str(&body).expect("json report");
    for port in &ports {
        assert_eq!(
            report["hosts"][port], "ConnectionRefusedError",
            "host port {port}: {report}"
        );
    }
    assert_eq!(report["outbound"], "host:ping", "{report}");
    assert_eq!(report["dns"], "gaierror", "{report}");
    assert_eq!(report["inbound_socket_visible"], false, "{report}");
    assert_ne!(report["tamper_outbound"], "REMOVED", "{report}");
    assert_ne!(report["plant"], "REMOVED", "{report}");
    for l in [&api, &other_app] {
        assert!(l.accept().is_err(), "a host listener saw the service");
    }
    guard.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service ends after SIGTERM")
        .unwrap();
    assert!(!status.success(), "python dies of SIGTERM: {status}");
    guard.release().await;
}

/// The directory of the `python3` the tests run with (pyenv shims live outside `/usr`).
fn python_dir() -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    let path = String::from_utf8(out.stdout).unwrap();
    Path::new(path.trim())
        .parent()
        .expect("python3 on PATH")
        .display()
        .to_string()
}

#[test]
fn mode_none_refuses_a_service_network() {
    let sandbox = Sandbox::new(&Config {
        mode: Mode::None,
        ..Config::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(dir.path(), "true");
    spec.network.outbound.push(Outbound {
        port: 5432,
        socket: dir.path().join("db.sock"),
    });
    let err = sandbox
        .service(&spec)
        .expect_err("mode none has no network of its own");
    assert!(
        matches!(err, kiln_sandbox::Error::NetworkWithoutSandbox),
        "{err}"
    );
}

#[tokio::test]
async fn sigterm_reaches_the_app_and_release_removes_the_cgroup() {
    for bridged in [false, true] {
        sigterm_reaches_the_app(bridged).await;
    }
}

async fn sigterm_reaches_the_app(bridged: bool) {
    let sandbox = sandbox();
    let dir = tempfile::tempdir().unwrap();
    // The app is a grandchild behind a shell that dies of SIGTERM at once, and it takes its
    // time to shut down: the sandbox must stay up until it is done.
    std::fs::write(
        dir.path().join("app.sh"),
        "trap 'sleep 0.3; echo term > got; exit 0' TERM\necho up > ready\n\
         while :; do sleep 0.1; done\n",
    )
    .unwrap();
    let mut spec = spec(dir.path(), "sh app.sh; echo unreachable");
    if bridged {
        // The bridge is the supervisor's parent then, and must not hold the stop up.
        spec.network.inbound = Some(Inbound {
            socket: dir.path().join("in.sock"),
            port: free_port(),
        });
    }
    let service = sandbox.service(&spec).expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    wait_for_file(&dir.path().join("ready")).await;
    let pid = child.id().expect("pid");
    let groups = service_cgroups(pid);
    if sandbox.enforcement().memory.starts_with("cgroup") {
        assert!(!groups.is_empty(), "the service runs in its own cgroup");
    }
    guard.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service ends after SIGTERM")
        .unwrap();
    // The service's own shell died of SIGTERM (128 + 15), which bubblewrap reports.
    assert_eq!(status.code(), Some(143));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("got")).unwrap(),
        "term\n"
    );
    guard.release().await;
    for group in groups {
        assert!(!group.exists(), "{} left behind", group.display());
    }
}

#[tokio::test]
async fn mode_none_runs_the_plain_command_and_signals_its_group() {
    let sandbox = Sandbox::new(&Config {
        mode: Mode::None,
        ..Config::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let command = "trap 'echo term > got; exit 0' TERM; echo \"$APP_SETTING $0\" > ready; \
                   while :; do sleep 0.1; done";
    let service = sandbox
        .service(&spec(dir.path(), command))
        .expect("service");
    let (mut child, guard) = service.spawn().expect("spawn");
    wait_for_file(&dir.path().join("ready")).await;
    guard.signal(libc::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("the service ends after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ready")).unwrap(),
        "on first argument\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("got")).unwrap(),
        "term\n"
    );
    guard.release().await;
}
