//! `kiln bench template`: what a template's validation costs with a cold and a warm dependency
//! cache, and what the whole pipeline costs next to a person running the same commands.
//!
//! In one run, on one machine:
//! 1. the template rendered into a fresh workspace and its install, build and test commands run
//!    in the sandbox with an empty cache (first validation), then again in another fresh
//!    workspace with the cache the first run filled (second validation);
//! 2. the same commands run directly with `sh -c`, no sandbox, warm cache, then the app started
//!    and polled until its health path answers ("by hand");
//! 3. `kiln up` on a scratch database and subject prefix, a task POSTed, and the time until the
//!    task is `deployed` (its URL verified), with the warm cache.
//!
//! It prints each time and the ratios second/first and pipeline/by-hand.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kiln_runtime::config::Loader;
use kiln_sandbox::{CommandSpec, Sandbox};
use kiln_templates::{Catalog, RenderContext, ServeKind, Story, Template};
use kiln_tester::Phase;
use uuid::Uuid;

const BRIEF: &str =
    "An order board for a pizza shop with a menu, an order list and delivery tracking.";

fn context(project: &str) -> RenderContext {
    let story = |t: &str| Story {
        title: t.into(),
        description: format!("{t} for the pizza shop"),
        acceptance: vec![format!("The home page presents {t}")],
    };
    RenderContext {
        project: project.into(),
        title: "Pizza board".into(),
        brief: BRIEF.into(),
        epic: "A pizza shop order board".into(),
        stories: vec![story("A menu"), story("An order list")],
        task_id: Uuid::nil().to_string(),
    }
}

fn render(template: &Template, dir: &Path) -> anyhow::Result<()> {
    let files = template.render(&context("benchapp"))?;
    kiln_templates::write_files(dir, &files)?;
    Ok(())
}

fn commands(template: &Template) -> Vec<(Phase, String)> {
    kiln_tester::commands(template, &[Phase::Install, Phase::Build, Phase::Test])
        .into_iter()
        .map(|(p, c)| (p, c.to_owned()))
        .collect()
}

/// Install, build and test in the sandbox, as the tester runs them.
async fn validate(
    sandbox: &Sandbox,
    template: &Template,
    ws: &Path,
    cache: &Path,
) -> anyhow::Result<Duration> {
    render(template, ws)?;
    let env = kiln_tester::command_env(cache, template, "", "bench")?;
    let started = Instant::now();
    for (phase, cmd) in commands(template) {
        let spec = CommandSpec {
            command: cmd.clone(),
            dir: ws.to_path_buf(),
            env: env.vars.clone(),
            path: std::env::var("PATH").unwrap_or_default(),
            home: None,
            timeout: Duration::from_secs(900),
            output_cap: 16 * 1024,
            network: phase == Phase::Install,
            writable: env.writable.clone(),
        };
        let r = sandbox.run(&spec, None).await?;
        if !r.success() {
            bail!("`{cmd}` failed ({:?}):\n{}", r.exit_code, r.output_tail);
        }
    }
    Ok(started.elapsed())
}

