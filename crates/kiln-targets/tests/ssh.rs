//! End-to-end tests of the ssh target against a real sshd and a real nginx on loopback (see
//! `kiln_testkit::ssh_host`); process apps run under a real PM2. Each test starts its own host.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kiln_targets::{
    DeploySpec, Error, PortRange, ServeKind, SshConfig, SshTarget, Supervisor, Target,
};
use kiln_testkit::ssh_host::SshHost;
use serde_json::Value;

/// Looks like a real credential so a leak would be obvious; must never show up in errors or logs.
const SECRET: &str = "postgres://kiln:Sup3r-s3cret-pw@db.internal:5432/todo";

const SERVER_JS: &str = r#"
const http = require('http');
http.createServer((req, res) => {
  if (req.url.startsWith('/env')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ env: process.env, pid: process.pid, url: req.url }));
    return;
  }
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (req.url === '/__kiln/version') { res.end(process.env.KILN_BUILD_SHA + '\n'); return; }
  res.setHeader('content-type', 'text/html');
  res.end('<h1>hello from ' + process.env.BASE_PATH + '</h1>');
}).listen(Number(process.env.PORT), process.env.HOST);
"#;

/// Every log line of this test binary, to check secrets never reach logs.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    let logs = logs();
    let bytes = logs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn config(host: &SshHost) -> SshConfig {
    let mut config = SshConfig::new(
        host.host.clone(),
        host.user.clone(),
        host.identity_file.clone(),
        host.known_hosts_file.clone(),
        host.remote_root.display().to_string(),
        host.public_url.clone(),
        host.nginx_apps_dir.display().to_string(),
    );
    config.port = host.port;
    config.nginx_test = host.nginx_test.clone();
    config.nginx_reload = host.nginx_reload.clone();
    let (start, end) = host.free_port_block(8);
    config.ports = PortRange { start, end };
    config.connect_timeout_secs = 5;
    config.readiness_timeout_secs = 20;
    config.verify_window_secs = 5;
    config
}

fn target(config: SshConfig) -> SshTarget {
    SshTarget::new(config).expect("valid ssh config")
}

fn static_site(dir: &Path, name: &str, heading: &str) -> PathBuf {
    let src = dir.join(name);
    std::fs::create_dir_all(src.join("dist/sub")).expect("mkdir");
    std::fs::create_dir_all(src.join(".git")).expect("mkdir");
    std::fs::write(src.join(".git/config"), "git secrets").expect("write");
    std::fs::write(src.join("dist/index.html"), format!("<h1>{heading}</h1>")).expect("write");
    std::fs::write(src.join("dist/sub/index.html"), "<p>sub page</p>").expect("write");
    src
}

fn static_spec(app: &str, commit: &str, src: &Path, expect: &str) -> DeploySpec {
    DeploySpec {
        app: app.into(),
        commit: commit.into(),
        source_dir: src.to_path_buf(),
        kind: ServeKind::Static { dir: "dist".into() },
        health_path: "/".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec![expect.into()],
    }
}

