//! Tester service: runs the stack template's own install, build and test commands against
//! the commit under test, and records every command's result.
//!
//! Commands run through `kiln-sandbox` with a cleared environment, a time limit and an
//! output cap; a missing toolchain is reported as exactly that, never as a pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_contracts::{Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::tasklog::TaskLog;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_sandbox::CommandSpec;
use kiln_store::TaskStatus;
use kiln_store::records::{self, TestCommand, TestRun};
use kiln_templates::{Catalog, Template};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// Tester settings (`[tester]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Wall-clock limit of one command.
    pub command_timeout_secs: u64,
    /// Output kept per command in the record (its tail).
    pub output_cap_bytes: usize,
    /// Output lines per command streamed to the task's live log.
    pub log_lines_per_command: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            command_timeout_secs: 600,
            output_cap_bytes: 64 * 1024,
            log_lines_per_command: 2000,
        }
    }
}

/// Install, build or test phase of a template's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Install,
    Build,
    Test,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Install => "install",
            Phase::Build => "build",
            Phase::Test => "test",
        }
    }
}

/// The commands of `phases`, in order.
pub fn commands<'t>(template: &'t Template, phases: &[Phase]) -> Vec<(Phase, &'t str)> {
    let c = &template.manifest.commands;
    phases
        .iter()
        .flat_map(|p| {
            let list = match p {
                Phase::Install => &c.install,
                Phase::Build => &c.build,
                Phase::Test => &c.test,
            };
            list.iter().map(move |cmd| (*p, cmd.as_str()))
        })
        .collect()
}

/// Environment of commands run for `commit`: the build stamp and the shared caches.
pub fn command_env(data_dir: &Path, commit: &str) -> Vec<(String, String)> {
    let npm_cache = data_dir.join("cache").join("npm");
    vec![
        ("KILN_BUILD_SHA".into(), commit.into()),
        ("npm_config_cache".into(), npm_cache.display().to_string()),
        ("npm_config_update_notifier".into(), "false".into()),
        ("npm_config_fund".into(), "false".into()),
        ("npm_config_audit".into(), "false".into()),
    ]
}

/// Runs `cmds` in `dir`, stopping at the first failure; streams output to `log`.
pub async fn run_commands(
    config: &Config,
    dir: &Path,
    env: Vec<(String, String)>,
    cmds: &[(Phase, &str)],
    log: &TaskLog,
) -> Result<Vec<TestCommand>, kiln_sandbox::Error> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let mut out = Vec::new();
    for (phase, cmd) in cmds {
        log.info(format!("$ {cmd}    [{}]", phase.as_str())).await;
        let spec = CommandSpec {
            command: (*cmd).to_owned(),
            dir: dir.to_path_buf(),
            env: env.clone(),
            path: path.clone(),
            home: None,
            timeout: Duration::from_secs(config.command_timeout_secs),
            output_cap: config.output_cap_bytes,
        };
        let (tx, mut rx) = mpsc::channel::<String>(1024);
        let forward_log = log.clone();
        let max_lines = config.log_lines_per_command;
        let forward = tokio::spawn(async move {
            let mut n = 0usize;
            while let Some(line) = rx.recv().await {
                n += 1;
                if n <= max_lines {
                    forward_log.info(line).await;
                } else if n == max_lines + 1 {
                    forward_log
                        .warn(format!(
                            "more than {max_lines} output lines; the rest is in the test record"
                        ))
                        .await;
                }
            }
        });
        let result = kiln_sandbox::run(&spec, Some(tx)).await?;
        let _ = forward.await;
        let ok = result.success();
        let verdict = if result.timed_out {
            format!("timed out after {}s", config.command_timeout_secs)
        } else {
            match result.exit_code {
                Some(code) => format!("exit {code}"),
                None => "killed by a signal".into(),
            }
        };
        let line = format!(
            "{} [{}] {verdict} in {:.1}s",
            cmd,
            phase.as_str(),
            result.duration.as_secs_f64()
        );
        if ok {
            log.info(line).await;
        } else {
            log.error(line).await;
        }
        out.push(TestCommand {
            phase: phase.as_str().into(),
            command: (*cmd).to_owned(),
            exit_code: result.exit_code,
            timed_out: result.timed_out,
            duration_ms: result.duration.as_millis() as i64,
            output_tail: result.output_tail,
        });
        if !ok {
            break;
        }
    }
    Ok(out)
}

