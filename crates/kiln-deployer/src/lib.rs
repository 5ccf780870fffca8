//! Deployer service: builds the approved commit, puts it live on a deploy target, verifies
//! that the live app is the one deployed (health, build stamp, expected content) and records
//! the deployment.
//!
//! The local target (the embedded default) serves static sites and supervised app processes
//! behind this service's own HTTP listener; apps that were live come back when the deployer
//! restarts. Deploys are idempotent per (app, commit): a redelivered message finds the release
//! already live and only verifies it, so a task is never deployed twice.

use std::net::SocketAddr;
use std::time::Duration;

use kiln_contracts::{Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Runtime, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, Deployment};
use kiln_targets::{DeploySpec, Deployed, ServeKind, Target, Verification};
use kiln_targets::{LocalConfig, LocalTarget};
use kiln_templates::Catalog;
use kiln_tester::Phase;
use sqlx::PgConnection;
use uuid::Uuid;

/// Deployer settings (`[deployer]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listener of the app proxy (and this service's health and metrics).
    pub http: SocketAddr,
    /// URL people reach the proxy at; defaults to `http://<bound address>`.
    pub public_url: Option<String>,
    /// Seconds a started app may take to accept connections.
    pub readiness_timeout_secs: u64,
    /// Limits of the install and build commands run before deploying.
    pub build: kiln_tester::Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_url: None,
            readiness_timeout_secs: 20,
            build: kiln_tester::Config::default(),
        }
    }
}

/// What one deploy produced.
pub struct Outcome {
    target: &'static str,
    deployed: Deployed,
    verification: Verification,
}

pub struct Deployer {
    git: Git,
    sandbox: Result<kiln_sandbox::Sandbox, String>,
    catalog: Catalog,
    target: LocalTarget,
    config: Config,
}

/// What the live page must show: the project name (always rendered, always escape-safe) and
/// story titles safe to look for verbatim in HTML (no characters escaping would change).
fn expected_texts(project: &str, stories: &[records::Story]) -> Vec<String> {
    let safe = |t: &String| {
        t.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == ',')
    };
    std::iter::once(project.to_owned())
        .chain(stories.iter().map(|s| s.title.clone()).filter(safe).take(3))
        .collect()
}

impl Deployer {
    async fn spec(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        source_dir: std::path::PathBuf,
    ) -> Result<DeploySpec, HandlerError> {
        let task = &job.task;
        let template = self.catalog.get(&task.template).ok_or_else(|| {
            HandlerError::Permanent(format!("template {:?} is not installed", task.template))
        })?;
        let serve = &template.manifest.serve;
        let kind = match serve.kind {
            kiln_templates::ServeKind::Static => ServeKind::Static {
                dir: serve.static_dir.clone().unwrap_or_default(),
            },
            kiln_templates::ServeKind::Process => ServeKind::Process {
                run: serve.run.clone().unwrap_or_default(),
                env: vec![],
            },
        };
        let mut conn = cx.db.acquire().await?;
        let plan = records::get_plan(&mut conn, task.id).await?;
        Ok(DeploySpec {
            app: task.project.clone(),
            commit: job.input.commit.clone(),
            source_dir,
            kind,
            health_path: serve.health_path.clone(),
            version_path: serve.version_path.clone(),
            expect_text: expected_texts(
                &task.project,
                plan.map(|p| p.stories).as_deref().unwrap_or_default(),
            ),
        })
    }
}

impl Handler for Deployer {
    type Input = WorkItem;
    type Output = Outcome;

