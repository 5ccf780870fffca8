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
use kiln_sandbox::{CommandSpec, Sandbox};
use kiln_store::TaskStatus;
use kiln_store::people::TaskOptions;
use kiln_store::records::{self, TestCommand, TestError, TestRun};
use kiln_templates::{Catalog, Template};
use sqlx::PgConnection;
use time::OffsetDateTime;
use tokio::sync::mpsc;

mod env;

pub use env::{CommandEnv, command_env};
use kiln_runtime::registries::{self, Registries};

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

/// The self-correction loop, when a model can fix code (absent in offline mode).
#[derive(Debug, Clone, Copy)]
pub struct FixLoop {
    /// Fix rounds after the first test run unless the task sets `options.max_fix_rounds`.
    pub default_rounds: u32,
}

/// Hard ceiling on fix rounds whatever a task asks for.
pub const MAX_FIX_ROUNDS: u32 = 5;

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

/// Runs `cmds` in `dir` inside `sandbox`, stopping at the first failure; streams output to
/// `log`. Only the install phase reaches the network (package registries).
pub async fn run_commands(
    sandbox: &Sandbox,
    config: &Config,
    dir: &Path,
    env: &CommandEnv,
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
            env: env.vars.clone(),
            path: path.clone(),
            home: None,
            timeout: Duration::from_secs(config.command_timeout_secs),
            output_cap: config.output_cap_bytes,
            network: *phase == Phase::Install,
            writable: env.writable.clone(),
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
        let result = sandbox.run(&spec, Some(tx)).await?;
        let _ = forward.await;
        let ok = result.success();
        let verdict = if let Some(limit) = &result.limit {
            format!("stopped by the {limit}")
        } else if result.timed_out {
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
        // Paths relative to the workspace: records and prompts never show this host's layout.
        let output_tail = result
            .output_tail
            .replace(&format!("{}/", dir.display()), "");
        out.push(TestCommand {
            phase: phase.as_str().into(),
            command: (*cmd).to_owned(),
            exit_code: result.exit_code,
            timed_out: result.timed_out,
            duration_ms: result.duration.as_millis() as i64,
            output_tail,
            limit_hit: result.limit.clone(),
        });
        if !ok {
            break;
        }
    }
    Ok(out)
}

pub struct Tester {
    git: Git,
    /// The sandbox, or why generated code must not run here (bubblewrap unavailable and the
    /// operator did not choose `mode = "none"`).
    sandbox: Result<Sandbox, String>,
    registries: Registries,
    catalog: Catalog,
    config: Config,
    fix_loop: Option<FixLoop>,
}

impl Tester {
    pub fn new(
        catalog: Catalog,
        config: Config,
        sandbox: Result<Sandbox, String>,
        fix_loop: Option<FixLoop>,
    ) -> Self {
        Self {
            git: Git::new(),
            sandbox,
            registries: Registries::new(Duration::from_secs(10)),
            catalog,
            config,
            fix_loop,
        }
    }
}

/// A test run and what the loop decided from it.
pub struct Verdict {
    run: TestRun,
    errors: Vec<TestError>,
    /// Run a fix round next (instead of going to review).
    fix_next: bool,
}

/// What to do after a failed round: fix again, or stop and say why.
pub fn next_step(
    round: u32,
    max_rounds: u32,
    fingerprint: &str,
    earlier: &[(i32, Option<String>)],
    diff_empty: bool,
) -> Result<(), String> {
    if round >= 1 && diff_empty {
        return Err(format!("stuck: fix round {round} changed nothing"));
    }
    if round >= 1
        && let Some((k, _)) = earlier
            .iter()
            .find(|(k, f)| *k >= 1 && (*k as u32) < round && f.as_deref() == Some(fingerprint))
    {
        return Err(format!(
            "stuck: fix round {round} repeated round {k} (the same change and the same errors)"
        ));
    }
    if round >= max_rounds {
        return Err(format!(
            "tests still fail after {max_rounds} fix rounds (the limit)"
        ));
    }
    Ok(())
}

fn workspace(scratch: &kiln_runtime::Scratch) -> PathBuf {
    scratch.path().join("ws")
}

impl Handler for Tester {
    type Input = WorkItem;
    type Output = Verdict;

