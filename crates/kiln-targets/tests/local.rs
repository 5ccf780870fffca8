//! End-to-end tests of the local target: real copies, real node processes and real HTTP on
//! loopback, each test in its own temp directory with its own proxy port.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_targets::{DeploySpec, Deployed, Error, LocalConfig, LocalTarget, ServeKind, Target};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A node server that reports what it sees, so tests can inspect env, headers and pid.
const SERVER_JS: &str = r#"
const http = require('http');
const port = Number(process.env.PORT);
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/env')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ env: process.env, pid: process.pid, url: req.url, headers: req.headers }));
    return;
  }
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (req.url === '/__kiln/version') {
    res.end((process.env.STAMP || process.env.KILN_BUILD_SHA) + '\n');
    return;
  }
  if (req.url.startsWith('/echo')) {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body })));
    return;
  }
  res.setHeader('content-type', 'text/html');
  res.end('<h1>' + (process.env.GREETING || 'hello') + ' from ' + process.env.BASE_PATH + '</h1>');
});
server.listen(port, process.env.HOST, () => {
  console.log('listening on ' + port);
  const closeAfter = Number(process.env.CLOSE_AFTER_MS || 0);
  if (closeAfter > 0) {
    // Stay alive but stop listening, like an app whose server died while the process hangs on.
    setTimeout(() => { server.close(); setInterval(() => {}, 1000); console.log('closed'); }, closeAfter);
  }
  const crashAfter = Number(process.env.CRASH_AFTER_MS || 0);
  if (crashAfter > 0) {
    setTimeout(() => { console.error('boom: simulated crash'); process.exit(1); }, crashAfter);
  }
});
"#;

struct Harness {
    _tmp: tempfile::TempDir,
    tmp_path: std::path::PathBuf,
    target: LocalTarget,
    addr: SocketAddr,
    http: reqwest::Client,
}

fn fast_config() -> LocalConfig {
    LocalConfig {
        readiness_timeout: Duration::from_secs(20),
        stop_grace: Duration::from_secs(3),
        restart_backoff_initial: Duration::from_millis(100),
        restart_backoff_max: Duration::from_millis(400),
        max_crashes: 3,
        crash_window: Duration::from_secs(60),
        verify_window: Duration::from_secs(3),
        log_lines: 200,
        app_path: "/usr/local/bin:/usr/bin:/bin".into(),
        sandbox: None,
    }
}

async fn harness_with(config: LocalConfig) -> Harness {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tmp_path = tmp.path().to_path_buf();
    harness_at(tmp, tmp_path, config).await
}

async fn harness_at(
    tmp: tempfile::TempDir,
    tmp_path: std::path::PathBuf,
    config: LocalConfig,
) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    let target = LocalTarget::with_config(tmp_path.join("root"), format!("http://{addr}"), config);
    let router = target.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve proxy");
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    Harness {
        _tmp: tmp,
        tmp_path,
        target,
        addr,
        http,
    }
}

async fn harness() -> Harness {
    harness_with(fast_config()).await
}

impl Harness {
    fn static_site(&self, name: &str) -> std::path::PathBuf {
        let src = self.tmp_path.join(name);
        std::fs::create_dir_all(src.join("dist/sub")).expect("mkdir");
        std::fs::create_dir_all(src.join(".git")).expect("mkdir");
        std::fs::write(src.join(".git/config"), "secret git config").expect("write");
        std::fs::write(src.join("dist/index.html"), "<h1>Hello static</h1>").expect("write");
        std::fs::write(src.join("dist/sub/index.html"), "<p>sub page</p>").expect("write");
        std::fs::write(src.join("dist/app.js"), "console.log(1)").expect("write");
        std::fs::write(self.tmp_path.join("secret.txt"), "top secret").expect("write");
        src
    }

