//! `kiln up --isolated` against the NATS and Postgres it starts itself: every service runs
//! under its own NATS user, nobody gets in without credentials, the services' database role
//! is not a superuser, secrets stay in private files and out of the output. And, with or
//! without `--isolated`, nothing is open: the first start creates one admin token, shows
//! its secret once and keeps it in `<data-dir>/admin-token`.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sqlx::{Connection, Row};

/// `kiln up`, stopped with SIGTERM (so it stops what it started) however the test ends.
struct Up {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Up {
    /// `kiln up --isolated`: its own NATS and Postgres.
    fn start(data_dir: &Path, prefix: &str) -> Self {
        Self::start_with(data_dir, prefix, true, &[])
    }

    /// `kiln up` with `env` added (`KILN_DATABASE_URL`, `KILN_NATS_URL`, ...).
    fn start_with(data_dir: &Path, prefix: &str, isolated: bool, env: &[(&str, &str)]) -> Self {
        let port = || {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string()
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
        cmd.arg("up");
        if isolated {
            cmd.arg("--isolated");
        }
        let mut child = cmd
            .arg("--data-dir")
            .arg(data_dir)
            .args([
                "--http",
                &port(),
                "--apps-http",
                &port(),
                "--prefix",
                prefix,
            ])
            .env_remove("KILN_NATS_URL")
            .env_remove("KILN_DATABASE_URL")
            .env_remove("KILN_CONFIG")
            .env_remove("KILN_NATS__USER")
            .env_remove("KILN_NATS__PASSWORD")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kiln up starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line);
                }
            });
        }
        Self { child, output }
    }

    fn output(&self) -> Vec<String> {
        self.output.lock().unwrap().clone()
    }

    fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.output().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "kiln up exited ({status}) before {needle:?}:\n{}",
                    self.output().join("\n")
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no {needle:?} from kiln up within {timeout:?}:\n{}",
                    self.output().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Up {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: kill(2) on a child this test spawned and has not reaped.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The token after `marker` in `line`, up to the next space.
fn after<'a>(line: &'a str, marker: &str) -> &'a str {
    let rest = &line[line
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {line}"))
        + marker.len()..];
    rest.split_whitespace().next().unwrap_or_default()
}

async fn connect_as(
    url: &str,
    user: &str,
    password: &str,
) -> (async_nats::Client, Arc<Mutex<Vec<String>>>) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let seen = errors.clone();
    let client = async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .custom_inbox_prefix(format!("_INBOX.{user}"))
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                if let async_nats::Event::ServerError(e) = event {
                    seen.lock().unwrap().push(e.to_string());
                }
            }
        })
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} connects: {e}"));
    (client, errors)
}

