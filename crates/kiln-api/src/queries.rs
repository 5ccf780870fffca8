//! The few queries the API needs beyond `kiln-store`: claiming a project name atomically,
//! live deployment URLs of a page of tasks, and the projects overview.

use std::collections::HashMap;

use kiln_store::TaskStatus;
use sqlx::{PgConnection, PgExecutor, Row};
use uuid::Uuid;

use crate::model::ProjectView;

/// Creates project `name` inside the caller's transaction. False when the name is taken
/// (by a committed project, or by a concurrent transaction that then committed).
pub async fn claim_project(
    conn: &mut PgConnection,
    name: &str,
    template: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO projects (id, name, template) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(template)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether the project has a live deployment (something a revision can start from).
pub async fn has_live_deployment<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM deployments WHERE project_id = $1 AND status = 'live') AS live")
        .bind(project_id)
        .fetch_one(db)
        .await?;
    sqlx::Row::try_get(&row, "live")
}

/// A free project name close to `name` (`name-2`, `name-3`, ...), if one is short enough.
pub async fn suggest_name<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
) -> Result<Option<String>, sqlx::Error> {
    // Valid names hold no LIKE wildcards, so `name` needs no escaping.
    let taken: Vec<String> = sqlx::query("SELECT name FROM projects WHERE name LIKE $1 || '-%'")
        .bind(name)
        .fetch_all(db)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<Result<_, _>>()?;
    Ok((2..100)
        .map(|n| format!("{name}-{n}"))
        .find(|c| !taken.contains(c) && kiln_templates::validate_project_name(c).is_ok()))
}

/// URLs of the live deployments of `task_ids`.
pub async fn live_urls<'e>(
    db: impl PgExecutor<'e>,
    task_ids: &[Uuid],
) -> Result<HashMap<Uuid, String>, sqlx::Error> {
    if task_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query(
        "SELECT task_id, url FROM deployments WHERE task_id = ANY($1) AND status = 'live'",
    )
    .bind(task_ids)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("task_id")?, r.try_get("url")?)))
        .collect()
}

/// Every project with its live URL and latest task, by name.
/// Whether a project named `name` exists.
pub async fn project_exists<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
) -> Result<bool, kiln_store::Error> {
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM projects WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}

pub async fn projects<'e>(db: impl PgExecutor<'e>) -> Result<Vec<ProjectView>, kiln_store::Error> {
    let rows = sqlx::query(
        "SELECT p.name, p.template, p.source_url, p.created_at, \
                (SELECT d.url FROM deployments d WHERE d.project_id = p.id AND d.status = 'live' \
                 ORDER BY d.created_at DESC LIMIT 1) AS deployment_url, \
                lt.id AS last_task_id, lt.status AS last_status \
         FROM projects p \
         LEFT JOIN LATERAL (SELECT t.id, t.status FROM tasks t WHERE t.project_id = p.id \
                            ORDER BY t.created_at DESC, t.id DESC LIMIT 1) lt ON true \
         ORDER BY p.name",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            let status: Option<String> = r.try_get("last_status")?;
            let last_status = status
                .map(|s| {
                    TaskStatus::parse(&s).ok_or(kiln_store::Error::Corrupt {
                        what: "task status",
                        value: s,
                    })
                })
                .transpose()?;
            Ok(ProjectView {
                name: r.try_get("name")?,
                template: r.try_get("template")?,
                source_url: r.try_get("source_url")?,
                created_at: r.try_get("created_at")?,
                deployment_url: r.try_get("deployment_url")?,
                last_task_id: r.try_get("last_task_id")?,
                last_status,
            })
        })
        .collect()
}
