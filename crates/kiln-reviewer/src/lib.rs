//! Reviewer service: independent checks of a change before the gate decides.
//!
//! The reviewer sees the stories and the diff, never codegen's reasoning. Offline mode runs
//! the deterministic checks of [`checks`]; model-backed reviewers join them later.

pub mod checks;
pub mod guards;

use std::collections::BTreeMap;
use std::path::Path;

use kiln_agents::prompts::{self, ReviewerKind};
use kiln_agents::{Agent, ReviewReply};
use kiln_contracts::{Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, Finding, Review};
use sqlx::PgConnection;

/// Reviewer settings (`[reviewer]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Changed lines above which a change raises a concern.
    pub max_diff_lines: u64,
    /// Diff bytes read for line-level checks.
    pub max_diff_bytes: usize,
    /// Diff bytes shown to model reviewers.
    pub max_review_diff_bytes: usize,
    /// How much a revision may remove before the safety gate blocks it.
    pub max_shrink_ratio: f64,
    pub max_deleted_files: usize,
    pub max_deleted_ratio: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_diff_lines: 5000,
            max_diff_bytes: 4 << 20,
            max_review_diff_bytes: 200_000,
            max_shrink_ratio: 0.3,
            max_deleted_files: 3,
            max_deleted_ratio: 0.25,
        }
    }
}

pub struct Reviewer {
    git: Git,
    config: Config,
    agent: Option<Agent>,
}

impl Reviewer {
    pub fn new(config: Config, agent: Option<Agent>) -> Self {
        Self {
            git: Git::new(),
            config,
            agent,
        }
    }

    /// Text files of `commit` (up to 1 MiB each), for the guards.
    async fn files(
        &self,
        repo: &Path,
        commit: &str,
    ) -> Result<BTreeMap<String, String>, HandlerError> {
        self.git
            .text_files(repo, commit, 1 << 20)
            .await
            .map_err(|e| HandlerError::retryable("reading the commit's files", &e))
    }

    /// The commit the task's own changes are measured from: the scaffold of a new app, or
    /// the code a revision or change started from.
    async fn baseline(
        &self,
        repo: &Path,
        job: &Job<WorkItem>,
    ) -> Result<Option<String>, HandlerError> {
        let task = &job.task;
        if let Some(base) = &task.base_commit {
            return Ok(Some(base.clone()));
        }
        let id = task.id.to_string();
        self.git
            .find_commit_by_trailers(
                repo,
                &task.branch,
                &[("Kiln-Task", id.as_str()), ("Kiln-Step", "scaffold")],
            )
            .await
            .map_err(|e| HandlerError::retryable("finding the scaffold commit", &e))
    }
}

impl Handler for Reviewer {
    type Input = WorkItem;
    type Output = Vec<Review>;

    fn binding(&self) -> Binding {
        Binding {
            name: "review",
            stage: Stage::Review,
            active_status: Some(TaskStatus::Reviewing),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Vec<Review>, HandlerError> {
        let repo = cx.repo_path(&job.task.project);
        let commit = &job.input.commit;
        let mut reviews = vec![self.deterministic(cx, job).await?];
        let baseline = self.baseline(&repo, job).await?;
        if let Some(base) = &baseline
            && base != commit
        {
            let before = self.files(&repo, base).await?;
            let after = self.files(&repo, commit).await?;
            let mut conn = cx.db.acquire().await?;
            let stories = records::get_plan(&mut conn, job.task.id)
                .await?
                .map(|p| p.stories)
                .unwrap_or_default();
            drop(conn);
            let mut found = guards::tamper(&before, &after, &stories);
            // Existing code (a revision's or a change's) must not be destroyed wholesale.
            if matches!(job.task.kind.as_str(), "revision" | "change") {
                found.extend(guards::shrink(&before, &after, &self.config));
            }
            for f in &found {
                job.log
                    .warn(format!("guard [{}] {}: {}", f.severity, f.rule, f.message))
                    .await;
            }
            if !found.is_empty() {
                let review = &mut reviews[0];
                review.findings.extend(found);
                review.verdict = checks::verdict(&review.findings).into();
                review.summary = format!("{} (guards raised findings)", review.verdict);
            }
        }
        if let Some(agent) = &self.agent {
            let diff = self
                .git
                .diff(
                    &repo,
                    baseline.as_deref(),
                    commit,
                    self.config.max_review_diff_bytes,
                )
                .await
                .map_err(|e| HandlerError::retryable("diff for review", &e))?;
            let mut conn = cx.db.acquire().await?;
            let stories = records::get_plan(&mut conn, job.task.id)
                .await?
                .map(|p| p.stories)
                .unwrap_or_default();
            drop(conn);
            let call = agent.context(&job.task, "review");
            let schema = kiln_llm::JsonSchema::new("review", prompts::review_schema());
            for kind in ReviewerKind::ALL {
                let (system, user) = prompts::reviewer(kind, &job.task.project, &stories, &diff);
                let reply: ReviewReply = agent
                    .ask_json(&call, &system, &user, &schema, |r: &ReviewReply| {
                        r.validate()
                    })
                    .await?;
                job.log
                    .info(format!(
                        "{} review: {} ({})",
                        kind.name(),
                        reply.verdict,
                        reply.summary
                    ))
                    .await;
                reviews.push(Review {
                    round: job.input.round as i32,
                    reviewer: kind.name().into(),
                    verdict: reply.verdict,
                    summary: reply.summary,
                    findings: reply
                        .findings
                        .into_iter()
                        .map(|f| Finding {
                            rule: kind.name().into(),
                            severity: f.severity,
                            file: f.file,
                            line: f.line,
                            message: f.message,
                        })
                        .collect(),
                });
            }
        }
        Ok(reviews)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        reviews: Vec<Review>,
    ) -> Result<Next, HandlerError> {
        for review in &reviews {
            records::insert_review(tx, job.task.id, review).await?;
        }
        let gate = WorkItem {
            stage: Stage::Gate as i32,
            ..job.input.clone()
        };
        let summary: Vec<String> = reviews
            .iter()
            .map(|r| format!("{}: {}", r.reviewer, r.verdict))
            .collect();
        Ok(Next::advance(
            summary.join(", "),
            vec![cx.work_message(&gate)],
        ))
    }
}

impl Reviewer {
    async fn deterministic(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Review, HandlerError> {
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
}

/// Runs the reviewer service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    agent: Option<Agent>,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "reviewer", Reviewer::new(config, agent), shutdown).await?;
    Ok(())
}
