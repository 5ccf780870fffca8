//! `kiln up`: all of Kiln on one machine.
//!
//! Uses `KILN_NATS_URL` / `KILN_DATABASE_URL` when set; otherwise the default local ports;
//! otherwise starts its own `nats-server -js` and Postgres cluster inside `--data-dir`.
//! Then creates the database, migrates, spawns every service as its own process (with
//! replicas from `--scale`), prefixes their output, restarts a crashed service with
//! backoff (giving up instead of crash-looping), and stops everything on Ctrl-C.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::serve::{Service, shutdown_on_signal};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address of the HTTP API and dashboard.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// Address of the deployer's proxy, where deployed apps are served.
    #[arg(long, default_value = "127.0.0.1:8081")]
    apps_http: SocketAddr,
    /// Git repositories, workspaces, releases and (when started here) NATS and Postgres data.
    #[arg(long, default_value = ".kiln")]
    data_dir: PathBuf,
    /// Replicas of a service, e.g. `--scale codegen=2` (repeatable).
    #[arg(long, value_parser = parse_scale)]
    scale: Vec<(Service, usize)>,
    /// Subject prefix (isolates this installation on a shared NATS).
    #[arg(long, default_value = "kiln")]
    prefix: String,
}

fn parse_scale(s: &str) -> Result<(Service, usize), String> {
    let (name, n) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SERVICE=N, got {s:?}"))?;
    let service = Service::parse(name).ok_or_else(|| {
        let names: Vec<_> = Service::ALL.iter().map(|s| s.name()).collect();
        format!("unknown service {name:?}; one of {}", names.join(", "))
    })?;
    let n: usize = n
        .parse()
        .map_err(|_| format!("replica count must be a number, got {n:?}"))?;
    if !(1..=16).contains(&n) {
        return Err("replica count must be between 1 and 16".into());
    }
    if service == Service::Deployer && n > 1 {
        return Err("the local deploy target serves apps from one process; keep deployer=1".into());
    }
    Ok((service, n))
}

/// A process `kiln up` started and must stop.
struct Owned {
    name: String,
    child: Child,
}

pub async fn up(config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_on_signal();
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating data directory {}", args.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&args.data_dir)?;
    let mut infra: Vec<Owned> = Vec::new();

    let result = run(config, &args, &data_dir, &mut infra, &shutdown).await;
    for mut owned in infra.into_iter().rev() {
        say("kiln", &format!("stopping {}", owned.name));
        stop(&mut owned.child, Duration::from_secs(15)).await;
    }
    result
}

async fn run(
    config: Option<&Path>,
    args: &Args,
    data_dir: &Path,
    infra: &mut Vec<Owned>,
    shutdown: &CancellationToken,
) -> anyhow::Result<ExitCode> {
    let nats_url = match std::env::var("KILN_NATS_URL") {
        Ok(url) => url,
        Err(_) if answers("127.0.0.1:4222").await => "nats://127.0.0.1:4222".into(),
        Err(_) => {
            let (url, child) = start_nats(data_dir).await?;
            infra.push(Owned {
                name: "nats-server".into(),
                child,
            });
            url
        }
    };
    say("kiln", &format!("nats: {nats_url}"));

    let admin_url = match std::env::var("KILN_DATABASE_URL") {
        Ok(url) => url,
        Err(_) if answers("127.0.0.1:5432").await => {
            "postgres://postgres@127.0.0.1:5432/kiln".into()
        }
        Err(_) => {
            let (url, child) = start_postgres(data_dir).await?;
            infra.push(Owned {
                name: "postgres".into(),
                child,
            });
            url
        }
    };
    let db_url = ensure_database(&admin_url).await?;
    let pool = sqlx::PgPool::connect(&db_url)
        .await
        .context("connecting to postgres")?;
    kiln_store::MIGRATOR
        .run(&pool)
        .await
        .context("applying migrations")?;
    pool.close().await;
    say("kiln", &format!("postgres: {} (migrated)", redact(&db_url)));

    let exe = std::env::current_exe().context("locating the kiln binary")?;
    let scale: HashMap<Service, usize> = args.scale.iter().copied().collect();
    let mut env = vec![
        ("KILN_NATS_URL".to_owned(), nats_url.clone()),
        ("KILN_NATS__PREFIX".to_owned(), args.prefix.clone()),
        ("KILN_DATABASE_URL".to_owned(), db_url.clone()),
        (
            "KILN_RUNTIME__DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
        ("KILN_API__HTTP".to_owned(), args.http.to_string()),
        ("KILN_DEPLOYER__HTTP".to_owned(), args.apps_http.to_string()),
        (
            "KILN_DEPLOYER__PUBLIC_URL".to_owned(),
            format!("http://{}", args.apps_http),
        ),
    ];
    if let Some(path) = config {
        env.push(("KILN_CONFIG".to_owned(), path.display().to_string()));
    }
    let dashboard = std::env::var_os("KILN_API__DASHBOARD_DIR")
        .map(PathBuf::from)
        .or_else(|| dashboard_dir(&exe));
    if let Some(dir) = &dashboard {
        env.push((
            "KILN_API__DASHBOARD_DIR".to_owned(),
            dir.display().to_string(),
        ));
    }
    let mut services = Vec::new();
    for service in Service::ALL {
        for replica in 1..=scale.get(&service).copied().unwrap_or(1) {
            services.push(Supervised::new(service, replica, &exe, &env));
        }
    }
    for s in &mut services {
        s.start()?;
    }
    if wait_for_api(args.http, shutdown).await {
        println!();
        println!("  Kiln is up.");
        match &dashboard {
            Some(_) => println!("  Dashboard  http://{}/", args.http),
            None => println!("  Dashboard  not built (npm run build in frontend/)"),
        }
        println!("  API        http://{}/api/v1/tasks", args.http);
        println!("  Apps       http://{}/apps/<name>/", args.apps_http);
        println!(
            "  Try        curl -s -X POST http://{}/api/v1/tasks -H 'content-type: application/json' \\\n               -d '{{\"kind\":\"new_app\",\"template\":\"static-site\",\"name\":\"demo\",\"brief\":\"A page that greets visitors\"}}'",
            args.http
        );
        println!("  Stop       Ctrl-C");
        println!();
    }

    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while !shutdown.is_cancelled() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => break,
        }
        for s in &mut services {
            s.supervise()?;
        }
    }
    say("kiln", "stopping services");
    let stops = services
        .iter_mut()
        .filter_map(|s| s.child.as_mut())
        .map(|c| stop(c, Duration::from_secs(30)));
    futures::future::join_all(stops).await;
    Ok(ExitCode::SUCCESS)
}

