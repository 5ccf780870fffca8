//! What a deployed app can reach from inside its sandbox, tried by the app itself: Kiln's
//! Postgres and NATS, a stand-in for the API, another app, the database servers as anyone but
//! its own role or user. Each attempt must fail while its own database works, and the report
//! is fetched through the proxy, which proves the way in works too.

use std::path::Path;
use std::time::Duration;

use kiln_appdb::{AppDatabases, DatabaseKind, SecretKey};
use kiln_targets::{DeploySpec, LocalConfig, LocalTarget, ServeKind, Target};
use serde_json::Value;

/// An app that, on `/probe`, tries everything named in its environment and reports.
const PROBE_PY: &str = r#"
import errno, glob, http.server, json, os, socket, subprocess, urllib.parse

def connect(host, port):
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
        return 'REACHED'
    except socket.timeout:
        return 'TIMEOUT'
    except OSError as e:
        return errno.errorcode.get(e.errno, type(e).__name__)

def run(argv):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return {'ok': p.returncode == 0, 'out': p.stdout.strip(), 'err': p.stderr.strip()}
    except Exception as e:
        return {'ok': False, 'out': '', 'err': repr(e)}

def postgres(url, sql):
    psql = sorted(glob.glob('/usr/lib/postgresql/*/bin/psql'))[-1]
    return run([psql, url, '-Atc', sql])

def mysql(url, sql):
    u = urllib.parse.urlsplit(url)
    argv = ['mariadb', '-h', u.hostname, '-P', str(u.port), '-u', u.username, '-N', '-B', '-e', sql]
    if u.password:
        argv.insert(1, '-p' + u.password)
    if u.path.strip('/'):
        argv.append(u.path.strip('/'))
    return run(argv)

def unix_sockets():
    # Every Unix socket file the app can see: a way out that no network namespace closes.
    import stat, time
    start = time.monotonic()
    found, todo = [], ['/']
    while todo:
        top = todo.pop()
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for e in entries:
            if e.path in ('/proc', '/sys'):
                continue
            try:
                mode = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                todo.append(e.path)
            elif stat.S_ISSOCK(mode):
                found.append(e.path)
    return sorted(found), round(time.monotonic() - start, 1)

def probe():
    url = os.environ['DATABASE_URL']
    u = urllib.parse.urlsplit(url)
    report = {
        'url_host': u.hostname,
        'url_port': u.port,
        'ports': {p: connect('127.0.0.1', p) for p in os.environ['TRY_PORTS'].split()},
        'ports_v6': {p: connect('::1', p) for p in os.environ['TRY_PORTS'].split()},
        'addresses': {a: connect(a.rsplit(':', 1)[0], a.rsplit(':', 1)[1]) for a in os.environ['TRY_ADDRESSES'].split()},
    }
    if u.scheme.startswith('postgres'):
        report['own'] = postgres(url, "select current_user || ' ' || current_database()")
        report['as_superuser'] = postgres('postgres://postgres@127.0.0.1:%d/postgres' % u.port, 'select 1')
        report['as_superuser_own_db'] = postgres('postgres://postgres@127.0.0.1:%d%s' % (u.port, u.path), 'select 1')
        report['other_database'] = postgres(urllib.parse.urlunsplit((u.scheme, u.netloc, '/postgres', '', '')), 'select 1')
    else:
        report['own'] = mysql(url, 'select concat(current_user(), " ", database())')
        report['as_superuser'] = mysql('mysql://root@127.0.0.1:%d' % u.port, 'select 1')
        report['as_superuser_own_db'] = mysql('mysql://root@127.0.0.1:%d%s' % (u.port, u.path), 'select 1')
        report['other_database'] = mysql(urllib.parse.urlunsplit((u.scheme, u.netloc, '/mysql', '', '')), 'select 1')
    report['unix_sockets'], report['walk_seconds'] = unix_sockets()
    report['server_sockets'] = [p for p in ('/run/postgresql/.s.PGSQL.5432', '/var/run/postgresql/.s.PGSQL.5432', '/run/mysqld/mysqld.sock') if os.path.exists(p)]
    return report

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        path = self.path.split('?')[0]
        if path == '/__kiln/version':
            body = (os.environ['KILN_BUILD_SHA'] + '\n').encode()
        elif path == '/probe':
            body = json.dumps(probe()).encode()
        else:
            body = b'probe app'
        self.send_response(200)
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler).serve_forever()
"#;

fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("iso{}x{nanos}", std::process::id())
}

