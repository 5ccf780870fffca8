//! Publishing tasks of GitHub-hosted projects: the task branch pushed, one pull request
//! (draft until the gate approves), one check run per stage on the head commit.
//!
//! Publishing is reconciliation, not a reaction to single events: [`Publisher::sync_task`]
//! reads what the task's records say GitHub should show, compares it with what it last wrote
//! (`github_pulls`, `github_checks`) and writes only the difference. So a redelivered event,
//! a second replica or a restart can never open a second pull request or a second check run:
//! before anything is created, GitHub itself is asked whether it exists (by head branch, by
//! check name on the head commit). A task is published by one replica at a time (an advisory
//! lock), so updates to one check keep their order. GitHub being down or rate limited only
//! delays publishing; the task's own work never waits for it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln_git::{Git, HttpAuth};
use kiln_store::control;
use kiln_store::github::{self as store, PullRecord};
use kiln_store::records;
use kiln_store::tasks as tasks_store;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::render::{self, TaskView};
use crate::{Config, GitHub, NewPull, RepoName};

/// The label of the tracking issues plans are written as.
pub const PLAN_LABEL: &str = "kiln-plan";
/// The guard that switches every write to GitHub off.
pub const WRITES_GUARD: &str = "github_writes";
/// How often the publisher looks for tasks to bring up to date.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// Longest wait after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(120);

/// Why publishing one task stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    GitHub(#[from] crate::Error),
    #[error(transparent)]
    Store(#[from] kiln_store::Error),
    #[error("pushing the task branch: {0}")]
    Git(#[from] kiln_git::Error),
}

impl From<sqlx::Error> for PublishError {
    fn from(e: sqlx::Error) -> Self {
        PublishError::Store(e.into())
    }
}

/// What one pass over a task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// Not a GitHub project, no commit yet, paused, or another replica has it.
    Nothing,
    /// The write guard is off: what would have been written was recorded instead.
    Withheld,
    /// GitHub shows the task as its records say; `writes` requests were needed.
    Published { pull: u64, writes: u32 },
}

/// Publishes tasks to GitHub from their records.
#[derive(Clone)]
pub struct Publisher {
    pub github: GitHub,
    pub config: Config,
    pub db: PgPool,
    /// `<data-dir>/git`: the projects' local repositories.
    pub git_dir: PathBuf,
    pub git: Git,
}

fn hash(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))
}

impl Publisher {
    fn repo_path(&self, project: &str) -> PathBuf {
        self.git_dir.join(format!("{project}.git"))
    }

    /// Reads everything the rendering needs about `task` at its newest round.
    async fn view(
        &self,
        task: tasks_store::Task,
        round: i32,
        head: String,
    ) -> Result<TaskView, PublishError> {
        let mut conn = self.db.acquire().await?;
        let plan = records::get_plan(&mut conn, task.id).await?;
        let test_runs = records::test_runs(&mut conn, task.id).await?;
        let test_errors = records::test_errors(&mut *conn, task.id, Some(round))
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let reviews = records::reviews(&mut conn, task.id, Some(round)).await?;
        let gate = records::gate_decision(&mut *conn, task.id).await?;
        let deployments = records::task_deployments(&mut *conn, task.id).await?;
        let task_url = self.config.task_url(&task.id.to_string());
        let issue = store::issue(&mut *conn, task.id).await?.map(|(_, n, _)| n);
        let plan_issue = store::plan_issue(&mut *conn, task.id)
            .await?
            .map(|(n, _)| n);
        Ok(TaskView {
            issue,
            plan_issue,
            task,
            plan,
            round,
            head_sha: head,
            test_runs,
            test_errors,
            reviews,
            gate,
            deployments,
            task_url,
        })
    }