    fn binding(&self) -> Binding {
        Binding {
            name: "deploy",
            stage: Stage::Deploy,
            active_status: Some(TaskStatus::Deploying),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Outcome, HandlerError> {
        let task = &job.task;
        let commit = &job.input.commit;
        let short = &commit[..commit.len().min(12)];
        // Remote state first: a redelivered message must not build and deploy again.
        let already = self
            .target
            .current(&task.project)
            .await
            .filter(|(live, _)| live == commit);
        let (spec, deployed, _scratch) = match already {
            Some((_, deployed)) => {
                job.log
                    .info(format!(
                        "{short} is already live at {}; verifying it again",
                        deployed.url
                    ))
                    .await;
                let spec = self.spec(cx, job, deployed.dir.clone()).await?;
                (spec, deployed, None)
            }
            None => {
                let template = self.catalog.get(&task.template).ok_or_else(|| {
                    HandlerError::Permanent(format!(
                        "template {:?} is not installed",
                        task.template
                    ))
                })?;
                let scratch = cx
                    .scratch(&task.id.to_string())
                    .map_err(|e| HandlerError::retryable("scratch directory", &e))?;
                let ws = scratch.path().join("release");
                self.git
                    .checkout_commit(&cx.repo_path(&task.project), commit, &ws)
                    .await
                    .map_err(|e| HandlerError::retryable("checking out the approved commit", &e))?;
                job.log.info(format!("building {short} for release")).await;
                let cmds = kiln_tester::commands(template, &[Phase::Install, Phase::Build]);
                let env = kiln_tester::command_env(
                    &cx.cache_dir,
                    template,
                    &format!("/apps/{}", task.project),
                    commit,
                )
                .map_err(|e| HandlerError::retryable("creating the dependency caches", &e))?;
                let sandbox = self.sandbox.as_ref().map_err(|why| {
                    HandlerError::Permanent(format!(
                        "refusing to build generated code for release: {why}"
                    ))
                })?;
                let results = kiln_tester::run_commands(
                    sandbox,
                    &self.config.build,
                    &ws,
                    &env,
                    &cmds,
                    &job.log,
                )
                .await
                .map_err(|e| HandlerError::retryable("running a build command", &e))?;
                if let Some(failed) = results
                    .iter()
                    .find(|r| r.exit_code != Some(0) || r.timed_out || r.limit_hit.is_some())
                {
                    return Err(HandlerError::Permanent(format!(
                        "release build failed: `{}` exited with {:?}: {}",
                        failed.command,
                        failed.exit_code,
                        failed.output_tail.lines().last().unwrap_or_default()
                    )));
                }
                let spec = self.spec(cx, job, ws).await?;
                let deployed = self.target.deploy(&spec).await.map_err(|e| {
                    HandlerError::Permanent(format!(
                        "deploy to the local target failed: {}",
                        kiln_runtime::harness::error_chain(&e)
                    ))
                })?;
                job.log
                    .info(format!("{short} is live at {}", deployed.url))
                    .await;
                (spec, deployed, Some(scratch))
            }
        };
        cx.progress_status(
            task.id,
            TaskStatus::Verifying,
            Stage::Deploy,
            "verifying the live app",
        )
        .await?;
        let verification = self.target.verify(&spec, &deployed).await;
        if verification.ok {
            // `main` records what is live: revisions start from it.
            self.git
                .set_branch(&cx.repo_path(&task.project), kiln_git::BASE_BRANCH, commit)
                .await
                .map_err(|e| {
                    HandlerError::retryable("recording the deployed commit on main", &e)
                })?;
        }
        for c in &verification.checks {
            let line = format!(
                "verify {}: {} ({})",
                c.name,
                if c.ok { "ok" } else { "FAILED" },
                c.detail
            );
            if c.ok {
                job.log.info(line).await;
            } else {
                job.log.error(line).await;
            }
        }
        Ok(Outcome {
            target: self.target.kind(),
            deployed,
            verification,
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        _cx: &Ctx,
        job: &Job<WorkItem>,
        out: Outcome,
    ) -> Result<Next, HandlerError> {
        let ok = out.verification.ok;
        let deployment = Deployment {
            id: Uuid::now_v7(),
            task_id: job.task.id,
            project: job.task.project.clone(),
            commit_sha: job.input.commit.clone(),
            target: out.target.into(),
            url: out.deployed.url.clone(),
            status: if ok { "live" } else { "failed" }.into(),
            verification: serde_json::to_value(&out.verification).unwrap_or_default(),
            created_at: time::OffsetDateTime::now_utc(),
        };
        records::insert_deployment(tx, job.task.project_id, &deployment).await?;
        if ok {
            Ok(Next {
                status: Some((TaskStatus::Deployed, None)),
                ..Next::advance(format!("live at {} and verified", out.deployed.url), vec![])
            })
        } else {
            let failed: Vec<String> = out
                .verification
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            let reason = format!(
                "verification of {} failed: {}",
                out.deployed.url,
                failed.join("; ")
            );
            Ok(Next {
                status: Some((TaskStatus::Failed, Some(reason.clone()))),
                run: kiln_runtime::RunStatus::Failed,
                ..Next::advance(reason, vec![])
            })
        }
    }
}

/// Runs the deployer until `shutdown`: restores live apps, serves them, handles deploy work.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    sandbox_config: kiln_sandbox::Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    let runtime = Runtime::start(base, "deployer", &shutdown).await?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| kiln_runtime::Error::Bind {
            addr: config.http,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| kiln_runtime::Error::Bind {
            addr: config.http,
            source,
        })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let local = LocalConfig {
        readiness_timeout: Duration::from_secs(config.readiness_timeout_secs),
        app_path: std::env::var("PATH").unwrap_or_else(|_| LocalConfig::default().app_path),
        ..LocalConfig::default()
    };
    let target = LocalTarget::with_config(
        runtime.cx.data_dir.join("deploy"),
        public_url.clone(),
        local,
    );
    for (app, result) in target.restore().await {
        match result {
            Ok(d) => tracing::info!(app = %app, url = %d.url, "restored live app"),
            Err(e) => {
                tracing::warn!(app = %app, error = %kiln_runtime::harness::error_chain(&e), "app not restored")
            }
        }
    }
    let router = target
        .router()
        .merge(kiln_runtime::http::router(runtime.cx.clone()));
    let server_stop = shutdown.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "app proxy stopped");
        }
    });
    tracing::info!(addr = %bound, public_url = %public_url, "app proxy listening");
    let deployer = Deployer {
        git: Git::new(),
        sandbox: kiln_tester::sandbox(&sandbox_config),
        catalog,
        target: target.clone(),
        config,
    };
    runtime.run(deployer, shutdown).await?;
    target.shutdown().await;
    let _ = server.await;
    runtime.finish().await;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::Error),
    #[error("stack templates")]
    Templates(#[from] kiln_templates::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_escape_safe_story_titles_are_expected_verbatim() {
        let story = |t: &str| records::Story {
            title: t.into(),
            description: String::new(),
            acceptance: vec![],
        };
        let texts = expected_texts(
            "shop",
            &[story("Order list"), story("Tom & Jerry"), story("Live map")],
        );
        assert_eq!(texts, ["shop", "Order list", "Live map"]);
    }
}