/// The built dashboard (`frontend/dist`) of the checkout Kiln runs from: under the current
/// directory, or next to the `target/` holding this binary. Building it is up.sh's job.
fn dashboard_dir(exe: &Path) -> Option<PathBuf> {
    let from_cwd = std::env::current_dir()
        .ok()
        .map(|d| d.join("frontend/dist"));
    let from_exe = exe.parent().map(|d| d.join("../../frontend/dist"));
    [from_cwd, from_exe]
        .into_iter()
        .flatten()
        .find(|d| d.join("index.html").is_file())
        .and_then(|d| std::fs::canonicalize(d).ok())
}

/// One service replica and its restart bookkeeping.
struct Supervised {
    label: String,
    service: Service,
    exe: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    crashes: Vec<Instant>,
    restart_at: Option<Instant>,
    given_up: bool,
}

const MAX_CRASHES_PER_MINUTE: usize = 5;

impl Supervised {
    fn new(service: Service, replica: usize, exe: &Path, env: &[(String, String)]) -> Self {
        let label = format!("{}.{replica}", service.name());
        let mut env = env.to_vec();
        env.push(("KILN_RUNTIME__WORKER_ID".into(), label.clone()));
        Self {
            label,
            service,
            exe: exe.to_path_buf(),
            env,
            child: None,
            crashes: Vec::new(),
            restart_at: None,
            given_up: false,
        }
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("serve")
            .arg(self.service.name())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", self.label))?;
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let label = self.label.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    say(&label, &line);
                }
            });
        }
        self.child = Some(child);
        Ok(())
    }

    /// Restarts a crashed replica with backoff; gives up after repeated crashes.
    fn supervise(&mut self) -> anyhow::Result<()> {
        if self.given_up {
            return Ok(());
        }
        if let Some(at) = self.restart_at {
            if Instant::now() >= at {
                self.restart_at = None;
                say("kiln", &format!("restarting {}", self.label));
                self.start()?;
            }
            return Ok(());
        }
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        if let Ok(Some(status)) = child.try_wait() {
            self.child = None;
            let now = Instant::now();
            self.crashes
                .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            self.crashes.push(now);
            if self.crashes.len() >= MAX_CRASHES_PER_MINUTE {
                self.given_up = true;
                say(
                    "kiln",
                    &format!(
                        "{} exited {} times within a minute ({status}); not restarting it. Fix the cause above and run kiln up again",
                        self.label,
                        self.crashes.len()
                    ),
                );
            } else {
                let delay = Duration::from_secs(1 << (self.crashes.len() - 1));
                say(
                    "kiln",
                    &format!("{} exited ({status}); restarting in {delay:?}", self.label),
                );
                self.restart_at = Some(now + delay);
            }
        }
        Ok(())
    }
}