    /// Brings GitHub up to date with one task.
    pub async fn sync_task(&self, id: Uuid) -> Result<Synced, PublishError> {
        // One replica per task: the lock lasts as long as this transaction.
        let mut lock = self.db.begin().await?;
        let mine: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_xact_lock(hashtext('kiln-github:' || $1::text))",
        )
        .bind(id)
        .fetch_one(&mut *lock)
        .await?;
        if !mine {
            return Ok(Synced::Nothing);
        }
        let outcome = self.sync_locked(id).await;
        lock.commit().await?;
        outcome
    }

    async fn sync_locked(&self, id: Uuid) -> Result<Synced, PublishError> {
        let db = &self.db;
        let Some(task) = tasks_store::get_task(db, id).await? else {
            return Ok(Synced::Nothing);
        };
        let Some(host) = store::host(db, &task.project).await? else {
            return Ok(Synced::Nothing);
        };
        let Some(full) = host.github() else {
            return Ok(Synced::Nothing);
        };
        let repo = RepoName::parse(full).map_err(crate::Error::Config)?;
        let Some(last) = records::commits(db, id).await?.into_iter().last() else {
            return Ok(Synced::Nothing);
        };
        if control::paused(db, Some(&task.project)).await?.is_some() {
            return Ok(Synced::Nothing);
        }
        let seen = task.updated_at;
        let branch = task.branch.clone();
        let mut view = self.view(task, last.round, last.sha.clone()).await?;
        let checks = render::checks(&view);

        if let Some(off) = control::guard_off(db, WRITES_GUARD, &view.task.project).await? {
            let detail = json!({
                "repository": repo.to_string(),
                "push": { "branch": branch, "commit": last.sha },
                "pull_request": { "title": render::pull_title(&view), "draft": true },
                "check_runs": checks.iter().map(|c| &c.name).collect::<Vec<_>>(),
                "guard_off_by": off.actor,
                "reason": off.reason,
            });
            if store::withhold(db, id, "publish", WRITES_GUARD, &detail).await? {
                tracing::info!(task = %id, repository = %repo, "GitHub writes are off: pull request and checks withheld");
            }
            return Ok(Synced::Withheld);
        }

        let gh = &self.github;
        let mut writes = 0u32;
        let mut pull = store::pull(db, id).await?;

        // The plan as a tracking issue, once, before the pull request that closes it.
        if host.plan_as_issues
            && view.plan_issue.is_none()
            && let Some(plan) = view.plan.clone()
        {
            let marker = render::plan_marker(&view);
            let issue = match gh.find_issue(&repo, PLAN_LABEL, &marker).await? {
                Some(found) => found,
                None => {
                    let (title, text) = render::plan_issue(&view, &plan);
                    writes += 1;
                    gh.create_issue(&repo, &title, &text, &[PLAN_LABEL]).await?
                }
            };
            store::save_plan_issue(
                db,
                id,
                &repo.to_string(),
                issue.number as i64,
                issue.state == "closed",
            )
            .await?;
            view.plan_issue = Some(issue.number as i64);
        }
        let title = render::pull_title(&view);
        let body = render::pull_body(&view);

        // The head branch first: a pull request and check runs need the commit on GitHub.
        if pull.as_ref().and_then(|p| p.head_sha.as_deref()) != Some(last.sha.as_str()) {
            let remote = gh
                .repository(&repo)
                .await?
                .ok_or_else(|| crate::Error::NotInstalled {
                    owner: repo.owner().to_owned(),
                    repository: repo.to_string(),
                })?;
            let token = gh.git_token(&repo).await?;
            let auth = HttpAuth::basic("x-access-token", token.expose());
            self.git
                .push_task_branch(
                    &self.repo_path(&view.task.project),
                    &remote.clone_url,
                    &auth,
                    &last.sha,
                    &branch,
                )
                .await?;
            writes += 1;
            let base = remote.default_branch.unwrap_or_else(|| "main".into());
            let body_hash = hash(&json!([title, body]));
            let record = match pull.take() {
                Some(mut p) => {
                    p.head_sha = Some(last.sha.clone());
                    p
                }
                None => {
                    // Never a second pull request: adopt the one GitHub already has.
                    let found = gh.find_pull(&repo, &branch).await?;
                    let (p, fresh) = match found {
                        Some(p) => (p, false),
                        None => {
                            let new = NewPull {
                                title: &title,
                                head: &branch,
                                base: &base,
                                body: &body,
                                draft: true,
                            };
                            writes += 1;
                            (gh.create_pull(&repo, &new).await?, true)
                        }
                    };
                    tracing::info!(task = %id, repository = %repo, number = p.number, fresh, "pull request for the task");
                    let merged = p.is_merged();
                    PullRecord {
                        repository: repo.to_string(),
                        number: p.number as i64,
                        node_id: p.node_id,
                        html_url: p.html_url,
                        head_sha: Some(last.sha.clone()),
                        draft: p.draft,
                        body_hash: fresh.then(|| body_hash.clone()),
                        state: if merged { "merged".into() } else { p.state },
                        merge_sha: p.merge_commit_sha.filter(|_| merged),
                        comment_id: None,
                    }
                }
            };
            store::save_pull(db, id, &record).await?;
            pull = Some(record);
        }
        let mut pull = pull.expect("a pull request exists once the branch is pushed");

        // A task from an issue tells the issue about its pull request, once.
        if let Some((_, number, None)) = store::issue(db, id).await? {
            let text = format!(
                "Kiln opened {} for this issue: #{}.",
                if pull.draft {
                    "a draft pull request"
                } else {
                    "a pull request"
                },
                pull.number
            );
            let comment = gh.comment(&repo, number as u64, &text).await?;
            writes += 1;
            store::issue_told(db, id, comment.id as i64).await?;
        }

        let body_hash = hash(&json!([title, body]));
        if pull.body_hash.as_deref() != Some(body_hash.as_str()) && pull.state == "open" {
            gh.update_pull(&repo, pull.number as u64, &title, &body)
                .await?;
            writes += 1;
            pull.body_hash = Some(body_hash);
            store::save_pull(db, id, &pull).await?;
        }

        // Check runs, each looked up on GitHub before it is first created.
        let written = store::checks(db, id).await?;
        let mut remote: HashMap<String, Vec<crate::CheckRun>> = HashMap::new();
        for check in &checks {
            writes += self
                .put_check(&repo, id, &written, &mut remote, check)
                .await?;
        }
        // After the merge, the deployment is reported on the merge commit too, and once as
        // a comment on the pull request.
        if let (Some(merge), "merged") = (pull.merge_sha.clone(), pull.state.as_str())
            && let Some(deployed) = checks
                .iter()
                .find(|c| c.name == render::names::DEPLOYMENT && c.status == "completed")
        {
            let mut on_merge = deployed.clone();
            on_merge.head_sha = merge.clone();
            writes += self
                .put_check(&repo, id, &written, &mut remote, &on_merge)
                .await?;
            if pull.comment_id.is_none() {
                let text = render::merged_comment(&view, &merge, deployed);
                let comment = gh.comment(&repo, pull.number as u64, &text).await?;
                writes += 1;
                pull.comment_id = Some(comment.id as i64);
                store::save_pull(db, id, &pull).await?;
            }
        }
        // A task that ended leaves no check of its running.
        if view.task.status.is_terminal() {
            for w in &written {
                let still = checks
                    .iter()
                    .any(|c| c.name == w.name && c.head_sha == w.head_sha);
                if still || w.status == "completed" {
                    continue;
                }
                let mut closed = render::cancelled(&view, &w.name);
                closed.head_sha = w.head_sha.clone();
                gh.update_check_run(&repo, w.check_run_id as u64, &closed)
                    .await?;
                writes += 1;
                let state = hash(&serde_json::to_value(&closed).expect("a check run serialises"));
                store::save_check(
                    db,
                    id,
                    &w.name,
                    &w.head_sha,
                    w.check_run_id,
                    &state,
                    "completed",
                )
                .await?;
            }
        }

        // The plan's tracking issue is closed with the merge (GitHub closes it too when the
        // merge reaches the default branch; closing twice changes nothing).
        if pull.state == "merged"
            && let Some((number, false)) = store::plan_issue(db, id).await?
        {
            gh.close_issue(&repo, number as u64).await?;
            writes += 1;
            store::save_plan_issue(db, id, &repo.to_string(), number, true).await?;
        }

        // Out of draft once the gate approved the head round.
        let approved = view
            .gate
            .as_ref()
            .is_some_and(|g| g.round == view.round && g.decision == "approved");
        if approved && pull.draft && pull.state == "open" {
            gh.mark_ready(&repo, &pull.node_id).await?;
            writes += 1;
            pull.draft = false;
            store::save_pull(db, id, &pull).await?;
        }
        sqlx::query("UPDATE github_pulls SET synced_at = $2 WHERE task_id = $1")
            .bind(id)
            .bind(seen)
            .execute(db)
            .await?;
        Ok(Synced::Published {
            pull: pull.number as u64,
            writes,
        })
    }

    /// Creates or updates one check run so GitHub shows `check`; the number of writes (0 when
    /// it already does). A check never written before is looked up on GitHub by name and
    /// task first (once per commit and pass), so a lost record never makes a second one.
    async fn put_check(
        &self,
        repo: &RepoName,
        task: Uuid,
        written: &[store::CheckRecord],
        remote: &mut HashMap<String, Vec<crate::CheckRun>>,
        check: &crate::CheckRunWrite,
    ) -> Result<u32, PublishError> {
        let gh = &self.github;
        let state = hash(&serde_json::to_value(check).expect("a check run serialises"));
        let known = written
            .iter()
            .find(|w| w.name == check.name && w.head_sha == check.head_sha);
        let run_id = match known {
            Some(w) if w.state_hash == state => return Ok(0),
            Some(w) => Some(w.check_run_id as u64),
            None => {
                if !remote.contains_key(&check.head_sha) {
                    let runs = gh.check_runs(repo, &check.head_sha).await?;
                    remote.insert(check.head_sha.clone(), runs);
                }
                remote[&check.head_sha]
                    .iter()
                    .find(|r| {
                        r.name == check.name
                            && r.external_id.as_deref() == check.external_id.as_deref()
                    })
                    .map(|r| r.id)
            }
        };
        let saved = match run_id {
            Some(run) => gh.update_check_run(repo, run, check).await?,
            None => gh.create_check_run(repo, check).await?,
        };
        store::save_check(
            &self.db,
            task,
            &check.name,
            &check.head_sha,
            saved.id as i64,
            &state,
            check.status,
        )
        .await?;
        Ok(1)
    }

    /// Tasks of GitHub projects that may have something to publish: unfinished ones, and
    /// finished ones whose records changed since they were last published (for a day).
    async fn due(&self) -> Result<Vec<Uuid>, PublishError> {
        Ok(sqlx::query_scalar(
            "SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id \
             LEFT JOIN github_pulls g ON g.task_id = t.id \
             WHERE p.host = 'github' AND EXISTS (SELECT 1 FROM commits c WHERE c.task_id = t.id) \
             AND (t.finished_at IS NULL \
                  OR (t.finished_at > now() - interval '1 day' \
                      AND g.synced_at IS DISTINCT FROM t.updated_at \
                      AND NOT EXISTS (SELECT 1 FROM github_withheld w WHERE w.task_id = t.id))) \
             ORDER BY t.created_at LIMIT 100",
        )
        .fetch_all(&self.db)
        .await?)
    }

    /// Publishes until `shutdown`. A task whose publishing fails is tried again later with
    /// a growing wait (GitHub's own, when it rate-limits); other tasks go on meanwhile.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut wait: HashMap<Uuid, (tokio::time::Instant, Duration)> = HashMap::new();
        tracing::info!(
            app = self.github.is_app(),
            "publishing GitHub projects' tasks"
        );
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(SWEEP_EVERY) => {}
            }
            let due = match self.due().await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "tasks to publish not read; retrying");
                    continue;
                }
            };
            let now = tokio::time::Instant::now();
            for id in due {
                if wait.get(&id).is_some_and(|(at, _)| *at > now) {
                    continue;
                }
                match self.sync_task(id).await {
                    Ok(_) => {
                        wait.remove(&id);
                    }
                    Err(e) => {
                        let last = wait.get(&id).map_or(Duration::ZERO, |(_, d)| *d);
                        let next = match &e {
                            PublishError::GitHub(g) => g.retry_after(),
                            _ => None,
                        }
                        .unwrap_or_else(|| (last * 2).clamp(Duration::from_secs(1), MAX_BACKOFF))
                        .min(MAX_BACKOFF);
                        tracing::warn!(task = %id, error = %e, retry_in = ?next, "task not published to GitHub yet");
                        wait.insert(id, (tokio::time::Instant::now() + next, next));
                    }
                }
                if shutdown.is_cancelled() {
                    return;
                }
            }
        }
    }
}
