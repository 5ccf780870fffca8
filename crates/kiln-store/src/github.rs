//! Projects hosted on GitHub and what Kiln last wrote there: one pull request per task
//! (`github_pulls`), one check run per task, name and head commit (`github_checks`), and the
//! writes a guard withheld (`github_withheld`).

use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::Error;

/// Where a project's code lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectHost {
    /// `local` or `github`.
    pub host: String,
    /// `owner/name` on the host; `None` for local projects.
    pub repository: Option<String>,
    pub merge_policy: String,
    /// Write each approved plan as a tracking issue.
    pub plan_as_issues: bool,
}

impl ProjectHost {
    /// The GitHub repository, for a project hosted there.
    pub fn github(&self) -> Option<&str> {
        (self.host == "github")
            .then_some(self.repository.as_deref())
            .flatten()
    }
}

/// Where `project`'s code lives; `None` when there is no such project.
pub async fn host<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
) -> Result<Option<ProjectHost>, Error> {
    let row = sqlx::query(
        "SELECT host, repository, merge_policy, plan_as_issues FROM projects WHERE name = $1",
    )
    .bind(project)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(ProjectHost {
            host: r.try_get("host")?,
            repository: r.try_get("repository")?,
            merge_policy: r.try_get("merge_policy")?,
            plan_as_issues: r.try_get("plan_as_issues")?,
        })
    })
    .transpose()
}

/// A project bound to a repository on GitHub.
#[derive(Debug, Clone)]
pub struct NewProject<'a> {
    pub id: Uuid,
    pub name: &'a str,
    /// `owner/name`.
    pub repository: &'a str,
    /// The clone URL as it may be shown.
    pub source_url: &'a str,
    /// The default branch mirrored as `main`.
    pub branch: &'a str,
    pub merge_policy: &'a str,
    pub plan_as_issues: bool,
}

/// Claims the name for a project bound to a GitHub repository whose default branch was
/// mirrored as `main`. False when the name is taken.
pub async fn insert_project<'e>(
    db: impl PgExecutor<'e>,
    p: &NewProject<'_>,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO projects (id, name, template, source_url, source_branch, host, repository, merge_policy, plan_as_issues) \
         VALUES ($1, $2, '', $3, $4, 'github', $5, $6, $7) ON CONFLICT (name) DO NOTHING",
    )
    .bind(p.id)
    .bind(p.name)
    .bind(p.source_url)
    .bind(p.branch)
    .bind(p.repository)
    .bind(p.merge_policy)
    .bind(p.plan_as_issues)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The pull request Kiln opened for a task, as last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRecord {
    pub repository: String,
    pub number: i64,
    pub node_id: String,
    pub html_url: String,
    pub head_sha: Option<String>,
    pub draft: bool,
    pub body_hash: Option<String>,
    /// `open`, `merged` or `closed`.
    pub state: String,
    pub merge_sha: Option<String>,
    /// The comment reporting the post-merge deployment, once written.
    pub comment_id: Option<i64>,
}

pub async fn pull<'e>(db: impl PgExecutor<'e>, task: Uuid) -> Result<Option<PullRecord>, Error> {
    let row = sqlx::query(
        "SELECT repository, number, node_id, html_url, head_sha, draft, body_hash, state, merge_sha, \
         comment_id FROM github_pulls WHERE task_id = $1",
    )
    .bind(task)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok(PullRecord {
            repository: r.try_get("repository")?,
            number: r.try_get("number")?,
            node_id: r.try_get("node_id")?,
            html_url: r.try_get("html_url")?,
            head_sha: r.try_get("head_sha")?,
            draft: r.try_get("draft")?,
            body_hash: r.try_get("body_hash")?,
            state: r.try_get("state")?,
            merge_sha: r.try_get("merge_sha")?,
            comment_id: r.try_get("comment_id")?,
        })
    })
    .transpose()
}

/// Records what was written to the task's pull request (insert or replace).
pub async fn save_pull<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    p: &PullRecord,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO github_pulls (task_id, repository, number, node_id, html_url, head_sha, draft, body_hash, state, merge_sha, comment_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (task_id) DO UPDATE SET repository = $2, number = $3, node_id = $4, html_url = $5, \
         head_sha = $6, draft = $7, body_hash = $8, state = $9, merge_sha = $10, comment_id = $11, updated_at = now()",
    )
    .bind(task)
    .bind(&p.repository)
    .bind(p.number)
    .bind(&p.node_id)
    .bind(&p.html_url)
    .bind(&p.head_sha)
    .bind(p.draft)
    .bind(&p.body_hash)
    .bind(&p.state)
    .bind(&p.merge_sha)
    .bind(p.comment_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A check run Kiln wrote, and what it last wrote to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub name: String,
    pub head_sha: String,
    pub check_run_id: i64,
    pub state_hash: String,
    pub status: String,
}