    fn node_app(&self, name: &str) -> std::path::PathBuf {
        let src = self.tmp_path.join(name);
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::write(src.join("server.js"), SERVER_JS).expect("write");
        src
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    async fn env_of(&self, app: &str) -> Value {
        let (status, body) = self.get(&format!("/apps/{app}/env?probe=1")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("env json")
    }
}

fn static_spec(app: &str, commit: &str, src: &Path) -> DeploySpec {
    DeploySpec {
        app: app.into(),
        commit: commit.into(),
        source_dir: src.to_path_buf(),
        kind: ServeKind::Static { dir: "dist".into() },
        health_path: "/".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec!["Hello static".into()],
    }
}

fn node_spec(app: &str, commit: &str, src: &Path, env: &[(&str, &str)]) -> DeploySpec {
    DeploySpec {
        app: app.into(),
        commit: commit.into(),
        source_dir: src.to_path_buf(),
        kind: ServeKind::Process {
            run: "node server.js".into(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        health_path: "/healthz".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec!["hello from".into()],
    }
}

/// Sends a request line byte for byte; HTTP clients normalise `..` away before sending.
async fn raw_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status code");
    (status, response)
}

/// Linux-only liveness check that treats zombies as dead.
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

async fn wait_until(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

fn pid_of(env: &Value) -> u64 {
    env["pid"].as_u64().expect("pid")
}

#[tokio::test]
async fn static_deploy_serves_index_version_and_nothing_outside() {
    let h = harness().await;
    let src = h.static_site("site-src");
    let spec = static_spec("site", "c0ffee1", &src);
    let deployed = h.target.deploy(&spec).await.expect("deploy");
    assert_eq!(deployed.url, format!("http://{}/apps/site/", h.addr));
    assert_eq!(deployed.port, None);
    assert!(deployed.dir.ends_with("root/site/c0ffee1"));
    assert!(
        !deployed.dir.join(".git").exists(),
        ".git must not be copied"
    );

    let (status, body) = h.get("/apps/site/").await;
    assert_eq!((status, body.as_str()), (200, "<h1>Hello static</h1>"));
    let (status, body) = h.get("/apps/site/__kiln/version").await;
    assert_eq!((status, body.as_str()), (200, "c0ffee1"));
    let (status, body) = h.get("/apps/site/sub/").await;
    assert_eq!((status, body.as_str()), (200, "<p>sub page</p>"));
    let (status, _) = h.get("/apps/site/missing.html").await;
    assert_eq!(status, 404);

    let response = h
        .http
        .get(format!("http://{}/apps/site/sub", h.addr))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 308);
    assert_eq!(response.headers()["location"], "sub/");

    for path in [
        "/apps/site/../../etc/passwd",
        "/apps/site/../../../../../../etc/passwd",
        "/apps/site/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/apps/site/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/apps/site/sub/..%2f..%2f..%2f..%2fsecret.txt",
        "/apps/site/..\\..\\secret.txt",
        "/apps/site//etc/passwd",
        "/apps/../../etc/passwd",
    ] {
        let (status, response) = raw_get(h.addr, path).await;
        assert!(status >= 400, "{path} answered {status}");
        assert!(
            !response.contains("root:") && !response.contains("top secret"),
            "{path} leaked: {response}"
        );
    }

    let verification = h.target.verify(&spec, &deployed).await;
    assert!(verification.ok, "{verification:#?}");
    assert_eq!(
        h.target.current("site").await,
        Some(("c0ffee1".to_string(), deployed))
    );
}

#[tokio::test]
async fn static_build_stamp_is_kept_when_the_build_made_one() {
    let h = harness().await;
    let src = h.static_site("stamped-src");
    std::fs::create_dir_all(src.join("dist/meta")).expect("mkdir");
    std::fs::write(src.join("dist/meta/v.txt"), "from-build").expect("write");
    let spec = DeploySpec {
        version_path: "/meta/v.txt".into(),
        ..static_spec("stamped", "abc", &src)
    };
    h.target.deploy(&spec).await.expect("deploy");
    let (_, body) = h.get("/apps/stamped/meta/v.txt").await;
    assert_eq!(body, "from-build");
}

#[tokio::test]
async fn app_without_trailing_slash_redirects_and_unknown_app_is_404() {
    let h = harness().await;
    let src = h.static_site("site-src");
    h.target
        .deploy(&static_spec("site", "c1", &src))
        .await
        .expect("deploy");

    let response = h
        .http
        .get(format!("http://{}/apps/site?lang=en", h.addr))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 308);
    assert_eq!(response.headers()["location"], "site/?lang=en");
    let followed = reqwest::get(format!("http://{}/apps/site", h.addr))
        .await
        .expect("follow");
    assert_eq!(followed.url().path(), "/apps/site/");
    assert_eq!(
        followed.text().await.expect("body"),
        "<h1>Hello static</h1>"
    );

    let (status, body) = h.get("/apps/nope/").await;
    assert_eq!(status, 404);
    assert!(body.contains("no app named nope"), "{body}");
    let (status, _) = h.get("/apps/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn process_sees_only_its_own_environment_and_proxy_headers() {
    let h = harness().await;
    // The test process itself runs with cargo's variables; none may reach the app.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let src = h.node_app("env-src");
    let spec = node_spec("envapp", "sha-env-1", &src, &[("GREETING", "hi")]);
    let deployed = h.target.deploy(&spec).await.expect("deploy");
    let port = deployed.port.expect("port");

    let seen = h.env_of("envapp").await;
    let env = seen["env"].as_object().expect("env object");
    assert_eq!(env["PORT"], port.to_string());
    assert_eq!(env["HOST"], "127.0.0.1");
    assert_eq!(env["BASE_PATH"], "/apps/envapp");
    assert_eq!(env["KILN_BUILD_SHA"], "sha-env-1");
    assert_eq!(env["NODE_ENV"], "production");
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["HOME"], deployed.dir.display().to_string());
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
    let allowed: BTreeSet<&str> = [
        "PATH",
        "HOME",
        "NODE_ENV",
        "PORT",
        "HOST",
        "BASE_PATH",
        "KILN_BUILD_SHA",
        "GREETING",
        // Set by sh itself.
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
    ]
    .into_iter()
    .collect();
    let unexpected: Vec<&String> = env
        .keys()
        .filter(|key| !allowed.contains(key.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "app saw {unexpected:?}");

    assert_eq!(seen["url"], "/env?probe=1");
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-prefix"], "/apps/envapp");
    assert_eq!(headers["x-forwarded-host"], h.addr.to_string());
    assert_eq!(headers["x-forwarded-proto"], "http");

    let echoed: Value = h
        .http
        .post(format!("http://{}/apps/envapp/echo?x=1", h.addr))
        .body("payload")
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["url"], "/echo?x=1");
    assert_eq!(echoed["body"], "payload");

    let logs = h.target.logs("envapp");
    assert!(
        logs.iter()
            .any(|line| line == &format!("listening on {port}")),
        "{logs:?}"
    );
    h.target.shutdown().await;
}

#[tokio::test]
async fn redeploy_switches_route_and_stops_old_process() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let first = h
        .target
        .deploy(&node_spec("web", "commit-1", &src, &[]))
        .await
        .expect("deploy 1");
    let old_pid = pid_of(&h.env_of("web").await);
    assert!(alive(old_pid));

    let second = h
        .target
        .deploy(&node_spec("web", "commit-2", &src, &[]))
        .await
        .expect("deploy 2");
    assert_ne!(first.port, second.port);
    assert_ne!(first.dir, second.dir);
    let (_, version) = h.get("/apps/web/__kiln/version").await;
    assert_eq!(version.trim(), "commit-2");
    let new_pid = pid_of(&h.env_of("web").await);
    assert_ne!(new_pid, old_pid);
    wait_until("old process to exit", Duration::from_secs(15), async || {
        !alive(old_pid)
    })
    .await;
    assert!(first.dir.is_dir(), "old release files are kept");
    assert_eq!(
        h.target.current("web").await.map(|(commit, _)| commit),
        Some("commit-2".to_string())
    );
    h.target.shutdown().await;
    wait_until("new process to exit", Duration::from_secs(15), async || {
        !alive(new_pid)
    })
    .await;
}

#[tokio::test]
async fn same_commit_redeploy_is_idempotent() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let spec = node_spec("idem", "same-1", &src, &[]);
    let first = h.target.deploy(&spec).await.expect("deploy 1");
    let pid = pid_of(&h.env_of("idem").await);
    let again = h.target.deploy(&spec).await.expect("deploy 2");
    assert_eq!(first, again);
    assert_eq!(
        pid_of(&h.env_of("idem").await),
        pid,
        "process was not restarted"
    );

