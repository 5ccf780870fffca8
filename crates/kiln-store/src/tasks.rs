//! Projects and tasks: creation, status transitions and paginated listing.

use serde::Serialize;
use sqlx::{PgConnection, PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, Result, TaskStatus};

#[derive(Debug, Clone, Serialize)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub template: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project: String,
    pub kind: String,
    pub template: String,
    pub brief: String,
    pub options: serde_json::Value,
    pub status: TaskStatus,
    pub status_reason: Option<String>,
    pub llm_mode: String,
    pub branch: String,
    /// Where a revision started: the project's deployed commit.
    pub base_commit: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

/// What the API validated and wants stored.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: Uuid,
    pub project: String,
    pub kind: String,
    pub template: String,
    pub brief: String,
    pub options: serde_json::Value,
}

impl NewTask {
    /// Every task works on its own branch of the project's repository.
    pub fn branch(&self) -> String {
        format!("kiln/{}", self.id)
    }
}

const TASK_COLUMNS: &str = "t.id, t.project_id, p.name AS project, t.kind, t.template, t.brief, \
     t.options, t.status, t.status_reason, t.llm_mode, t.branch, t.base_commit, t.created_at, t.updated_at, t.finished_at";

fn task_from_row(row: &sqlx::postgres::PgRow) -> Result<Task> {
    let status: String = row.try_get("status")?;
    Ok(Task {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        project: row.try_get("project")?,
        kind: row.try_get("kind")?,
        template: row.try_get("template")?,
        brief: row.try_get("brief")?,
        options: row.try_get("options")?,
        status: TaskStatus::parse(&status).ok_or(Error::Corrupt {
            what: "task status",
            value: status,
        })?,
        status_reason: row.try_get("status_reason")?,
        llm_mode: row.try_get("llm_mode")?,
        branch: row.try_get("branch")?,
        base_commit: row.try_get("base_commit")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

/// Finds the project by name or creates it; returns it either way.
pub async fn ensure_project(
    conn: &mut PgConnection,
    name: &str,
    template: &str,
) -> Result<Project> {
    sqlx::query(
        "INSERT INTO projects (id, name, template) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(template)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT id, name, template, created_at FROM projects WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Project {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        template: row.try_get("template")?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn get_project<'e>(db: impl PgExecutor<'e>, name: &str) -> Result<Option<Project>> {
    let row = sqlx::query("SELECT id, name, template, created_at FROM projects WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.map(|row| {
        Ok(Project {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            template: row.try_get("template")?,
            created_at: row.try_get("created_at")?,
        })
    })
    .transpose()
}

pub async fn list_projects<'e>(db: impl PgExecutor<'e>) -> Result<Vec<Project>> {
    let rows = sqlx::query("SELECT id, name, template, created_at FROM projects ORDER BY name")
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Project {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                template: row.try_get("template")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// Inserts a queued task (and its project when new).
pub async fn insert_task(conn: &mut PgConnection, new: &NewTask) -> Result<Task> {
    let project = ensure_project(conn, &new.project, &new.template).await?;
    sqlx::query(
        "INSERT INTO tasks (id, project_id, kind, template, brief, options, status, branch) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7)",
    )
    .bind(new.id)
    .bind(project.id)
    .bind(&new.kind)
    .bind(&new.template)
    .bind(&new.brief)
    .bind(&new.options)
    .bind(new.branch())
    .execute(&mut *conn)
    .await?;
    get_task(&mut *conn, new.id).await?.ok_or(Error::Corrupt {
        what: "task just inserted",
        value: new.id.to_string(),
    })
}

pub async fn get_task<'e>(db: impl PgExecutor<'e>, id: Uuid) -> Result<Option<Task>> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = $1"
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(db).await?;
    row.as_ref().map(task_from_row).transpose()
}

/// Locks the task row for the rest of the transaction and returns its status.
pub async fn lock_task(conn: &mut PgConnection, id: Uuid) -> Result<Option<TaskStatus>> {
    let row = sqlx::query("SELECT status FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        let s: String = r.try_get("status")?;
        TaskStatus::parse(&s).ok_or(Error::Corrupt {
            what: "task status",
            value: s,
        })
    })
    .transpose()
}

/// Moves a task to `status` unless it is already terminal. Returns whether it moved.
pub async fn set_status<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    status: TaskStatus,
    reason: Option<&str>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE tasks SET status = $2, status_reason = $3, updated_at = now(), \
         finished_at = CASE WHEN $4 THEN now() ELSE NULL END \
         WHERE id = $1 AND status NOT IN ('deployed', 'merged', 'blocked', 'failed', 'cancelled', 'rolled_back')",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(status.is_terminal())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Re-opens a blocked task because a person overrode the gate; false unless it was blocked.
pub async fn reopen_blocked<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    status: TaskStatus,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE tasks SET status = $2, status_reason = NULL, finished_at = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'blocked'",
    )
    .bind(id)
    .bind(status.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records which model served the task (`offline` until a model is used).
pub async fn set_llm_mode<'e>(db: impl PgExecutor<'e>, id: Uuid, mode: &str) -> Result<()> {
    sqlx::query("UPDATE tasks SET llm_mode = $2 WHERE id = $1")
        .bind(id)
        .bind(mode)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the commit a revision starts from (the project's deployed code).
pub async fn set_base_commit<'e>(db: impl PgExecutor<'e>, id: Uuid, sha: &str) -> Result<()> {
    sqlx::query("UPDATE tasks SET base_commit = $2 WHERE id = $1 AND base_commit IS NULL")
        .bind(id)
        .bind(sha)
        .execute(db)
        .await?;
    Ok(())
}

/// Filters and cursor for listing tasks, newest first.
#[derive(Debug, Clone, Default)]
pub struct TaskQuery {
    pub status: Option<TaskStatus>,
    pub project: Option<String>,
    /// Exclusive upper bound `(created_at, id)` from the previous page.
    pub after: Option<(OffsetDateTime, Uuid)>,
    pub limit: i64,
}

/// Returns up to `limit` tasks and whether more follow.
pub async fn list_tasks<'e>(db: impl PgExecutor<'e>, q: &TaskQuery) -> Result<(Vec<Task>, bool)> {
    let sql = format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN projects p ON p.id = t.project_id \
         WHERE ($1::text IS NULL OR t.status = $1) \
           AND ($2::text IS NULL OR p.name = $2) \
           AND ($3::timestamptz IS NULL OR (t.created_at, t.id) < ($3, $4)) \
         ORDER BY t.created_at DESC, t.id DESC LIMIT $5"
    );
    let rows = sqlx::query(&sql)
        .bind(q.status.map(TaskStatus::as_str))
        .bind(q.project.as_deref())
        .bind(q.after.map(|a| a.0))
        .bind(q.after.map(|a| a.1))
        .bind(q.limit + 1)
        .fetch_all(db)
        .await?;
    let more = rows.len() as i64 > q.limit;
    let tasks = rows
        .iter()
        .take(q.limit as usize)
        .map(task_from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok((tasks, more))
}