fn node_spec(app: &str, commit: &str, src: &Path, run: &str) -> DeploySpec {
    DeploySpec {
        app: app.into(),
        commit: commit.into(),
        source_dir: src.to_path_buf(),
        kind: ServeKind::Process {
            run: run.into(),
            env: vec![
                ("DATABASE_URL".into(), SECRET.into()),
                ("GREETING".into(), "hi".into()),
            ],
        },
        health_path: "/healthz".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec!["hello from /apps/".into()],
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

async fn version(host: &SshHost, app: &str) -> String {
    let (status, body) = get(&format!("{}/apps/{app}/__kiln/version", host.public_url)).await;
    assert_eq!(status, 200, "version of {app}: {body}");
    body.trim().to_owned()
}

#[tokio::test]
async fn static_site_is_served_by_nginx_idempotently_and_rolls_back() {
    logs();
    let host = SshHost::start();
    let target = target(config(&host));
    let c1 = static_site(host.dir(), "build1", "Hello one");
    let c2 = static_site(host.dir(), "build2", "Hello two");

    let spec1 = static_spec("site", "c1", &c1, "Hello one");
    let deployed = target.deploy(&spec1).await.expect("deploy c1");
    assert_eq!(deployed.url, format!("{}/apps/site/", host.public_url));
    let release = host.remote_root.join("site/releases/c1");
    assert_eq!(deployed.dir, release);
    let (status, body) = get(&deployed.url).await;
    assert_eq!((status, body.as_str()), (200, "<h1>Hello one</h1>"));
    let (status, body) = get(&format!("{}sub/", deployed.url)).await;
    assert_eq!((status, body.as_str()), (200, "<p>sub page</p>"));
    assert_eq!(version(&host, "site").await, "c1");
    assert!(!release.join(".git").exists(), "the .git dir was uploaded");
    let (status, _) = get(&format!("{}.kiln/serve", deployed.url)).await;
    assert_eq!(status, 404, "kiln metadata must not be served");
    let verification = target.verify(&spec1, &deployed).await;
    assert!(verification.ok, "{verification:?}");
    let (commit, current) = target.current("site").await.expect("current");
    assert_eq!((commit.as_str(), &current), ("c1", &deployed));

    // The same deploy again changes nothing on the host.
    std::fs::write(release.join("marker"), "still here").expect("marker");
    let snippet = host.nginx_apps_dir.join("site.conf");
    let snippet_time = std::fs::metadata(&snippet)
        .expect("snippet")
        .modified()
        .expect("mtime");
    let again = target.deploy(&spec1).await.expect("redeploy c1");
    assert_eq!(again, deployed);
    assert!(
        release.join("marker").exists(),
        "the release was re-uploaded"
    );
    assert_eq!(
        std::fs::metadata(&snippet)
            .expect("snippet")
            .modified()
            .expect("mtime"),
        snippet_time,
        "the snippet was rewritten"
    );

    let spec2 = static_spec("site", "c2", &c2, "Hello two");
    let deployed2 = target.deploy(&spec2).await.expect("deploy c2");
    assert!(target.verify(&spec2, &deployed2).await.ok);
    assert_eq!(get(&deployed2.url).await.1, "<h1>Hello two</h1>");

    // Roll back: the first release serves again, without its build directory.
    std::fs::remove_dir_all(&c1).expect("remove build1");
    let back = target.activate("site", "c1").await.expect("activate c1");
    assert_eq!(back, deployed);
    assert_eq!(version(&host, "site").await, "c1");
    assert!(target.verify(&spec1, &back).await.ok);
    assert_eq!(target.current("site").await.expect("current").0, "c1");

    let err = target
        .activate("site", "c9")
        .await
        .expect_err("no such release");
    assert!(matches!(err, Error::ReleaseMissing { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "app site has no release c9 on this target; deploy that commit again"
    );

    // Removal frees everything and can be repeated.
    target.remove("site").await.expect("remove");
    assert_eq!(get(&deployed.url).await.0, 404);
    assert!(!host.remote_root.join("site").exists());
    assert!(!snippet.exists());
    assert!(target.current("site").await.is_none());
    target.remove("site").await.expect("remove again");
}

#[tokio::test]
async fn process_app_runs_under_pm2_behind_nginx() {
    logs();
    let mut host = SshHost::start();
    let mut config = config(&host);
    config.supervisor = Supervisor::Pm2;
    config.pm2 = host.pm2_command();
    let target = target(config.clone());
    let src = host.dir().join("node-app");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("server.js"), SERVER_JS).expect("write");

    let spec1 = node_spec("api", "c1", &src, "node server.js");
    let deployed = target.deploy(&spec1).await.expect("deploy c1");
    let port = deployed.port.expect("process apps have a port");
    assert!((config.ports.start..=config.ports.end).contains(&port));
    let verification = target.verify(&spec1, &deployed).await;
    assert!(verification.ok, "{verification:?}");

    let (status, body) = get(&format!("{}env?x=1", deployed.url)).await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("json");
    let env = &seen["env"];
    assert_eq!(env["DATABASE_URL"], SECRET);
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["BASE_PATH"], "/apps/api");
    assert_eq!(env["PORT"], port.to_string());
    assert_eq!(seen["url"], "/env?x=1", "nginx strips the /apps/api prefix");
    let names: Vec<&String> = env.as_object().expect("env object").keys().collect();
    assert!(
        !names
            .iter()
            .any(|name| name.starts_with("PM2") || *name == "SSH_CONNECTION"),
        "the supervisor's environment leaked into the app: {names:?}"
    );
    let env_file = host.remote_root.join("api/releases/c1/.kiln/env");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&env_file)
            .expect("env file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // Idempotent: the same process keeps running.
    let pid = seen["pid"].clone();
    assert_eq!(target.deploy(&spec1).await.expect("redeploy"), deployed);
    let (_, body) = get(&format!("{}env", deployed.url)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).expect("json")["pid"],
        pid
    );

    let spec2 = node_spec("api", "c2", &src, "node server.js");
    let deployed2 = target.deploy(&spec2).await.expect("deploy c2");
    assert_eq!(deployed2.port, Some(port), "an app keeps its port");
    assert_eq!(version(&host, "api").await, "c2");

    // A release that dies on start: the error carries its output without the secret, and the
    // previous release is brought back.
    let mut quick = config.clone();
    quick.readiness_timeout_secs = 3;
    let quick = self::target(quick);
    let broken = node_spec(
        "api",
        "c3",
        &src,
        "node -e \"console.log('db is ' + process.env.DATABASE_URL); process.exit(3)\"",
    );
    let err = quick.deploy(&broken).await.expect_err("c3 never listens");
    let shown = err.to_string();
    assert!(matches!(err, Error::NotReady { .. }), "{shown}");
    assert!(
        !shown.contains(SECRET),
        "secret leaked into the error: {shown}"
    );
    assert!(
        shown.contains("db is [redacted]"),
        "app output missing: {shown}"
    );
    assert_eq!(version(&host, "api").await, "c2");
    assert_eq!(target.current("api").await.expect("current").0, "c2");

    // Roll back to the first release.
    let back = target.activate("api", "c1").await.expect("activate c1");
    assert_eq!(back.port, Some(port));
    assert_eq!(version(&host, "api").await, "c1");
    assert!(target.verify(&spec1, &back).await.ok);

    target.remove("api").await.expect("remove");
    assert_eq!(get(&deployed.url).await.0, 404);
    assert!(!host.remote_root.join("api").exists());
    assert!(!host.nginx_apps_dir.join("api.conf").exists());
    let processes = host.pm2(&["jlist"]);
    assert!(
        !processes.contains("kiln-api"),
        "pm2 still runs the app: {processes}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} is still in use"
    );
    target.remove("api").await.expect("remove again");

    assert!(!logged().contains(SECRET), "secret leaked into logs");
}

#[tokio::test]
async fn faults_fail_before_anything_changes() {
    logs();
    let mut host = SshHost::start();
    let config = config(&host);
    let good = target(config.clone());
    let b1 = static_site(host.dir(), "build1", "Hello one");
    let b2 = static_site(host.dir(), "build2", "Hello two");
    good.deploy(&static_spec("site", "c1", &b1, "Hello one"))
        .await
        .expect("deploy c1");
    let spec2 = static_spec("site", "c2", &b2, "Hello two");
    let destination = format!("root@127.0.0.1:{}", host.port);
    let unchanged = |host: &SshHost| {
        assert!(
            !host.remote_root.join("site/releases/c2").exists(),
            "c2 was uploaded"
        );
    };

    // A key the host does not accept.
    let mut wrong = config.clone();
    wrong.identity_file = host.wrong_identity();
    let err = target(wrong.clone())
        .deploy(&spec2)
        .await
        .expect_err("wrong key");
    assert!(matches!(err, Error::SshAuth { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "ssh to {destination} failed: the host rejected the key {} (permission denied (publickey))",
            wrong.identity_file.display()
        )
    );
    unchanged(&host);
    assert_eq!(version(&host, "site").await, "c1");

    // A host key that is not in known_hosts.
    let mut stranger = config.clone();
    stranger.known_hosts_file = host.dir().join("empty_known_hosts");
    std::fs::write(&stranger.known_hosts_file, "").expect("write");
    let err = target(stranger)
        .deploy(&spec2)
        .await
        .expect_err("unknown host key");
    assert!(matches!(err, Error::SshHostKey { .. }), "{err}");

    // A host without nginx.
    let mut no_nginx = config.clone();
    (no_nginx.nginx_test, no_nginx.nginx_reload) = host.missing_nginx_commands();
    let err = target(no_nginx.clone())
        .deploy(&spec2)
        .await
        .expect_err("nginx missing");
    assert!(
        matches!(err, Error::ToolMissing { tool: "nginx", .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "nginx is not installed on 127.0.0.1: `{}` not found",
            no_nginx.nginx_test
        )
    );
    unchanged(&host);
    assert_eq!(version(&host, "site").await, "c1");

    // A host that is down.
    host.stop_sshd();
    let err = good.deploy(&spec2).await.expect_err("host down");
    assert!(matches!(err, Error::SshUnreachable { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("ssh to {destination} failed: connection refused")
    );
    unchanged(&host);
    assert_eq!(version(&host, "site").await, "c1");
    assert!(
        good.current("site").await.is_none(),
        "an unreachable host has no known live release"
    );
}

#[tokio::test]
async fn nginx_rejecting_the_snippet_keeps_the_old_one() {
    logs();
    let host = SshHost::start();
    let target = target(config(&host));
    let b1 = static_site(host.dir(), "build1", "Hello one");
    let b2 = static_site(host.dir(), "build2", "Hello two");
    target
        .deploy(&static_spec("site", "c1", &b1, "Hello one"))
        .await
        .expect("deploy c1");
    // Another site's broken snippet makes `nginx -t` fail: nothing may change.
    let broken = host.nginx_apps_dir.join("other.conf");
    std::fs::write(&broken, "location /apps/other/ { bogus_directive on; }\n").expect("write");
    let err = target
        .deploy(&static_spec("site", "c2", &b2, "Hello two"))
        .await
        .expect_err("nginx config broken");
    assert!(matches!(err, Error::NginxConfig { .. }), "{err}");
    assert!(err.to_string().contains("bogus_directive"), "{err}");
    assert!(!host.remote_root.join("site/releases/c2").exists());
    std::fs::remove_file(&broken).expect("remove");
    assert_eq!(version(&host, "site").await, "c1");
    let started = Instant::now();
    target
        .deploy(&static_spec("site", "c2", &b2, "Hello two"))
        .await
        .expect("deploy c2 once nginx is fixed");
    assert_eq!(
        version(&host, "site").await,
        "c2",
        "after {:?}",
        started.elapsed()
    );
}

/// Stands in for systemctl where systemd does not run (as in test containers): it logs every
/// call and runs the unit's `ExecStart` in its own process group on `restart`, which is enough
/// to check the unit kiln writes and the order of the commands it sends.
const FAKE_SYSTEMCTL: &str = r#"#!/bin/sh
echo "$*" >> "$KILN_FAKE_DIR/calls.log"
for unit; do :; done
pidfile="$KILN_FAKE_DIR/$unit.pid"
case "$1" in
  restart|stop)
    if [ -f "$pidfile" ]; then kill -TERM "-$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; sleep 0.3; fi
    [ "$1" = stop ] && exit 0
    exec_start=$(sed -n 's/^ExecStart=//p' "$KILN_UNIT_DIR/$unit")
    setsid sh -c "exec $exec_start" >/dev/null 2>&1 </dev/null &
    echo $! > "$pidfile"
    ;;
esac
exit 0
"#;

/// Kills what the fake systemctl started if the test fails before `remove` stops it.
struct KillStarted(PathBuf);

impl Drop for KillStarted {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", pid.trim())])
                .status();
        }
    }
}

#[tokio::test]
async fn systemd_units_are_written_and_driven_in_order() {
    logs();
    let host = SshHost::start();
    let fake = host.dir().join("fake-systemd");
    let units = host.dir().join("units");
    std::fs::create_dir_all(&fake).expect("mkdir");
    let script = fake.join("systemctl");
    std::fs::write(&script, FAKE_SYSTEMCTL).expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let mut config = config(&host);
    config.supervisor = Supervisor::Systemd;
    config.systemd_unit_dir = units.display().to_string();
    config.systemctl = format!(
        "env KILN_FAKE_DIR={} KILN_UNIT_DIR={} {}",
        fake.display(),
        units.display(),
        script.display()
    );
    let target = target(config);
    let _cleanup = KillStarted(fake.join("kiln-svc.service.pid"));
    let src = host.dir().join("node-app");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("server.js"), SERVER_JS).expect("write");

    let spec = node_spec("svc", "c1", &src, "node server.js");
    let deployed = target.deploy(&spec).await.expect("deploy");
    let verification = target.verify(&spec, &deployed).await;
    assert!(verification.ok, "{verification:?}");
    let unit = std::fs::read_to_string(units.join("kiln-svc.service")).expect("unit file");
    let release = host.remote_root.join("svc/releases/c1");
    assert!(
        unit.contains(&format!(
            "ExecStart=/bin/sh {}/.kiln/start.sh\n",
            release.display()
        )),
        "{unit}"
    );
    assert!(
        !unit.contains(SECRET),
        "secrets belong in the 0600 env file"
    );
    let calls = std::fs::read_to_string(fake.join("calls.log")).expect("calls");
    assert_eq!(
        calls,
        "daemon-reload\nenable --quiet kiln-svc.service\nrestart kiln-svc.service\n"
    );

    target.remove("svc").await.expect("remove");
    let calls = std::fs::read_to_string(fake.join("calls.log")).expect("calls");
    assert!(
        calls.ends_with("stop kiln-svc.service\ndisable --quiet kiln-svc.service\ndaemon-reload\n"),
        "{calls}"
    );
    assert!(!units.join("kiln-svc.service").exists());
    assert_eq!(get(&deployed.url).await.0, 404);
    let port = deployed.port.expect("port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the app still listens on {port}"
    );
}