    let releases: Vec<String> = std::fs::read_dir(h.tmp_path.join("root/idem"))
        .expect("read app dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert_eq!(releases, ["same-1"]);

    // A static redeploy of the same commit reuses the release too.
    let site = h.static_site("site-src");
    let static_first = h
        .target
        .deploy(&static_spec("site", "s1", &site))
        .await
        .expect("static 1");
    let static_again = h
        .target
        .deploy(&static_spec("site", "s1", &site))
        .await
        .expect("static 2");
    assert_eq!(static_first, static_again);
    h.target.shutdown().await;
}

#[tokio::test]
async fn verify_reports_precise_failures() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let good = node_spec("good", "v-good", &src, &[]);
    let deployed = h.target.deploy(&good).await.expect("deploy good");
    let verification = h.target.verify(&good, &deployed).await;
    assert!(verification.ok, "{verification:#?}");
    let names: Vec<&str> = verification
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["health", "version", "content"]);

    let mut bad = node_spec("bad", "v-expected", &src, &[("STAMP", "v-stale")]);
    bad.expect_text = vec!["hello from".into(), "Welcome banner".into()];
    let deployed = h.target.deploy(&bad).await.expect("deploy bad");
    let verification = h.target.verify(&bad, &deployed).await;
    assert!(!verification.ok);
    let check = |name: &str| {
        verification
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} check"))
    };
    assert!(check("health").ok, "{:?}", check("health"));
    let version = check("version");
    assert!(!version.ok);
    assert!(
        version.detail.contains("\"v-stale\"") && version.detail.contains("\"v-expected\""),
        "{}",
        version.detail
    );
    let content = check("content");
    assert!(!content.ok);
    assert!(
        content.detail.contains("\"Welcome banner\"") && !content.detail.contains("\"hello from\""),
        "{}",
        content.detail
    );
    h.target.shutdown().await;
}

