//! Reviewer service: independent checks of a change before the gate decides.
//!
//! The reviewer sees the stories and the diff, never codegen's reasoning. Offline mode runs
//! the deterministic checks of [`checks`]; model-backed reviewers join them later.

pub mod checks;

use kiln_contracts::{Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, Review};
use sqlx::PgConnection;

/// Reviewer settings (`[reviewer]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Changed lines above which a change raises a concern.
    pub max_diff_lines: u64,
    /// Diff bytes read for line-level checks.
    pub max_diff_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_diff_lines: 5000,
            max_diff_bytes: 4 << 20,
        }
    }
}

pub struct Reviewer {
    git: Git,
    config: Config,
}

impl Reviewer {
    pub fn new(config: Config) -> Self {
        Self {
            git: Git::new(),
            config,
        }
    }
}

impl Handler for Reviewer {
    type Input = WorkItem;
    type Output = Review;

    fn binding(&self) -> Binding {
        Binding {
            name: "review",
            stage: Stage::Review,
            active_status: Some(TaskStatus::Reviewing),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Review, HandlerError> {
        let repo = cx.repo_path(&job.task.project);
        let commit = &job.input.commit;
        let git_err =
            |what: &'static str| move |e: kiln_git::Error| HandlerError::retryable(what, &e);
        let base = self
            .git
            .resolve_commit(&repo, &format!("{commit}^"))
            .await
            .map_err(git_err("base commit"))?;
        let stat = self
            .git
            .diff_stat(&repo, base.as_deref(), commit)
            .await
            .map_err(git_err("diff stat"))?;
        let diff = self
            .git
            .diff(&repo, base.as_deref(), commit, self.config.max_diff_bytes)
            .await
            .map_err(git_err("diff"))?;
        let files: Vec<String> = self
            .git
            .list_files(&repo, commit)
            .await
            .map_err(git_err("file list"))?
            .into_iter()
            .map(|f| f.path)
            .collect();

        let mut findings = checks::secrets(&checks::added_lines(&diff));
        findings.extend(checks::tests_present(&files));
        findings.extend(checks::diff_size(
            stat.insertions,
            stat.deletions,
            self.config.max_diff_lines,
        ));
        let verdict = checks::verdict(&findings);
        let summary = format!(
            "{verdict}: {} findings over {} files (+{} -{})",
            findings.len(),
            stat.files_changed,
            stat.insertions,
            stat.deletions
        );
        for f in &findings {
            let place = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!(" at {file}:{line}"),
                (Some(file), None) => format!(" in {file}"),
                _ => String::new(),
            };
            job.log
                .warn(format!(
                    "review [{}] {}{place}: {}",
                    f.severity, f.rule, f.message
                ))
                .await;
        }
        job.log
            .info(format!("deterministic review {summary}"))
            .await;
        Ok(Review {
            round: job.input.round as i32,
            reviewer: "deterministic".into(),
            verdict: verdict.into(),
            summary,
            findings,
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        review: Review,
    ) -> Result<Next, HandlerError> {
        records::insert_review(tx, job.task.id, &review).await?;
        let gate = WorkItem {
            stage: Stage::Gate as i32,
            ..job.input.clone()
        };
        Ok(Next::advance(review.summary, vec![cx.work_message(&gate)]))
    }
}

/// Runs the reviewer service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "reviewer", Reviewer::new(config), shutdown).await?;
    Ok(())
}