/// The same commands typed by a person: plain `sh -c`, then the app started until healthy.
async fn by_hand(template: &Template, ws: &Path, cache: &Path) -> anyhow::Result<Duration> {
    render(template, ws)?;
    let env = kiln_tester::command_env(cache, template, "", "bench")?;
    let started = Instant::now();
    for (_, cmd) in commands(template) {
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(ws)
            .envs(env.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "`{cmd}` failed by hand:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let serve = &template.manifest.serve;
    if serve.kind == ServeKind::Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut app = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", serve.run.as_deref().unwrap_or_default()))
            .current_dir(ws)
            .envs(env.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}{}", serve.health_path);
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("{url} did not answer within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = app.kill().await;
    }
    Ok(started.elapsed())
}

/// `kiln up` on a scratch database and prefix; POST → deployed and verified.
async fn pipeline(
    config: Option<&Path>,
    base: &kiln_runtime::Config,
    template: &str,
    scratch: &Path,
    cache: &Path,
) -> anyhow::Result<Duration> {
    let db = crate::bench::ScratchDb::create(base).await?;
    let free = || -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    };
    let (api, apps) = (free()?, free()?);
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(exe);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let mut up = cmd
        .args(["up", "--http", &format!("127.0.0.1:{api}")])
        .args(["--apps-http", &format!("127.0.0.1:{apps}")])
        .arg("--data-dir")
        .arg(scratch.join("up"))
        .args(["--prefix", &format!("bench{}", db.tag)])
        .env("KILN_DATABASE_URL", &db.url)
        .env("KILN_NATS_URL", &base.nats.url)
        .env("KILN_CACHE_DIR", cache)
        .env("KILN_RUNTIME__LOG_FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting kiln up")?;
    let result = post_and_wait(api, template).await;
    if let Some(pid) = up.id() {
        // SIGINT: `kiln up` stops every service and app it started.
        // SAFETY: kill(2) on the child we spawned; no memory is touched.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(pid as i32, libc::SIGINT);
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), up.wait()).await;
    db.drop().await;
    result
}

async fn post_and_wait(api: u16, template: &str) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{api}/api/v1");
    let ready = Instant::now() + Duration::from_secs(120);
    while !http
        .get(format!("{base}/templates"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() > ready {
            bail!("kiln up did not answer within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every service must be consuming before the clock starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let created: serde_json::Value = http
        .post(format!("{base}/tasks"))
        .json(&serde_json::json!({"kind": "new_app", "template": template, "name": "benchapp", "brief": BRIEF}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_str().context("task id")?.to_owned();
    loop {
        let task: serde_json::Value = http
            .get(format!("{base}/tasks/{id}"))
            .send()
            .await?
            .json()
            .await?;
        match task["status"].as_str().unwrap_or_default() {
            "deployed" => return Ok(started.elapsed()),
            "merged" | "blocked" | "failed" | "cancelled" | "rolled_back" => {
                bail!(
                    "the task ended {}: {}",
                    task["status"],
                    task["gate"]["reasons"]
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("the task did not finish within 15 minutes");
        }
    }
}

pub async fn run(config: Option<&Path>, template_name: &str) -> anyhow::Result<ExitCode> {
    let loader = Loader::new(config);
    let base = loader.base().context("loading configuration")?;
    let sandbox_config: kiln_sandbox::Config = loader.section("sandbox")?;
    let sandbox = Sandbox::new(&sandbox_config)?;
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    let template = catalog
        .get(template_name)
        .with_context(|| format!("no template named {template_name:?}"))?;
    let scratch = tempfile::Builder::new().prefix("kiln-bench-").tempdir()?;
    let dir = |n: &str| -> PathBuf { scratch.path().join(n) };
    let cache = dir("cache");

    let _telemetry = kiln_runtime::telemetry::init("bench", base.runtime.log_format, "warn");
    println!(
        "template {template_name}, sandbox {}, commands: {}",
        sandbox.isolation(),
        commands(template)
            .iter()
            .map(|(_, c)| c.as_str())
            .collect::<Vec<_>>()
            .join(" && ")
    );
    let first = validate(&sandbox, template, &dir("ws-first"), &cache).await?;
    let second = validate(&sandbox, template, &dir("ws-second"), &cache).await?;
    let hand = by_hand(template, &dir("ws-hand"), &cache).await?;
    let whole = pipeline(config, &base, template_name, scratch.path(), &cache).await?;

    let s = |d: Duration| format!("{:>8.2} s", d.as_secs_f64());
    println!("{:<48} {}", "first validation (empty cache)", s(first));
    println!(
        "{:<48} {}   {:.2}x of the first",
        "second validation (warm cache)",
        s(second),
        second.as_secs_f64() / first.as_secs_f64()
    );
    println!(
        "{:<48} {}",
        "by hand: same commands + start until healthy",
        s(hand)
    );
    println!(
        "{:<48} {}   {:.2}x by hand",
        "pipeline: POST to verified URL (warm cache)",
        s(whole),
        whole.as_secs_f64() / hand.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