#[tokio::test]
async fn verify_of_an_unreachable_app_fails_every_check() {
    let h = harness().await;
    let src = h.static_site("site-src");
    let spec = static_spec("ghost", "g1", &src);
    let deployed = Deployed {
        url: format!("http://{}/apps/ghost/", h.addr),
        port: None,
        dir: h.tmp_path.clone(),
    };
    let verification = h.target.verify(&spec, &deployed).await;
    assert!(!verification.ok);
    assert!(
        verification.checks.iter().all(|c| !c.ok),
        "{verification:#?}"
    );
    assert!(
        verification.checks[0].detail.contains("404"),
        "{}",
        verification.checks[0].detail
    );
}

#[tokio::test]
async fn app_crashing_on_start_reports_its_output() {
    let h = harness().await;
    let src = h.node_app("crash-src");
    let mut spec = node_spec("crashy", "bad-1", &src, &[]);
    spec.kind = ServeKind::Process {
        run: "echo booting; echo 'fatal: DATABASE_URL is not set' >&2; exit 3".into(),
        env: vec![],
    };
    let err = h.target.deploy(&spec).await.expect_err("must fail");
    let message = err.to_string();
    assert!(matches!(err, Error::ExitedOnStart { .. }), "{message}");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(
        message.contains("fatal: DATABASE_URL is not set"),
        "{message}"
    );
    assert!(message.contains("booting"), "{message}");
    assert_eq!(h.target.current("crashy").await, None);
    let (status, _) = h.get("/apps/crashy/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn app_that_never_listens_times_out() {
    let h = harness_with(LocalConfig {
        readiness_timeout: Duration::from_secs(1),
        ..fast_config()
    })
    .await;
    let src = h.node_app("slow-src");
    let mut spec = node_spec("sleepy", "z1", &src, &[]);
    spec.kind = ServeKind::Process {
        run: "echo 'waiting forever'; exec sleep 60".into(),
        env: vec![],
    };
    let err = h.target.deploy(&spec).await.expect_err("must fail");
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    assert!(err.to_string().contains("waiting forever"), "{err}");
}

#[tokio::test]
async fn crashing_app_is_restarted_then_given_up() {
    let h = harness().await;
    let src = h.node_app("flaky-src");
    let spec = node_spec("flaky", "f1", &src, &[("CRASH_AFTER_MS", "300")]);
    h.target.deploy(&spec).await.expect("deploy");

    wait_until(
        "the app to be given up",
        Duration::from_secs(60),
        async || {
            let (status, body) = h.get("/apps/flaky/").await;
            status == 502 && body.contains("given up")
        },
    )
    .await;
    let (_, body) = h.get("/apps/flaky/").await;
    assert!(body.contains("crashed 3 times"), "{body}");

    let logs = h.target.logs("flaky");
    let starts = logs
        .iter()
        .filter(|l| l.starts_with("listening on"))
        .count();
    assert!(starts >= 2, "expected restarts, logs: {logs:?}");
    assert!(logs.iter().any(|l| l.contains("boom")), "{logs:?}");

    // A redeploy of the same commit starts it afresh instead of reporting the dead one as live.
    let healthy = node_spec("flaky", "f1", &src, &[]);
    h.target.deploy(&healthy).await.expect("redeploy");
    let (status, _) = h.get("/apps/flaky/healthz").await;
    assert_eq!(status, 200);
    h.target.shutdown().await;
}

#[tokio::test]
async fn stop_takes_app_offline_and_keeps_files() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let deployed = h
        .target
        .deploy(&node_spec("gone", "s1", &src, &[]))
        .await
        .expect("deploy");
    let pid = pid_of(&h.env_of("gone").await);
    h.target.stop("gone").await.expect("stop");
    let (status, _) = h.get("/apps/gone/").await;
    assert_eq!(status, 404);
    assert_eq!(h.target.current("gone").await, None);
    assert!(deployed.dir.join("server.js").is_file());
    wait_until(
        "stopped process to exit",
        Duration::from_secs(15),
        async || !alive(pid),
    )
    .await;
    h.target.stop("gone").await.expect("second stop is fine");
    h.target
        .stop("never-deployed")
        .await
        .expect("unknown stop is fine");
}

#[tokio::test]
async fn restore_brings_back_apps_after_shutdown_but_not_stopped_ones() {
    let first = harness().await;
    let src = first.node_app("node-src");
    first
        .target
        .deploy(&node_spec("keep", "k1", &src, &[("GREETING", "restored")]))
        .await
        .expect("deploy keep");
    first
        .target
        .deploy(&node_spec("drop", "d1", &src, &[]))
        .await
        .expect("deploy drop");
    first.target.stop("drop").await.expect("stop drop");
    let pid = pid_of(&first.env_of("keep").await);
    first.target.shutdown().await;
    wait_until(
        "process to exit on shutdown",
        Duration::from_secs(15),
        async || !alive(pid),
    )
    .await;

    // The build directory is gone: restore must rely on the release copy.
    std::fs::remove_dir_all(&src).expect("remove source");
    let Harness { _tmp, tmp_path, .. } = first;
    let second = harness_at(_tmp, tmp_path, fast_config()).await;
    let restored = second.target.restore().await;
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert_eq!(restored[0].0, "keep");
    assert!(restored[0].1.is_ok(), "{restored:?}");
    let (status, body) = second.get("/apps/keep/").await;
    assert_eq!(status, 200);
    assert!(body.contains("restored from /apps/keep"), "{body}");
    let (status, _) = second.get("/apps/drop/").await;
    assert_eq!(status, 404);
    second.target.shutdown().await;
}