#[tokio::test]
async fn kiln_up_locks_down_the_servers_it_starts() {
    let dir = tempfile::Builder::new()
        .prefix("kiln-up-")
        .tempdir()
        .unwrap();
    // As root, Postgres runs as the postgres user, who must reach its cluster in here.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let prefix = format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut up = Up::start(&data, &prefix);
    let nats_line = up.wait_for_line("nats: nats://", Duration::from_secs(60));
    let nats_url = after(&nats_line, "nats: ").to_owned();
    let pg_line = up.wait_for_line("postgres: postgres://", Duration::from_secs(120));
    assert!(pg_line.contains("postgres://kiln:***@"), "{pg_line}");
    let pg_port = after(&pg_line, "@127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    up.wait_for_line("Kiln is up.", Duration::from_secs(180));
    let admin_secret = first_sign_in(&mut up, &data);

    // Secrets and the broker's config are private files.
    let secrets = data.join("secrets");
    assert_eq!(mode(&secrets), 0o700);
    assert_eq!(mode(&data.join("nats/nats.conf")), 0o600);
    let mut passwords = Vec::new();
    for service in kiln_contracts::permissions::SERVICES {
        let file = secrets.join(format!("nats/{prefix}-{service}.password"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        passwords.push((service, read(&file)));
    }
    let kiln_pw_file = secrets.join("postgres-kiln.password");
    let superuser_file = secrets.join("postgres-superuser.password");
    assert_eq!(mode(&kiln_pw_file), 0o600);
    assert_eq!(mode(&superuser_file), 0o600);
    let kiln_pw = read(&kiln_pw_file);

    // NATS: no anonymous clients; each service beats under its own user; no refusals.
    let anonymous = async_nats::ConnectOptions::new()
        .max_reconnects(1)
        .connect(&nats_url)
        .await;
    assert!(anonymous.is_err(), "an anonymous client is refused");
    let password = |s: &str| passwords.iter().find(|(n, _)| *n == s).unwrap().1.clone();
    let (api, api_errors) = connect_as(&nats_url, &format!("{prefix}-api"), &password("api")).await;
    let mut beats = api
        .subscribe(format!("{prefix}.heartbeat.*"))
        .await
        .unwrap();
    let mut heard = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while heard.len() < kiln_contracts::permissions::SERVICES.len() {
        match tokio::time::timeout_at(deadline, beats.next()).await {
            Ok(Some(beat)) => {
                heard.insert(beat.subject.to_string());
            }
            _ => panic!(
                "heartbeats heard only from {heard:?}:\n{}",
                up.output().join("\n")
            ),
        }
    }
    let (codegen, codegen_errors) = connect_as(
        &nats_url,
        &format!("{prefix}-codegen"),
        &password("codegen"),
    )
    .await;
    codegen
        .publish(format!("{prefix}.control.pause"), "{}".into())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        codegen.flush().await.unwrap();
        let refused = codegen_errors.lock().unwrap().clone();
        if refused
            .iter()
            .any(|e| e.contains("Permissions Violation") && e.contains("control.pause"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "codegen may not broadcast control, but the server said only {refused:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(api_errors.lock().unwrap().is_empty());

    // Postgres: passwords required; the services' role owns its database and nothing more.
    let pg = |user: &str, db: &str| format!("postgres://{user}@127.0.0.1:{pg_port}/{db}");
    for url in [
        pg("postgres", "postgres"),
        pg("kiln", "kiln"),
        pg("kiln:wrong", "kiln"),
    ] {
        assert!(
            sqlx::PgConnection::connect(&url).await.is_err(),
            "{url} is refused"
        );
    }
    let mut db = sqlx::PgConnection::connect(&pg(&format!("kiln:{kiln_pw}"), "kiln"))
        .await
        .expect("the kiln role logs in with its password");
    let role = sqlx::query(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    for right in ["rolsuper", "rolcreaterole", "rolcreatedb"] {
        assert!(!role.get::<bool, _>(right), "kiln role has {right}");
    }
    sqlx::query("SELECT count(*) FROM tasks")
        .fetch_one(&mut db)
        .await
        .expect("the services' tables are the kiln role's");
    assert_admin(&mut db, &admin_secret).await;
    db.close().await.ok();

    // The CLI run beside the installation finds its database without being told.
    assert_eq!(mode(&data.join("secrets/database-url")), 0o600);
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args([
            "token",
            "create",
            "--role",
            "viewer",
            "--name",
            "reader",
            "--data-dir",
        ])
        .arg(&data)
        .env_remove("KILN_DATABASE_URL")
        .env_remove("KILN_CONFIG")
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(["audit", "verify", "--data-dir"])
        .arg(&data)
        .env_remove("KILN_DATABASE_URL")
        .env_remove("KILN_CONFIG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(said.contains("intact: 2 rows"), "{said}");

    // A task goes through every stage, each service under its own identity (publishing only
    // the rows it wrote), signed in with the token `kiln up` created.
    let api_line = up.wait_for_line("  API        http://", Duration::from_secs(1));
    let base = after(&api_line, "API        ")
        .trim_end_matches("/api/v1/tasks")
        .to_owned();
    let http = reqwest::Client::new();
    let created: serde_json::Value = http
        .post(format!("{base}/api/v1/tasks"))
        .bearer_auth(&admin_secret)
        .json(&serde_json::json!({
            "kind": "new_app",
            "template": "static-site",
            "name": "locked",
            "brief": "A page that greets visitors"
        }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .expect("the admin token may create a task")
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a task id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    let task = loop {
        let task: serde_json::Value = http
            .get(format!("{base}/api/v1/tasks/{id}"))
            .bearer_auth(&admin_secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let status = task["status"].as_str().unwrap_or_default();
        if [
            "deployed",
            "merged",
            "blocked",
            "failed",
            "cancelled",
            "rolled_back",
        ]
        .contains(&status)
        {
            break task;
        }
        assert!(
            Instant::now() < deadline,
            "task still {status}:\n{}",
            up.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        task["status"],
        "deployed",
        "{task:#}\n{}",
        up.output().join("\n")
    );

    let output = up.output().join("\n");
    for (service, pw) in &passwords {
        assert!(
            !output.contains(pw.as_str()),
            "{service}'s password printed"
        );
    }
    assert!(!output.contains(&kiln_pw), "the database password printed");
    assert!(!output.contains(&read(&superuser_file)));
    for refusal in ["Permissions Violation", "nats server refused"] {
        assert!(
            !output.contains(refusal),
            "a service was refused:\n{output}"
        );
    }
}

/// The banner's last line: everything before it has been printed.
const BANNER_END: &str = "  Stop       Ctrl-C";

/// A first start's sign-in: the secret in the banner's link (shown there only, once) is the
/// one in `<data-dir>/admin-token`, a private file.
fn first_sign_in(up: &mut Up, data: &Path) -> String {
    up.wait_for_line(BANNER_END, Duration::from_secs(180));
    let line = up.wait_for_line("  Sign in    http://", Duration::from_secs(1));
    let secret = after(&line, "/signin#token=").to_owned();
    assert!(secret.starts_with("kiln_"), "{line}");
    let file = data.join("admin-token");
    assert_eq!(mode(&file), 0o600);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{secret}\n"),
        "the file holds the secret and a newline"
    );
    let output = up.output().join("\n");
    assert_eq!(
        output.matches(secret.as_str()).count(),
        1,
        "the secret is printed once, in the banner:\n{output}"
    );
    secret
}

/// `secret` signs in as the admin token `kiln up` created, which is audited.
async fn assert_admin(db: &mut sqlx::PgConnection, secret: &str) {
    let token = kiln_store::auth::authenticate(&mut *db, secret)
        .await
        .unwrap()
        .expect("the admin token authenticates");
    assert_eq!(token.role, kiln_store::auth::Role::Admin);
    assert_eq!(token.name, "admin");
    assert_eq!(token.created_by, "kiln up");
    let filter = kiln_store::audit::Filter {
        action: Some("token.create".into()),
        limit: 10,
        ..Default::default()
    };
    let (entries, _) = kiln_store::audit::list(&mut *db, &filter).await.unwrap();
    let created: Vec<_> = entries
        .iter()
        .filter(|e| e.target == "admin")
        .map(|e| (e.actor.as_str(), e.source.as_str()))
        .collect();
    assert_eq!(created, [("kiln up", "cli")], "one audited creation");
}

async fn live_tokens(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
        .fetch_one(db)
        .await
        .unwrap()
}

/// Against a database `kiln up` did not start (as the browser tests run it): the first start
/// creates the admin token; later ones point at its file, or say nothing when the file is
/// gone; a file whose token no longer works is replaced rather than locking everyone out.
#[tokio::test]
async fn kiln_up_creates_one_admin_token_and_shows_it_once() {
    let env = kiln_testkit::TestEnv::new().await;
    let data = env.data_path().join("data");
    let vars = [
        ("KILN_DATABASE_URL", env.db_url.as_str()),
        ("KILN_NATS_URL", env.nats_url.as_str()),
    ];
    let file = data.join("admin-token");

    let mut up = Up::start_with(&data, &env.prefix, false, &vars);
    let secret = first_sign_in(&mut up, &data);
    let mut db = env.pool.acquire().await.unwrap();
    assert_admin(&mut db, &secret).await;
    drop(up);

    // Again: the same token, its secret not printed, the file named.
    let mut up = Up::start_with(&data, &env.prefix, false, &vars);
    up.wait_for_line(BANNER_END, Duration::from_secs(180));
    let line = up.wait_for_line("  Sign in", Duration::from_secs(1));
    assert_eq!(line, format!("  Sign in    token in {}", file.display()));
    let output = up.output().join("\n");
    assert!(!output.contains(&secret), "the secret printed again");
    assert_eq!(live_tokens(&env.pool).await, 1, "no second token");
    assert_eq!(read(&file), secret);
    drop(up);

    // Without the file (the token lives on): nothing about signing in.
    std::fs::remove_file(&file).unwrap();
    let mut up = Up::start_with(&data, &env.prefix, false, &vars);
    up.wait_for_line(BANNER_END, Duration::from_secs(180));
    let output = up.output();
    assert!(
        !output
            .iter()
            .any(|l| l.contains("Sign in") || l.contains(&secret)),
        "{output:#?}"
    );
    assert!(!file.exists());
    assert_eq!(live_tokens(&env.pool).await, 1, "no second token");
    drop(up);

    // Every token revoked, a stale file: a new admin token replaces it.
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    sqlx::query("UPDATE api_tokens SET revoked_at = now()")
        .execute(&env.pool)
        .await
        .unwrap();
    let mut up = Up::start_with(&data, &env.prefix, false, &vars);
    up.wait_for_line(BANNER_END, Duration::from_secs(180));
    let line = up.wait_for_line("  Sign in    http://", Duration::from_secs(1));
    let fresh = after(&line, "/signin#token=").to_owned();
    assert_ne!(fresh, secret);
    assert_eq!(read(&file), fresh);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(live_tokens(&env.pool).await, 1);
    let token = kiln_store::auth::authenticate(&env.pool, &fresh)
        .await
        .unwrap()
        .expect("the new token authenticates");
    assert_eq!(token.role, kiln_store::auth::Role::Admin);
    drop(up);
}

/// Without the embedding model (or its runtime), `kiln up` says so before it starts
/// anything, every service still comes up, and the indexer reports the missing file in its
/// heartbeats (`/api/v1/system`) while retrieval runs BM25-only.
#[tokio::test]
async fn kiln_up_without_the_embedding_model_warns_and_runs_sparse_only() {
    let env = kiln_testkit::TestEnv::new().await;
    let data = env.data_path().join("data");
    let missing = env.data_path().join("no-model-here");
    let missing_str = missing.display().to_string();
    let vars = [
        ("KILN_DATABASE_URL", env.db_url.as_str()),
        ("KILN_NATS_URL", env.nats_url.as_str()),
        ("KILN_RAG__MODEL_DIR", missing_str.as_str()),
        ("KILN_RAG__DENSE", "true"),
    ];
    let mut up = Up::start_with(&data, &env.prefix, false, &vars);
    let warned = up.wait_for_line("warning: dense retrieval is off", Duration::from_secs(60));
    assert!(
        warned.contains(&format!("{missing_str}/model.onnx")) && warned.contains("setup.sh"),
        "the warning names the missing file and the fix: {warned}"
    );
    let secret = first_sign_in(&mut up, &data);
    let api_line = up.wait_for_line("  API        http://", Duration::from_secs(1));
    let base = after(&api_line, "API        ")
        .trim_end_matches("/api/v1/tasks")
        .to_owned();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let warnings = loop {
        let system: serde_json::Value = http
            .get(format!("{base}/api/v1/system"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let indexer = system["services"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["service"] == "indexer")
            .and_then(|s| s["replicas"].as_array().and_then(|r| r.first()).cloned());
        if let Some(w) = indexer
            .as_ref()
            .and_then(|r| r["warnings"].as_array())
            .filter(|w| !w.is_empty())
        {
            break w.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no indexer warning in {system:#}\n{}",
            up.output().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        warnings[0]
            .as_str()
            .is_some_and(|w| w.contains("BM25 only") && w.contains("model.onnx")),
        "{warnings:?}"
    );
}