pub struct Tester {
    git: Git,
    catalog: Catalog,
    config: Config,
}

impl Tester {
    pub fn new(catalog: Catalog, config: Config) -> Self {
        Self {
            git: Git::new(),
            catalog,
            config,
        }
    }
}

fn workspace(scratch: &kiln_runtime::Scratch) -> PathBuf {
    scratch.path().join("ws")
}

impl Handler for Tester {
    type Input = WorkItem;
    type Output = TestRun;

    fn binding(&self) -> Binding {
        Binding {
            name: "test",
            stage: Stage::Test,
            active_status: Some(TaskStatus::Testing),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<TestRun, HandlerError> {
        let task = &job.task;
        let commit = &job.input.commit;
        let started_at = OffsetDateTime::now_utc();
        let template = self.catalog.get(&task.template).ok_or_else(|| {
            HandlerError::Permanent(format!("template {:?} is not installed", task.template))
        })?;
        let missing = template.missing_toolchains();
        if !missing.is_empty() {
            let error = format!(
                "missing toolchain on the tester host: {} (needed by template {})",
                missing.join(", "),
                template.name()
            );
            job.log.error(error.clone()).await;
            return Ok(TestRun {
                round: job.input.round as i32,
                commit_sha: commit.clone(),
                passed: false,
                error: Some(error),
                stop_reason: None,
                fingerprint: None,
                started_at,
                finished_at: OffsetDateTime::now_utc(),
                commands: vec![],
            });
        }
        let scratch = cx
            .scratch(&task.id.to_string())
            .map_err(|e| HandlerError::retryable("scratch directory", &e))?;
        let ws = workspace(&scratch);
        self.git
            .checkout_commit(&cx.repo_path(&task.project), commit, &ws)
            .await
            .map_err(|e| HandlerError::retryable("checking out the commit under test", &e))?;
        job.log
            .info(format!(
                "testing {} of {} (process isolation, no sandbox yet)",
                &commit[..commit.len().min(12)],
                task.project
            ))
            .await;
        let cmds = commands(template, &[Phase::Install, Phase::Build, Phase::Test]);
        let results = run_commands(
            &self.config,
            &ws,
            command_env(&cx.data_dir, commit),
            &cmds,
            &job.log,
        )
        .await
        .map_err(|e| HandlerError::retryable("running a command", &e))?;
        let passed = results.len() == cmds.len()
            && results
                .iter()
                .all(|r| r.exit_code == Some(0) && !r.timed_out);
        Ok(TestRun {
            round: job.input.round as i32,
            commit_sha: commit.clone(),
            passed,
            error: None,
            stop_reason: None,
            fingerprint: None,
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            commands: results,
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        run: TestRun,
    ) -> Result<Next, HandlerError> {
        records::insert_test_run(tx, job.task.id, &run).await?;
        let summary = match (&run.error, run.passed) {
            (Some(e), _) => e.clone(),
            (None, true) => format!("{} commands passed", run.commands.len()),
            (None, false) => {
                let failed = run
                    .commands
                    .last()
                    .map(|c| c.command.as_str())
                    .unwrap_or("?");
                format!("`{failed}` failed")
            }
        };
        // Offline mode has no model to fix failures; the gate explains them instead.
        let review = WorkItem {
            stage: Stage::Review as i32,
            ..job.input.clone()
        };
        let mut next = Next::advance(summary, vec![cx.work_message(&review)]);
        if !run.passed {
            next.run = kiln_runtime::RunStatus::Failed;
        }
        Ok(next)
    }
}

/// Runs the tester service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    kiln_runtime::serve_stage(base, "tester", Tester::new(catalog, config), shutdown).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::Error),
    #[error("stack templates")]
    Templates(#[from] kiln_templates::Error),
}