/// Every check run Kiln wrote for a task.
pub async fn checks<'e>(db: impl PgExecutor<'e>, task: Uuid) -> Result<Vec<CheckRecord>, Error> {
    let rows = sqlx::query(
        "SELECT name, head_sha, check_run_id, state_hash, status FROM github_checks \
         WHERE task_id = $1 ORDER BY updated_at, name",
    )
    .bind(task)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CheckRecord {
                name: r.try_get("name")?,
                head_sha: r.try_get("head_sha")?,
                check_run_id: r.try_get("check_run_id")?,
                state_hash: r.try_get("state_hash")?,
                status: r.try_get("status")?,
            })
        })
        .collect()
}

pub async fn save_check<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    name: &str,
    head_sha: &str,
    check_run_id: i64,
    state_hash: &str,
    status: &str,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO github_checks (task_id, name, head_sha, check_run_id, state_hash, status) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (task_id, name, head_sha) DO UPDATE SET check_run_id = $4, state_hash = $5, status = $6, updated_at = now()",
    )
    .bind(task)
    .bind(name)
    .bind(head_sha)
    .bind(check_run_id)
    .bind(state_hash)
    .bind(status)
    .execute(db)
    .await?;
    Ok(())
}

/// Records, once per task and action, a write a guard held back. True when it is new.
pub async fn withhold<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    action: &str,
    guard: &str,
    detail: &serde_json::Value,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO github_withheld (task_id, action, guard, detail) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (task_id, action) DO NOTHING",
    )
    .bind(task)
    .bind(action)
    .bind(guard)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A write a guard held back.
#[derive(Debug, Clone, PartialEq)]
pub struct Withheld {
    pub action: String,
    pub guard: String,
    pub detail: serde_json::Value,
}

pub async fn withheld<'e>(db: impl PgExecutor<'e>, task: Uuid) -> Result<Vec<Withheld>, Error> {
    let rows = sqlx::query(
        "SELECT action, guard, detail FROM github_withheld WHERE task_id = $1 ORDER BY created_at, action",
    )
    .bind(task)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Withheld {
                action: r.try_get("action")?,
                guard: r.try_get("guard")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

/// The GitHub issue a task came from: (repository, number, the comment that linked the pull
/// request once written).
pub async fn issue<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
) -> Result<Option<(String, i64, Option<i64>)>, Error> {
    let row = sqlx::query(
        "SELECT repository, number, pull_comment_id FROM github_issues WHERE task_id = $1",
    )
    .bind(task)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("repository")?,
            r.try_get("number")?,
            r.try_get("pull_comment_id")?,
        ))
    })
    .transpose()
}

/// Links a task to the issue it came from.
pub async fn link_issue<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    repository: &str,
    number: i64,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO github_issues (task_id, repository, number) VALUES ($1, $2, $3) \
         ON CONFLICT (task_id) DO NOTHING",
    )
    .bind(task)
    .bind(repository)
    .bind(number)
    .execute(db)
    .await?;
    Ok(())
}

/// Records the comment that told the issue about the pull request.
pub async fn issue_told<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    comment: i64,
) -> Result<(), Error> {
    sqlx::query("UPDATE github_issues SET pull_comment_id = $2 WHERE task_id = $1")
        .bind(task)
        .bind(comment)
        .execute(db)
        .await?;
    Ok(())
}

/// The project bound to `repository` (compared without case, as GitHub does).
pub async fn project_of<'e>(
    db: impl PgExecutor<'e>,
    repository: &str,
) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM projects WHERE host = 'github' AND lower(repository) = lower($1)",
    )
    .bind(repository)
    .fetch_optional(db)
    .await?)
}

/// The task whose pull request is `number` of `repository`.
pub async fn task_of_pull<'e>(
    db: impl PgExecutor<'e>,
    repository: &str,
    number: i64,
) -> Result<Option<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT task_id FROM github_pulls WHERE lower(repository) = lower($1) AND number = $2",
    )
    .bind(repository)
    .bind(number)
    .fetch_optional(db)
    .await?)
}

/// The tracking issue of a task's plan: (number, closed).
pub async fn plan_issue<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
) -> Result<Option<(i64, bool)>, Error> {
    let row = sqlx::query("SELECT number, closed FROM github_plan_issues WHERE task_id = $1")
        .bind(task)
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok((r.try_get("number")?, r.try_get("closed")?)))
        .transpose()
}

pub async fn save_plan_issue<'e>(
    db: impl PgExecutor<'e>,
    task: Uuid,
    repository: &str,
    number: i64,
    closed: bool,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO github_plan_issues (task_id, repository, number, closed) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (task_id) DO UPDATE SET number = $3, closed = $4",
    )
    .bind(task)
    .bind(repository)
    .bind(number)
    .bind(closed)
    .execute(db)
    .await?;
    Ok(())
}