    fn binding(&self) -> Binding {
        Binding {
            name: "test",
            stage: Stage::Test,
            active_status: Some(TaskStatus::Testing),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Verdict, HandlerError> {
        let run = self.run_tests(cx, job).await?;
        let round = job.input.round;
        // Every failed run keeps its errors as records: people read them on the task page
        // and the self-correction loop feeds them to the model.
        let failed = run.commands.last().filter(|_| !run.passed);
        let command = failed.map(|c| c.command.as_str()).unwrap_or_default();
        let errors: Vec<TestError> = failed
            .map(|c| kiln_changes::errors::parse(&c.output_tail, command, None))
            .unwrap_or_default()
            .into_iter()
            .map(|e| TestError {
                tool: e.tool,
                command: command.to_owned(),
                file: e.file,
                line: e.line.map(|l| l as i32),
                column: e.column.map(|c| c as i32),
                message: e.message,
            })
            .collect();
        let Some(fix_loop) = self.fix_loop.filter(|_| !run.passed && run.error.is_none()) else {
            return Ok(Verdict {
                run,
                errors,
                fix_next: false,
            });
        };
        let task = &job.task;
        let repo = cx.repo_path(&task.project);
        let mut conn = cx.db.acquire().await?;
        let previous = records::commits(&mut *conn, task.id)
            .await?
            .into_iter()
            .find(|c| round >= 1 && c.round == round as i32 - 1)
            .map(|c| c.sha);
        let earlier = records::round_fingerprints(&mut *conn, task.id).await?;
        drop(conn);
        let diff = self
            .git
            .diff(&repo, previous.as_deref(), &job.input.commit, 1 << 20)
            .await
            .map_err(|e| HandlerError::retryable("diff of the round", &e))?;
        let structured: Vec<kiln_changes::errors::StructuredError> = errors
            .iter()
            .map(|e| kiln_changes::errors::StructuredError {
                file: e.file.clone(),
                line: e.line.map(|l| l as u32),
                column: e.column.map(|c| c as u32),
                message: e.message.clone(),
                tool: e.tool.clone(),
            })
            .collect();
        let fingerprint = kiln_changes::fingerprint::fingerprint(&diff, &structured);
        let max_rounds = TaskOptions::of(&task.options)
            .max_fix_rounds
            .unwrap_or(fix_loop.default_rounds)
            .min(MAX_FIX_ROUNDS);
        let decision = next_step(
            round,
            max_rounds,
            &fingerprint,
            &earlier,
            diff.trim().is_empty(),
        );
        let mut run = run;
        run.fingerprint = Some(fingerprint);
        match &decision {
            Ok(()) => {
                job.log
                    .warn(format!(
                        "round {round} failed with {} structured errors; asking for fix round {}",
                        errors.len(),
                        round + 1
                    ))
                    .await
            }
            Err(stop) => {
                job.log.error(stop.clone()).await;
                run.stop_reason = Some(stop.clone());
            }
        }
        Ok(Verdict {
            run,
            errors,
            fix_next: decision.is_ok(),
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        verdict: Verdict,
    ) -> Result<Next, HandlerError> {
        let Verdict {
            run,
            errors,
            fix_next,
        } = verdict;
        records::insert_test_run(tx, job.task.id, &run).await?;
        records::set_round_outcome(
            &mut *tx,
            job.task.id,
            run.round,
            run.fingerprint.as_deref(),
            run.stop_reason.as_deref(),
        )
        .await?;
        records::insert_test_errors(tx, job.task.id, run.round, &errors).await?;
        if fix_next {
            let fix = WorkItem {
                stage: Stage::Codegen as i32,
                round: job.input.round + 1,
                ..job.input.clone()
            };
            return Ok(Next {
                status: Some((TaskStatus::Fixing, None)),
                run: kiln_runtime::RunStatus::Failed,
                ..Next::advance(
                    format!(
                        "round {} failed with {} errors; fix round {} next",
                        run.round,
                        errors.len(),
                        run.round + 1
                    ),
                    vec![cx.work_message(&fix)],
                )
            });
        }
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

impl Tester {
    async fn run_tests(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<TestRun, HandlerError> {
        let task = &job.task;
        let commit = &job.input.commit;
        let started_at = OffsetDateTime::now_utc();
        // A change is judged by the commands of the commit it started from, never by
        // commands the change itself could have rewritten.
        let learned;
        let template = match self.catalog.get(&task.template) {
            Some(t) => t,
            None if task.kind == "change" => {
                let base =
                    kiln_learn::task_base(&cx.db, &self.git, task, &cx.repo_path(&task.project))
                        .await
                        .map_err(|e| HandlerError::retryable("learning the project", &e))?;
                learned = kiln_learn::recipe(&task.project, &base.knowledge);
                &learned
            }
            None => {
                return Err(HandlerError::Permanent(format!(
                    "template {:?} is not installed",
                    task.template
                )));
            }
        };
        let not_run = |error: String| TestRun {
            round: job.input.round as i32,
            commit_sha: commit.clone(),
            passed: false,
            error: Some(error),
            stop_reason: None,
            fingerprint: None,
            started_at,
            finished_at: OffsetDateTime::now_utc(),
            commands: vec![],
            isolation: None,
        };
        let missing = template.missing_toolchains();
        if !missing.is_empty() {
            let needed_by = if task.template.is_empty() {
                format!("the commands of project {}", task.project)
            } else {
                format!("template {}", template.name())
            };
            let error = format!(
                "missing toolchain on the tester host: {} (needed by {needed_by})",
                missing.join(", "),
            );
            job.log.error(error.clone()).await;
            return Ok(not_run(error));
        }
        let unreachable = self
            .registries
            .unreachable(&template.manifest.registries)
            .await;
        if !unreachable.is_empty() {
            let error = registries::blocked_reason(template.name(), &unreachable);
            job.log.error(error.clone()).await;
            return Ok(not_run(error));
        }
        let sandbox = match &self.sandbox {
            Ok(sandbox) => sandbox,
            Err(why) => {
                let error = format!("refusing to run generated code: {why}");
                job.log.error(error.clone()).await;
                return Ok(not_run(error));
            }
        };
        let env = command_env(&cx.cache_dir, template, "", commit)
            .map_err(|e| HandlerError::retryable("creating the dependency caches", &e))?;
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
                "testing {} of {} (sandbox: {})",
                &commit[..commit.len().min(12)],
                task.project,
                sandbox.isolation()
            ))
            .await;
        let cmds = commands(template, &[Phase::Install, Phase::Build, Phase::Test]);
        if template.manifest.commands.test.is_empty() {
            job.log
                .warn(format!(
                    "{} has no test command: the change cannot be tested (set [commands] test in {})",
                    task.project,
                    kiln_knowledge::PROJECT_FILE
                ))
                .await;
        }
        let results = run_commands(sandbox, &self.config, &ws, &env, &cmds, &job.log)
            .await
            .map_err(|e| HandlerError::retryable("running a command", &e))?;
        let passed = results.len() == cmds.len()
            && results
                .iter()
                .all(|r| r.exit_code == Some(0) && !r.timed_out && r.limit_hit.is_none());
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
            isolation: Some(sandbox.isolation().to_owned()),
        })
    }
}

/// The sandbox `config` asks for, or why none can be had. A missing bubblewrap does not stop
/// the service (that would only crash-loop): every test run is refused with the reason, so
/// tasks end `blocked` saying what to install or configure.
pub fn sandbox(config: &kiln_sandbox::Config) -> Result<Sandbox, String> {
    match Sandbox::new(config) {
        Ok(sandbox) => {
            tracing::info!(isolation = sandbox.isolation(), enforcement = ?sandbox.enforcement(), "sandbox ready");
            Ok(sandbox)
        }
        Err(e) => {
            let why = kiln_runtime::harness::error_chain(&e);
            tracing::error!(error = %why, "no sandbox: generated code will not be run");
            Err(why)
        }
    }
}

/// Runs the tester service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    sandbox_config: kiln_sandbox::Config,
    fix_loop: Option<FixLoop>,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    let tester = Tester::new(catalog, config, sandbox(&sandbox_config), fix_loop);
    kiln_runtime::serve_stage(base, "tester", tester, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fix_loop_stops_when_stuck_or_out_of_rounds() {
        let earlier = vec![(0, Some("a".to_owned())), (1, Some("b".to_owned()))];
        assert_eq!(next_step(0, 3, "a", &[], false), Ok(()));
        assert_eq!(next_step(2, 3, "c", &earlier, false), Ok(()));
        let stuck = next_step(2, 3, "b", &earlier, false).unwrap_err();
        assert!(
            stuck.starts_with("stuck: fix round 2 repeated round 1"),
            "{stuck}"
        );
        // Round 0 has no fix in it, so matching it is not being stuck.
        assert_eq!(next_step(2, 3, "a", &earlier, false), Ok(()));
        assert!(
            next_step(2, 3, "c", &earlier, true)
                .unwrap_err()
                .contains("changed nothing")
        );
        assert!(
            next_step(3, 3, "c", &earlier, false)
                .unwrap_err()
                .contains("after 3 fix rounds")
        );
        assert!(
            next_step(0, 0, "c", &[], false)
                .unwrap_err()
                .contains("after 0 fix rounds")
        );
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::Error),
    #[error("stack templates")]
    Templates(#[from] kiln_templates::Error),
}