#[tokio::test]
async fn invalid_specs_are_rejected_before_touching_disk() {
    let h = harness().await;
    let src = h.static_site("site-src");
    let mut spec = static_spec("Bad_Name", "c1", &src);
    let err = h.target.deploy(&spec).await.expect_err("bad name");
    assert!(matches!(err, Error::InvalidSpec { .. }), "{err}");
    spec.app = "fine".into();
    spec.commit = "../escape".into();
    let err = h.target.deploy(&spec).await.expect_err("bad commit");
    assert!(matches!(err, Error::InvalidSpec { .. }), "{err}");
    assert!(!h.tmp_path.join("root").exists());
}

/// Runs inside a child test process: deploys an app, reports its pid, then waits to be killed.
#[tokio::test]
#[ignore = "helper for apps_die_when_the_deployer_is_killed"]
async fn deathsig_helper() {
    let Some(dir) = std::env::var_os("KILN_TARGETS_DEATHSIG_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let target =
        LocalTarget::with_config(dir.join("root"), "http://127.0.0.1:9".into(), fast_config());
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("src/server.js"), SERVER_JS).expect("write");
    let deployed = target
        .deploy(&node_spec("orphan", "o1", &dir.join("src"), &[]))
        .await
        .expect("deploy");
    let port = deployed.port.expect("port");
    let env: Value = reqwest::get(format!("http://127.0.0.1:{port}/env"))
        .await
        .expect("get env")
        .json()
        .await
        .expect("json");
    println!("APP_PID={}", pid_of(&env));
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn apps_die_when_the_deployer_is_killed() {
    use tokio::io::AsyncBufReadExt;

    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "deathsig_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_TARGETS_DEATHSIG_DIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn helper");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let pid = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read helper") {
            // libtest prints the test name on the same line.
            if let Some((_, pid)) = line.split_once("APP_PID=") {
                return pid.trim().parse::<u64>().expect("pid");
            }
        }
        panic!("helper ended without reporting a pid");
    })
    .await
    .expect("helper reported a pid");
    assert!(alive(pid));
    child.start_kill().expect("SIGKILL helper");
    child.wait().await.expect("reap helper");
    wait_until(
        "app to die with its deployer",
        Duration::from_secs(15),
        async || !alive(pid),
    )
    .await;
}

#[tokio::test]
async fn unreachable_upstream_is_a_502() {
    let h = harness().await;
    let src = h.node_app("node-src");
    h.target
        .deploy(&node_spec("hung", "h1", &src, &[("CLOSE_AFTER_MS", "200")]))
        .await
        .expect("deploy");
    wait_until("listener to close", Duration::from_secs(15), async || {
        h.target.logs("hung").iter().any(|line| line == "closed")
    })
    .await;
    let (status, body) = h.get("/apps/hung/").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("app hung is not reachable"), "{body}");
    h.target.shutdown().await;
}