fn spec(app: &str, src: &Path, env: Vec<(String, String)>) -> DeploySpec {
    DeploySpec {
        app: app.into(),
        commit: "c1".into(),
        source_dir: src.to_path_buf(),
        kind: ServeKind::Process {
            run: "exec python3 app.py".into(),
            env,
        },
        health_path: "/".into(),
        version_path: "/__kiln/version".into(),
        expect_text: vec!["probe app".into()],
    }
}

async fn probe(http: &reqwest::Client, base: &str, app: &str) -> Value {
    let response = http
        .get(format!("{base}/apps/{app}/probe"))
        .send()
        .await
        .expect("probe through the proxy");
    assert_eq!(response.status(), 200);
    let body = response.text().await.expect("body");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn a_deployed_app_reaches_only_its_own_database_and_only_through_the_proxy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let sandbox = kiln_sandbox::Sandbox::new(&kiln_sandbox::Config::default())
        .expect("bubblewrap works on this machine")
        .with_bridge_program(env!("CARGO_BIN_EXE_kiln-targets-bridge"));
    let config = LocalConfig {
        readiness_timeout: Duration::from_secs(20),
        verify_window: Duration::from_secs(5),
        app_path: "/usr/local/bin:/usr/bin:/bin".into(),
        sandbox: Some(sandbox),
        ..LocalConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let target = LocalTarget::with_config(tmp.path().join("root"), base.clone(), config);
    let router = target.router();
    tokio::spawn(async move { axum::serve(listener, router).await.expect("proxy") });

    // One database of each kind, provisioned as the deployer does.
    let namespace = token();
    let databases = AppDatabases::new(
        &kiln_appdb::Config {
            namespace: Some(namespace),
            ..kiln_appdb::Config::default()
        },
        &kiln_testkit::admin_url(),
        SecretKey::load_or_create(&tmp.path().join("key")).expect("key"),
    )
    .expect("app databases");
    let pg = databases
        .ensure("pgapp", DatabaseKind::Postgres, None)
        .await
        .expect("provision Postgres (is it running on 127.0.0.1:5432?)");
    let my = databases
        .ensure("myapp", DatabaseKind::Mysql, None)
        .await
        .expect("provision MariaDB (is it running on 127.0.0.1:3306?)");

    // A stand-in for Kiln's API on host loopback (it would answer without a token), and a
    // service listening on every host address.
    let api = std::net::TcpListener::bind("127.0.0.1:0").expect("bind api");
    let wide = std::net::TcpListener::bind("0.0.0.0:0").expect("bind wide");
    for l in [&api, &wide] {
        l.set_nonblocking(true).expect("nonblocking");
    }
    let api_port = api.local_addr().expect("addr").port();
    let wide_port = wide.local_addr().expect("addr").port();
    // Every TCP port the host listens on right now (Kiln's Postgres, NATS, MariaDB, the
    // proxy, the stand-ins and whatever else runs here) besides the well-known ones.
    let mut host_ports = listening_ports();
    host_ports.extend([5432, 4222, 3306, 8080, api_port, wide_port]);
    host_ports.sort_unstable();
    host_ports.dedup();
    // The ports that do lead somewhere inside: the apps' own databases (through the gate).
    host_ports.retain(|p| ![15432, 13306].contains(p));
    // The host's own non-loopback addresses, when it has one.
    let addresses: Vec<String> = host_addresses()
        .into_iter()
        .map(|ip| format!("{ip}:{wide_port}"))
        .collect();

    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("app.py"), PROBE_PY).expect("write app");
    let env = |db: &kiln_appdb::Provisioned, others: &[u16]| {
        let ports: Vec<String> = host_ports
            .iter()
            .chain(others)
            .map(u16::to_string)
            .collect();
        vec![
            ("DATABASE_URL".to_owned(), db.url.clone()),
            ("TRY_PORTS".to_owned(), ports.join(" ")),
            ("TRY_ADDRESSES".to_owned(), addresses.join(" ")),
        ]
    };
    // Each app also tries the other's port: pgapp learns myapp's only on a redeploy.
    let mut pg_spec = spec("pgapp", &src, env(&pg, &[]));
    let pg_first = target.deploy(&pg_spec).await.expect("deploy pgapp");
    let pg_port = pg_first.port.expect("port");
    let my_spec = spec("myapp", &src, env(&my, &[pg_port]));
    let my_live = target.deploy(&my_spec).await.expect("deploy myapp");
    let verified = target.verify(&my_spec, &my_live).await;
    assert!(verified.ok, "myapp: {verified:?}");
    let my_port = my_live.port.expect("port");
    pg_spec.commit = "c2".into();
    pg_spec.kind = spec("pgapp", &src, env(&pg, &[pg_port, my_port])).kind;
    let pg_live = target.deploy(&pg_spec).await.expect("redeploy pgapp");
    let verified = target.verify(&pg_spec, &pg_live).await;
    assert!(verified.ok, "pgapp: {verified:?}");

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    for (app, db, others, inside_port) in [
        ("pgapp", &pg, vec![pg_port, my_port], 15432),
        ("myapp", &my, vec![pg_port], 13306),
    ] {
        // An app's own port leads to itself, should the host have handed it out twice.
        let own_port = if app == "pgapp" {
            pg_live.port
        } else {
            my_live.port
        };
        let seen = probe(&http, &base, app).await;
        eprintln!("{app} saw: {seen}");
        // Its database is at its own loopback, on a port that is not the server's.
        assert_eq!(seen["url_host"], "127.0.0.1", "{app}: {seen}");
        assert_eq!(seen["url_port"], inside_port, "{app}: {seen}");
        // Its own database works, as itself.
        let own = &seen["own"];
        assert_eq!(own["ok"], true, "{app}: {seen}");
        let who = own["out"].as_str().expect("own out");
        assert!(
            who.starts_with(&db.user) && who.ends_with(&format!(" {}", db.database)),
            "{app} is {who:?}, expected {} in {}",
            db.user,
            db.database
        );
        // As the superuser, or to another database, the gate refuses.
        for attempt in ["as_superuser", "as_superuser_own_db", "other_database"] {
            let tried = &seen[attempt];
            assert_eq!(tried["ok"], false, "{app} {attempt}: {seen}");
            let err = tried["err"].as_str().unwrap_or_default();
            assert!(
                err.contains("this app may connect only as its own"),
                "{app} {attempt} was not refused by the gate: {err}"
            );
        }
        // Kiln's Postgres, NATS, MariaDB, the API, the proxy, the other app and every other
        // host port are not there at all, on either loopback.
        for family in ["ports", "ports_v6"] {
            let tried = seen[family].as_object().expect("ports");
            let expected: std::collections::BTreeSet<String> = host_ports
                .iter()
                .chain(&others)
                .map(u16::to_string)
                .collect();
            let got: std::collections::BTreeSet<String> = tried.keys().cloned().collect();
            assert_eq!(got, expected, "{app}: {seen}");
            for (port, outcome) in tried {
                if own_port.is_some_and(|own| own.to_string() == *port) {
                    continue;
                }
                assert_eq!(outcome, "ECONNREFUSED", "{app} {family} {port}: {seen}");
            }
        }
        // The host's other addresses have no route from inside.
        let tried = seen["addresses"].as_object().expect("addresses");
        assert_eq!(tried.len(), addresses.len(), "{seen}");
        for (address, outcome) in tried {
            assert_eq!(outcome, "ENETUNREACH", "{app} {address}: {seen}");
        }
        assert_eq!(
            seen["server_sockets"],
            serde_json::json!([]),
            "{app}: {seen}"
        );
        // The only Unix socket in sight is the bridge's way to its own database's gate.
        assert_eq!(
            seen["unix_sockets"],
            serde_json::json!([format!("/run/kiln/out-{inside_port}.sock")]),
            "{app}: {seen}"
        );
    }
    for l in [&api, &wide] {
        assert!(l.accept().is_err(), "a host stand-in saw an app");
    }

    target.shutdown().await;
    for (app, kind) in [
        ("pgapp", DatabaseKind::Postgres),
        ("myapp", DatabaseKind::Mysql),
    ] {
        databases.drop(app, kind).await.expect("drop app database");
    }
}

/// The ports of the host's listening TCP sockets, IPv4 and IPv6.
fn listening_ports() -> Vec<u16> {
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN.
            if fields.get(3) == Some(&"0A")
                && let Some(port) = fields
                    .get(1)
                    .and_then(|a| a.rsplit_once(':'))
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            {
                ports.push(port);
            }
        }
    }
    ports
}

/// The host's IPv4 addresses other than loopback, from the routing table's local entries.
fn host_addresses() -> Vec<std::net::Ipv4Addr> {
    let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") else {
        return Vec::new();
    };
    // A local address is the line before "/32 host LOCAL".
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Vec<std::net::Ipv4Addr> = lines
        .windows(2)
        .filter(|w| w[1].contains("/32 host LOCAL"))
        .filter_map(|w| w[0].trim().trim_start_matches("|-- ").parse().ok())
        .filter(|ip: &std::net::Ipv4Addr| !ip.is_loopback())
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}
