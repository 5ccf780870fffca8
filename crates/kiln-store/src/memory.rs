//! Project memory: at most a few short lessons per project, derived from how each task went
//! (what failed, what needed fixing, what a person rejected), editable by people and fed
//! into later prompts.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// Lessons kept per project; the oldest go first.
pub const MAX_LESSONS: usize = 5;
/// Longest lesson kept, in characters.
pub const MAX_LESSON_CHARS: usize = 240;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lesson {
    pub id: Uuid,
    pub lesson: String,
    pub source_task_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn lesson_from_row(r: &sqlx::postgres::PgRow) -> Result<Lesson> {
    Ok(Lesson {
        id: r.try_get("id")?,
        lesson: r.try_get("lesson")?,
        source_task_id: r.try_get("source_task_id")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn lessons<'e>(db: impl PgExecutor<'e>, project_id: Uuid) -> Result<Vec<Lesson>> {
    let rows = sqlx::query(
        "SELECT id, lesson, source_task_id, created_at, updated_at FROM project_memory \
         WHERE project_id = $1 ORDER BY created_at, id",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(lesson_from_row).collect()
}

fn clip(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_LESSON_CHARS {
        return one_line;
    }
    let mut out: String = one_line.chars().take(MAX_LESSON_CHARS - 1).collect();
    out.push('…');
    out
}

/// Adds lessons (duplicates of existing ones are skipped) and keeps the newest few.
pub async fn remember(
    conn: &mut PgConnection,
    project_id: Uuid,
    source_task_id: Option<Uuid>,
    new: &[String],
) -> Result<Vec<Lesson>> {
    let existing = lessons(&mut *conn, project_id).await?;
    for lesson in new {
        let lesson = clip(lesson);
        if lesson.is_empty() || existing.iter().any(|l| l.lesson == lesson) {
            continue;
        }
        sqlx::query(
            "INSERT INTO project_memory (id, project_id, lesson, source_task_id) VALUES ($1, $2, $3, $4)",
        )
        .bind(Uuid::now_v7())
        .bind(project_id)
        .bind(&lesson)
        .bind(source_task_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "DELETE FROM project_memory WHERE project_id = $1 AND id NOT IN \
         (SELECT id FROM project_memory WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2)",
    )
    .bind(project_id)
    .bind(MAX_LESSONS as i64)
    .execute(&mut *conn)
    .await?;
    lessons(conn, project_id).await
}

/// Edits a lesson; false when it does not belong to the project.
pub async fn edit<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    id: Uuid,
    lesson: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE project_memory SET lesson = $3, updated_at = now() WHERE project_id = $1 AND id = $2",
    )
    .bind(project_id)
    .bind(id)
    .bind(clip(lesson))
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn forget<'e>(db: impl PgExecutor<'e>, project_id: Uuid, id: Uuid) -> Result<bool> {
    let done = sqlx::query("DELETE FROM project_memory WHERE project_id = $1 AND id = $2")
        .bind(project_id)
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Lessons from how a finished task went, read from its records. Deterministic: the same
/// records always give the same lessons.
pub async fn derive(conn: &mut PgConnection, task_id: Uuid) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // What failed outright, in the words the task was failed with.
    let failed = sqlx::query("SELECT status_reason FROM tasks WHERE id = $1 AND status = 'failed'")
        .bind(task_id)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(row) = failed {
        let reason: Option<String> = row.try_get("status_reason")?;
        out.push(format!(
            "A task failed: {}",
            reason.unwrap_or_else(|| "no reason recorded".into())
        ));
    }
    // What needed fixing: the first error of every round that failed before a later pass.
    let fixed = sqlx::query(
        "SELECT e.round, e.tool, e.file, e.message FROM test_errors e \
         WHERE e.task_id = $1 AND e.ordinal = 0 ORDER BY e.round",
    )
    .bind(task_id)
    .fetch_all(&mut *conn)
    .await?;
    let passed_later =
        sqlx::query("SELECT bool_or(passed) AS any FROM test_runs WHERE task_id = $1")
            .bind(task_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get::<Option<bool>, _>("any")?
            .unwrap_or(false);
    if let Some(first) = fixed.first() {
        let tool: String = first.try_get("tool")?;
        let file: Option<String> = first.try_get("file")?;
        let message: String = first.try_get("message")?;
        let place = file.map(|f| format!(" in {f}")).unwrap_or_default();
        out.push(if passed_later {
            format!("Generated code first failed {tool}{place} ({message}); it needed a fix round")
        } else {
            format!("Generated code kept failing {tool}{place}: {message}")
        });
    }
    // What a person rejected, and why.
    let rejected = sqlx::query(
        "SELECT kind, reason FROM approvals WHERE task_id = $1 AND decision = 'reject' ORDER BY created_at",
    )
    .bind(task_id)
    .fetch_all(&mut *conn)
    .await?;
    for r in rejected.iter().take(2) {
        let kind: String = r.try_get("kind")?;
        let reason: Option<String> = r.try_get("reason")?;
        out.push(format!(
            "A person rejected the {}: {}",
            kind.replace('_', " ").trim_end_matches(" approval"),
            reason.unwrap_or_else(|| "no reason given".into())
        ));
    }
    // What blocked the release.
    let blocked = sqlx::query(
        "SELECT reasons FROM gate_decisions WHERE task_id = $1 AND decision = 'blocked' ORDER BY round DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = blocked {
        let reasons: serde_json::Value = row.try_get("reasons")?;
        for r in reasons.as_array().into_iter().flatten() {
            if r["kind"] == "hard" && r["code"] != "tests_failed" {
                out.push(format!(
                    "The gate blocked a release: {}",
                    r["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
    out.truncate(MAX_LESSONS);
    Ok(out.into_iter().map(|l| clip(&l)).collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lessons_are_one_clipped_line() {
        let long = format!("a\nb {}", "x".repeat(400));
        let c = super::clip(&long);
        assert!(c.starts_with("a b "));
        assert_eq!(c.chars().count(), super::MAX_LESSON_CHARS);
        assert!(c.ends_with('…'));
    }
}

/// A lesson Kiln proposes from a person's review, kept only once a person approves it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Proposal {
    pub id: Uuid,
    pub task_id: Option<Uuid>,
    pub lesson: String,
    /// Who said what the lesson was distilled from.
    pub proposed_from: String,
    /// `proposed`, `kept` or `dropped`.
    pub status: String,
    pub decided_by: Option<String>,
}

/// The lesson in a reviewer's words: their first sentence, clipped to a lesson's length.
pub fn distill(feedback: &str) -> String {
    let text = feedback.trim();
    let end = text
        .char_indices()
        .find(|(i, c)| {
            *c == '\n'
                || (matches!(c, '.' | '!' | '?')
                    && text[i + c.len_utf8()..].starts_with([' ', '\n']))
        })
        .map_or(
            text.len(),
            |(i, c)| if c == '\n' { i } else { i + c.len_utf8() },
        );
    clip(text[..end].trim())
}

/// Records a proposed lesson; its id.
pub async fn propose<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    task_id: Uuid,
    lesson: &str,
    from: &str,
) -> Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO lesson_proposals (id, project_id, task_id, lesson, proposed_from) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(project_id)
    .bind(task_id)
    .bind(clip(lesson))
    .bind(from)
    .execute(db)
    .await?;
    Ok(id)
}

fn proposal(r: &sqlx::postgres::PgRow) -> Result<Proposal> {
    Ok(Proposal {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        lesson: r.try_get("lesson")?,
        proposed_from: r.try_get("proposed_from")?,
        status: r.try_get("status")?,
        decided_by: r.try_get("decided_by")?,
    })
}

/// A project's proposals, newest first.
pub async fn proposals<'e>(db: impl PgExecutor<'e>, project_id: Uuid) -> Result<Vec<Proposal>> {
    let rows = sqlx::query(
        "SELECT id, task_id, lesson, proposed_from, status, decided_by FROM lesson_proposals \
         WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 100",
    )
    .bind(project_id)
    .fetch_all(db)
    .await?;
    rows.iter().map(proposal).collect()
}

/// The newest undecided proposal from a task.
pub async fn open_proposal<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<Option<Proposal>> {
    let row = sqlx::query(
        "SELECT id, task_id, lesson, proposed_from, status, decided_by FROM lesson_proposals \
         WHERE task_id = $1 AND status = 'proposed' ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(proposal).transpose()
}

/// Keeps (into the project's bounded memory) or drops an undecided proposal of the project.
/// `None` when there is no such undecided proposal.
pub async fn decide(
    conn: &mut PgConnection,
    project_id: Uuid,
    id: Uuid,
    keep: bool,
    by: &str,
) -> Result<Option<Proposal>> {
    let row = sqlx::query(
        "UPDATE lesson_proposals SET status = $3, decided_by = $4 \
         WHERE id = $1 AND project_id = $2 AND status = 'proposed' \
         RETURNING id, task_id, lesson, proposed_from, status, decided_by",
    )
    .bind(id)
    .bind(project_id)
    .bind(if keep { "kept" } else { "dropped" })
    .bind(by)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(found) = row.as_ref().map(proposal).transpose()? else {
        return Ok(None);
    };
    if keep {
        remember(
            conn,
            project_id,
            found.task_id,
            std::slice::from_ref(&found.lesson),
        )
        .await?;
    }
    Ok(Some(found))
}

#[cfg(test)]
mod proposal_tests {
    use super::*;

    #[test]
    fn a_lesson_is_the_reviewers_first_sentence() {
        assert_eq!(
            distill("Tests live beside the code, not in tests/. Also fix the typo."),
            "Tests live beside the code, not in tests/."
        );
        assert_eq!(
            distill("  Use 24-hour times\nand more"),
            "Use 24-hour times"
        );
        assert_eq!(
            distill("v1.2 is the version we ship"),
            "v1.2 is the version we ship"
        );
        assert!(distill(&"x".repeat(1000)).chars().count() <= MAX_LESSON_CHARS);
    }
}