#[tokio::test]
async fn activate_rolls_back_to_a_kept_release_without_its_build() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let first = h
        .target
        .deploy(&node_spec("back", "r1", &src, &[("GREETING", "first")]))
        .await
        .expect("deploy r1");
    h.target
        .deploy(&node_spec("back", "r2", &src, &[("GREETING", "second")]))
        .await
        .expect("deploy r2");
    let (_, version) = h.get("/apps/back/__kiln/version").await;
    assert_eq!(version.trim(), "r2");

    std::fs::remove_dir_all(&src).expect("remove build");
    let back = h.target.activate("back", "r1").await.expect("activate r1");
    assert_eq!(back.dir, first.dir);
    let (_, version) = h.get("/apps/back/__kiln/version").await;
    assert_eq!(version.trim(), "r1");
    let env = h.env_of("back").await;
    assert_eq!(env["env"]["GREETING"], "first", "r1 runs with its own env");
    assert_eq!(
        h.target.current("back").await.map(|(commit, _)| commit),
        Some("r1".to_string())
    );
    let again = h
        .target
        .activate("back", "r1")
        .await
        .expect("activate again");
    assert_eq!(again, back);

    let err = h
        .target
        .activate("back", "r9")
        .await
        .expect_err("r9 never deployed");
    assert!(matches!(err, Error::ReleaseMissing { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "app back has no release r9 on this target; deploy that commit again"
    );
    h.target.shutdown().await;
}

#[tokio::test]
async fn remove_stops_the_app_and_deletes_its_releases() {
    let h = harness().await;
    let src = h.node_app("node-src");
    let deployed = h
        .target
        .deploy(&node_spec("doomed", "d1", &src, &[]))
        .await
        .expect("deploy");
    let pid = pid_of(&h.env_of("doomed").await);
    h.target.remove("doomed").await.expect("remove");
    assert_eq!(h.get("/apps/doomed/").await.0, 404);
    assert_eq!(h.target.current("doomed").await, None);
    assert!(!deployed.dir.exists(), "release files are deleted");
    assert!(!h.tmp_path.join("root/doomed").exists());
    wait_until(
        "removed app's process to exit",
        Duration::from_secs(15),
        async || !alive(pid),
    )
    .await;
    let port = deployed.port.expect("port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} is still held"
    );
    let err = h
        .target
        .activate("doomed", "d1")
        .await
        .expect_err("release was removed");
    assert!(matches!(err, Error::ReleaseMissing { .. }), "{err}");
    h.target
        .remove("doomed")
        .await
        .expect("second remove is fine");
    h.target
        .remove("never-deployed")
        .await
        .expect("unknown remove is fine");
}

/// A node app that reports from inside its sandbox what it can reach: files named by the test,
/// the data directory's listing, every `/proc/*/environ` and command line it can read. It also
/// writes a cache file into its release and leaves a mark when asked to stop gracefully.
const PROBE_JS: &str = r#"
const http = require('http');
const fs = require('fs');
const attempt = (f) => { try { return { ok: true, value: String(f()) }; } catch (e) { return { ok: false, error: e.code || String(e) }; } };
// Takes its time to shut down, as apps flushing state do: a stop must wait for it.
process.on('SIGTERM', () => setTimeout(() => { fs.writeFileSync('terminated', 'SIGTERM'); process.exit(0); }, 300));
http.createServer((req, res) => {
  if (req.url === '/healthz') { res.end('ok'); return; }
  if (req.url === '/__kiln/version') { res.end(process.env.KILN_BUILD_SHA + '\n'); return; }
  if (!req.url.startsWith('/probe')) { res.end('probe from ' + process.env.BASE_PATH); return; }
  const pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  const environs = pids.map((p) => attempt(() => fs.readFileSync('/proc/' + p + '/environ', 'latin1')));
  const cmdlines = pids.map((p) => attempt(() => fs.readFileSync('/proc/' + p + '/cmdline', 'latin1').replace(/\0/g, ' ')));
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    secret_file: attempt(() => fs.readFileSync(process.env.SECRET_FILE, 'utf8')),
    other_release: attempt(() => fs.readFileSync(process.env.OTHER_RELEASE, 'utf8')),
    own_file: attempt(() => fs.readFileSync('server.js', 'utf8').length),
    data_dir: attempt(() => fs.readdirSync(process.env.DATA_DIR).join(',')),
    cache_write: attempt(() => { fs.mkdirSync('.cache', { recursive: true }); fs.writeFileSync('.cache/hit', 'cached'); return 'written'; }),
    environs: environs.filter((e) => e.ok).map((e) => e.value),
    cmdlines: cmdlines.filter((e) => e.ok).map((e) => e.value),
  }));
}).listen(Number(process.env.PORT), process.env.HOST, () => console.log('probe listening'));
"#;

fn sandboxed_config() -> LocalConfig {
    let sandbox = kiln_sandbox::Sandbox::new(&kiln_sandbox::Config::default())
        .expect("bubblewrap works on this machine")
        .with_bridge_program(env!("CARGO_BIN_EXE_kiln-targets-bridge"));
    LocalConfig {
        sandbox: Some(sandbox),
        ..fast_config()
    }
}

/// A word no other test or process uses, for secrets and for finding processes.
fn token(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{what}{}x{nanos}", std::process::id())
}

/// Host pids whose command line mentions `needle` (bubblewrap, the shells and the app all do,
/// because the app's command carries it), zombies excluded.
fn host_pids_mentioning(needle: &str) -> Vec<u64> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
            && alive(pid)
            && pid != u64::from(std::process::id())
        {
            found.push(pid);
        }
    }
    found
}

/// The per-service cgroup directories `pid` belongs to, found from its `/proc/<pid>/cgroup`
/// entries below a `kiln-sandbox` parent (under v1 each controller has one).
fn sandbox_cgroups(pid: u64) -> Vec<std::path::PathBuf> {
    let Ok(membership) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return Vec::new();
    };
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
        let base = if controllers.is_empty() {
            ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
                .map(std::path::PathBuf::from)
                .to_vec()
        } else {
            controllers
                .split(',')
                .map(|c| Path::new("/sys/fs/cgroup").join(c.trim_start_matches("name=")))
                .collect()
        };
        // The mount may show a subtree of the hierarchy, so try every suffix of the path.
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        for b in &base {
            for start in 0..segments.len() {
                let dir = b.join(segments[start..].join("/"));
                if dir.is_dir() {
                    dirs.push(dir);
                    break;
                }
            }
        }
    }
    dirs
}