/// Records who did what, for people reading the history later.
pub async fn audit<'e>(
    db: impl PgExecutor<'e>,
    task_id: Option<Uuid>,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (task_id, actor, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(task_id)
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
}

/// Records who asked for a task and through which door (api, dashboard, telegram, ...):
/// the release gate refuses to let the same person approve it.
pub async fn set_requester<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    who: &str,
    source: &str,
) -> Result<()> {
    sqlx::query("UPDATE tasks SET requested_by = $2, source = $3 WHERE id = $1")
        .bind(task_id)
        .bind(who)
        .bind(source)
        .execute(db)
        .await?;
    Ok(())
}

/// The task an `Idempotency-Key` already created, with the hash of the request that created it.
pub async fn idempotent_task<'e>(
    db: impl PgExecutor<'e>,
    key: &str,
) -> Result<Option<(String, Uuid)>> {
    let row = sqlx::query("SELECT request_hash, task_id FROM idempotency_keys WHERE key = $1")
        .bind(key)
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok((r.try_get("request_hash")?, r.try_get("task_id")?)))
        .transpose()
}

/// Claims an `Idempotency-Key`; false when another request holds it already.
pub async fn claim_idempotency_key(
    conn: &mut PgConnection,
    key: &str,
    request_hash: &str,
    task_id: Uuid,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (key, request_hash, task_id) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(request_hash)
    .bind(task_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
