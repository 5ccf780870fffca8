//! Project knowledge per commit (`project_knowledge`) and imported projects.

use sqlx::{PgExecutor, Row};
use uuid::Uuid;

use crate::Error;

/// What is stored about one commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub commit: String,
    pub knowledge: serde_json::Value,
    pub scanned_at: time::OffsetDateTime,
}

/// Records the knowledge of `commit`; a second scan of the same commit changes nothing.
pub async fn put<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    commit: &str,
    knowledge: &serde_json::Value,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO project_knowledge (project_id, commit_sha, knowledge) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, commit_sha) DO NOTHING",
    )
    .bind(project_id)
    .bind(commit)
    .bind(knowledge)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether `commit` has been scanned.
pub async fn has<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    commit: &str,
) -> Result<bool, Error> {
    let found: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM project_knowledge WHERE project_id = $1 AND commit_sha = $2",
    )
    .bind(project_id)
    .bind(commit)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// The knowledge of `commit`, or of the newest scanned commit when `commit` is `None`.
pub async fn get<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
    commit: Option<&str>,
) -> Result<Option<Stored>, Error> {
    let row = sqlx::query(
        "SELECT k.commit_sha, k.knowledge, k.scanned_at FROM project_knowledge k \
         JOIN projects p ON p.id = k.project_id \
         WHERE p.name = $1 AND ($2::text IS NULL OR k.commit_sha = $2) \
         ORDER BY k.scanned_at DESC LIMIT 1",
    )
    .bind(project)
    .bind(commit)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| Stored {
        commit: r.get("commit_sha"),
        knowledge: r.get("knowledge"),
        scanned_at: r.get("scanned_at"),
    }))
}

/// The id of project `name`.
pub async fn project_id<'e>(db: impl PgExecutor<'e>, name: &str) -> Result<Option<Uuid>, Error> {
    Ok(
        sqlx::query_scalar("SELECT id FROM projects WHERE name = $1")
            .bind(name)
            .fetch_optional(db)
            .await?,
    )
}

/// Claims `name` for an imported project; `false` when the name is taken.
pub async fn insert_imported<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
    name: &str,
    source_url: &str,
    branch: &str,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO projects (id, name, template, source_url, source_branch) VALUES ($1, $2, '', $3, $4) \
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(id)
    .bind(name)
    .bind(source_url)
    .bind(branch)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A project's settings (overrides given through the API), when it has any. `None` also
/// when there is no such project.
pub async fn settings<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
) -> Result<Option<serde_json::Value>, Error> {
    let found: Option<Option<serde_json::Value>> =
        sqlx::query_scalar("SELECT settings FROM projects WHERE name = $1")
            .bind(project)
            .fetch_optional(db)
            .await?;
    Ok(found.flatten())
}

/// Replaces a project's settings (`None` clears them). False when there is no such project.
pub async fn set_settings<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
    settings: Option<&serde_json::Value>,
) -> Result<bool, Error> {
    let done = sqlx::query("UPDATE projects SET settings = $2 WHERE name = $1")
        .bind(project)
        .bind(settings)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the stored knowledge of `commit` (a model-written summary added to the scan).
pub async fn replace<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    commit: &str,
    knowledge: &serde_json::Value,
) -> Result<(), Error> {
    sqlx::query(
        "UPDATE project_knowledge SET knowledge = $3 WHERE project_id = $1 AND commit_sha = $2",
    )
    .bind(project_id)
    .bind(commit)
    .bind(knowledge)
    .execute(db)
    .await?;
    Ok(())
}