#[tokio::test]
async fn sandboxed_app_serves_but_sees_no_secret_no_other_app_and_no_host_process() {
    let h = harness_with(sandboxed_config()).await;
    let root = h.tmp_path.join("root");
    let secret_word = token("filesecret");
    let env_secret = token("envsecret");

    // Another app's release and a secret beside the releases in the data directory.
    let site = h.static_site("site-src");
    let other = h.target.deploy(&static_spec("other", "o1", &site)).await;
    let other = other.expect("deploy other");
    std::fs::write(root.join("secret.txt"), &secret_word).expect("write secret");
    // A host process of Kiln's user holding a secret in its environment.
    let mut holder = tokio::process::Command::new("sleep")
        .arg("120")
        .env("KILN_TEST_SECRET", &env_secret)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn secret holder");
    let holder_environ = format!("/proc/{}/environ", holder.id().expect("pid"));
    wait_until(
        "the host to see the secret holder's environment",
        Duration::from_secs(10),
        async || {
            std::fs::read_to_string(&holder_environ).is_ok_and(|env| env.contains(&env_secret))
        },
    )
    .await;

    let src = h.tmp_path.join("probe-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("server.js"), PROBE_JS).expect("write probe");
    let secret_file = root.join("secret.txt").display().to_string();
    let other_release = other.dir.join("dist/index.html").display().to_string();
    let data_dir = root.display().to_string();
    let mut spec = node_spec(
        "probe",
        "p1",
        &src,
        &[
            ("SECRET_FILE", secret_file.as_str()),
            ("OTHER_RELEASE", other_release.as_str()),
            ("DATA_DIR", data_dir.as_str()),
            ("APP_MARKER", "visible"),
        ],
    );
    spec.expect_text = vec!["probe from /apps/probe".into()];
    let deployed = h.target.deploy(&spec).await.expect("deploy probe");
    let verified = h.target.verify(&spec, &deployed).await;
    assert!(verified.ok, "{verified:?}");

    let (status, body) = h.get("/apps/probe/probe").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(&secret_word),
        "the data dir's secret leaked: {body}"
    );
    assert!(
        !body.contains(&env_secret),
        "a host environment leaked: {body}"
    );
    let seen: Value = serde_json::from_str(&body).expect("probe json");
    assert_eq!(seen["secret_file"]["error"], "ENOENT", "{seen}");
    assert_eq!(seen["other_release"]["error"], "ENOENT", "{seen}");
    assert_eq!(seen["data_dir"]["value"], "probe", "{seen}");
    assert_eq!(seen["own_file"]["ok"], true, "{seen}");
    assert_eq!(seen["cache_write"]["value"], "written", "{seen}");
    assert_eq!(
        std::fs::read_to_string(deployed.dir.join(".cache/hit")).expect("cache on the host"),
        "cached"
    );
    // The scan works (it finds the app's own environment) and finds nothing of the host.
    let environs: Vec<&str> = seen["environs"]
        .as_array()
        .expect("environs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        environs.iter().any(|e| e.contains("APP_MARKER=visible")),
        "{seen}"
    );
    let cmdlines = seen["cmdlines"].as_array().expect("cmdlines");
    assert!(
        cmdlines
            .iter()
            .filter_map(Value::as_str)
            .all(|c| !c.contains("sleep 120")),
        "host processes are visible: {cmdlines:?}"
    );

    // The app's own environment is exactly what the target gives it.
    let mut names: Vec<String> = environs
        .iter()
        .find(|e| e.contains("APP_MARKER=visible"))
        .expect("own environ")
        .split('\0')
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        [
            "APP_MARKER",
            "BASE_PATH",
            "DATA_DIR",
            "HOME",
            "HOST",
            "KILN_BUILD_SHA",
            "LANG",
            "NODE_ENV",
            "OTHER_RELEASE",
            "PATH",
            "PORT",
            "SECRET_FILE"
        ]
    );
    holder.kill().await.expect("kill holder");
    h.target.shutdown().await;
}