fn say(label: &str, line: &str) {
    println!("{label:>12} | {line}");
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn answers(addr: &str) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_until_answers(what: &str, addr: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if answers(addr).await {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            bail!("{what} exited during start-up ({status}); see its output above");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{what} did not accept connections on {addr} within 30 s")
}

fn find_binary(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

async fn start_nats(data_dir: &Path) -> anyhow::Result<(String, Child)> {
    let bin = find_binary("nats-server", &[]).context(
        "no NATS server answers on 127.0.0.1:4222 and nats-server is not installed (apt-get install nats-server), or set KILN_NATS_URL",
    )?;
    let port = free_port()?;
    let store = data_dir.join("nats");
    std::fs::create_dir_all(&store)?;
    say(
        "kiln",
        &format!("starting nats-server -js on 127.0.0.1:{port}"),
    );
    let mut child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting nats-server")?;
    wait_until_answers("nats-server", &format!("127.0.0.1:{port}"), &mut child).await?;
    Ok((format!("nats://127.0.0.1:{port}"), child))
}

fn postgres_bin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| rd.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.reverse();
    dirs
}

#[allow(unsafe_code)]
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Postgres refuses to run as root; as root we run it as the `postgres` system user.
fn pg_command(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

async fn start_postgres(data_dir: &Path) -> anyhow::Result<(String, Child)> {
    let dirs = postgres_bin_dirs();
    let initdb = find_binary("initdb", &dirs);
    let postgres = find_binary("postgres", &dirs);
    let (Some(initdb), Some(postgres)) = (initdb, postgres) else {
        bail!(
            "no Postgres answers on 127.0.0.1:5432 and its server binaries are not installed (apt-get install postgresql), or set KILN_DATABASE_URL"
        );
    };
    let pgdata = data_dir.join("postgres");
    let sock = data_dir.join("postgres-socket");
    std::fs::create_dir_all(&sock)?;
    if is_root() {
        let status = std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&sock)
            .status()?;
        if !status.success() {
            bail!("cannot hand {} to the postgres user", sock.display());
        }
    }
    if !pgdata.join("PG_VERSION").exists() {
        std::fs::create_dir_all(&pgdata)?;
        if is_root() {
            std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&pgdata)
                .status()?;
        }
        say(
            "kiln",
            &format!("initialising a Postgres cluster in {}", pgdata.display()),
        );
        let out = pg_command(&initdb)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "-D"])
            .arg(&pgdata)
            .output()
            .await
            .context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let port = free_port()?;
    say("kiln", &format!("starting postgres on 127.0.0.1:{port}"));
    let mut child = pg_command(&postgres)
        .arg("-D")
        .arg(&pgdata)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting postgres")?;
    wait_until_answers("postgres", &format!("127.0.0.1:{port}"), &mut child).await?;
    Ok((format!("postgres://postgres@127.0.0.1:{port}/kiln"), child))
}

/// Creates the database named in `url` when it does not exist; returns `url`.
async fn ensure_database(url: &str) -> anyhow::Result<String> {
    let (base, db) = url
        .rsplit_once('/')
        .filter(|(_, db)| !db.is_empty() && !db.contains('@'))
        .context("the database URL must name a database, e.g. postgres://user@host:5432/kiln")?;
    let db = db.split('?').next().unwrap_or(db);
    if !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name {db:?} must be letters, digits and underscores");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut admin = loop {
        match sqlx::PgConnection::connect(&format!("{base}/postgres")).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => return Err(e).context("connecting to postgres"),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(db)
        .fetch_optional(&mut admin)
        .await?
        .is_some();
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {db}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating database {db}"))?;
        say("kiln", &format!("created database {db}"));
    }
    admin.close().await.ok();
    Ok(url.to_owned())
}

async fn wait_for_api(addr: SocketAddr, shutdown: &CancellationToken) -> bool {
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !shutdown.is_cancelled() {
        if client
            .get(&url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[allow(unsafe_code)]
async fn stop(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on a child we spawned and have not reaped; no memory is touched.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_flags_are_validated() {
        assert_eq!(parse_scale("codegen=2"), Ok((Service::Codegen, 2)));
        assert!(parse_scale("codegen").unwrap_err().contains("SERVICE=N"));
        assert!(
            parse_scale("painter=2")
                .unwrap_err()
                .contains("unknown service")
        );
        assert!(parse_scale("tester=0").is_err());
        assert!(
            parse_scale("deployer=2")
                .unwrap_err()
                .contains("deployer=1")
        );
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact("postgres://kiln:hunter2@db:5432/kiln"),
            "postgres://kiln:***@db:5432/kiln"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/kiln"),
            "postgres://postgres@127.0.0.1/kiln"
        );
    }
}