#[tokio::test]
async fn sandboxed_app_stops_gracefully_restores_and_leaves_nothing_behind() {
    let first = harness_with(sandboxed_config()).await;
    let cgroups_expected = sandboxed_config()
        .sandbox
        .expect("sandbox")
        .enforcement()
        .memory
        .starts_with("cgroup");
    let marker = token("sbapp");
    let src = first.tmp_path.join("probe-src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("server.js"), PROBE_JS).expect("write probe");
    let data_dir = first.tmp_path.join("root").display().to_string();
    let mut spec = node_spec("svc", "s1", &src, &[("DATA_DIR", data_dir.as_str())]);
    // The marker only names the processes on the host; node ignores the extra argument.
    if let ServeKind::Process { run, .. } = &mut spec.kind {
        *run = format!("node server.js {marker}");
    }
    spec.expect_text = vec!["probe from /apps/svc".into()];
    let deployed = first.target.deploy(&spec).await.expect("deploy");
    assert_eq!(first.get("/apps/svc/").await.0, 200);

    let running = host_pids_mentioning(&marker);
    assert!(
        !running.is_empty(),
        "the app's processes are visible on the host"
    );
    let groups: Vec<_> = running.iter().flat_map(|&p| sandbox_cgroups(p)).collect();
    if cgroups_expected {
        assert!(!groups.is_empty(), "the app runs in a per-service cgroup");
    }

    // Shutdown stops the app gracefully (it saw SIGTERM), with nothing left behind.
    first.target.shutdown().await;
    assert_eq!(
        std::fs::read_to_string(deployed.dir.join("terminated")).expect("graceful stop mark"),
        "SIGTERM"
    );
    assert_eq!(host_pids_mentioning(&marker), Vec::<u64>::new());
    for group in &groups {
        assert!(
            !group.exists(),
            "cgroup {} was left behind",
            group.display()
        );
    }
    std::fs::remove_file(deployed.dir.join("terminated")).expect("remove mark");

    // A restarted target restores the app, sandboxed again.
    let Harness { _tmp, tmp_path, .. } = first;
    let second = harness_at(_tmp, tmp_path, sandboxed_config()).await;
    let restored = second.target.restore().await;
    assert_eq!(restored.len(), 1, "{restored:?}");
    assert!(restored[0].1.is_ok(), "{restored:?}");
    let (status, body) = second.get("/apps/svc/probe").await;
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("probe json");
    assert_eq!(
        seen["data_dir"]["value"], "svc",
        "restored app is sandboxed: {seen}"
    );
    let running = host_pids_mentioning(&marker);
    assert!(!running.is_empty());
    let groups: Vec<_> = running.iter().flat_map(|&p| sandbox_cgroups(p)).collect();
    if cgroups_expected {
        assert!(!groups.is_empty(), "the restored app runs in a cgroup");
    }

    // Removing it leaves no process, no cgroup and no files.
    second.target.remove("svc").await.expect("remove");
    assert_eq!(host_pids_mentioning(&marker), Vec::<u64>::new());
    for group in &groups {
        assert!(
            !group.exists(),
            "cgroup {} was left behind",
            group.display()
        );
    }
    assert!(!deployed.dir.exists());
    assert_eq!(second.get("/apps/svc/").await.0, 404);
    let port = deployed.port.expect("port");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} is still held"
    );
}

/// Runs inside a child test process: deploys a sandboxed app whose command carries a marker,
/// says so, then waits to be killed.
#[tokio::test]
#[ignore = "helper for sandboxed_apps_die_when_the_deployer_is_killed"]
async fn sandboxed_deathsig_helper() {
    let (Some(dir), Some(marker)) = (
        std::env::var_os("KILN_TARGETS_DEATHSIG_DIR"),
        std::env::var("KILN_TARGETS_DEATHSIG_MARKER").ok(),
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let target = LocalTarget::with_config(
        dir.join("root"),
        "http://127.0.0.1:9".into(),
        sandboxed_config(),
    );
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::write(dir.join("src/server.js"), PROBE_JS).expect("write");
    let mut spec = node_spec("orphan", "o1", &dir.join("src"), &[]);
    if let ServeKind::Process { run, .. } = &mut spec.kind {
        *run = format!("node server.js {marker}");
    }
    target.deploy(&spec).await.expect("deploy");
    println!("SANDBOXED_APP_READY");
    tokio::time::sleep(Duration::from_secs(120)).await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn sandboxed_apps_die_when_the_deployer_is_killed() {
    use tokio::io::AsyncBufReadExt;

    let tmp = tempfile::tempdir().expect("tempdir");
    let marker = token("orphan");
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "sandboxed_deathsig_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KILN_TARGETS_DEATHSIG_DIR", tmp.path())
        .env("KILN_TARGETS_DEATHSIG_MARKER", &marker)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn helper");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read helper") {
            if line.contains("SANDBOXED_APP_READY") {
                return;
            }
        }
        panic!("helper ended without deploying");
    })
    .await
    .expect("helper deployed the app");
    assert!(!host_pids_mentioning(&marker).is_empty());
    child.start_kill().expect("SIGKILL helper");
    child.wait().await.expect("reap helper");
    wait_until(
        "sandboxed app to die with its deployer",
        Duration::from_secs(15),
        async || host_pids_mentioning(&marker).is_empty(),
    )
    .await;
}
