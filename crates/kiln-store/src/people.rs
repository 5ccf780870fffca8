//! People in the loop: work set aside while a person decides, clarifying questions,
//! approvals and rejections, and typed task options.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

/// What a person is asked for while a task waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    Clarification,
    PlanApproval,
    ReleaseApproval,
    BudgetApproval,
    /// Not a person's decision: the kill switch. Lifting the pause resumes the step.
    Paused,
}

impl WaitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Clarification => "clarification",
            WaitKind::PlanApproval => "plan_approval",
            WaitKind::ReleaseApproval => "release_approval",
            WaitKind::BudgetApproval => "budget_approval",
            WaitKind::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            WaitKind::Clarification,
            WaitKind::PlanApproval,
            WaitKind::ReleaseApproval,
            WaitKind::BudgetApproval,
            WaitKind::Paused,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// What a task in `status` waits for, if it waits for a person.
    pub fn of_status(status: crate::TaskStatus) -> Option<Self> {
        [
            WaitKind::Clarification,
            WaitKind::PlanApproval,
            WaitKind::ReleaseApproval,
            WaitKind::BudgetApproval,
            WaitKind::Paused,
        ]
        .into_iter()
        .find(|k| k.status() == status)
    }

    /// The task status while waiting for this.
    pub fn status(self) -> crate::TaskStatus {
        match self {
            WaitKind::Clarification => crate::TaskStatus::AwaitingClarification,
            WaitKind::PlanApproval => crate::TaskStatus::AwaitingPlanApproval,
            WaitKind::ReleaseApproval => crate::TaskStatus::AwaitingReleaseApproval,
            WaitKind::BudgetApproval => crate::TaskStatus::AwaitingBudgetApproval,
            WaitKind::Paused => crate::TaskStatus::Paused,
        }
    }
}

/// A message set aside until a person answers.
#[derive(Debug, Clone)]
pub struct Parked {
    pub kind: WaitKind,
    pub subject: String,
    pub payload: Vec<u8>,
    pub detail: serde_json::Value,
    pub parked_at: OffsetDateTime,
}

/// Parks a message for `task_id`, replacing whatever was parked before.
pub async fn park<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    kind: WaitKind,
    subject: &str,
    payload: &[u8],
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO parked_work (task_id, kind, subject, payload, detail) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (task_id) DO UPDATE SET kind = EXCLUDED.kind, subject = EXCLUDED.subject, \
         payload = EXCLUDED.payload, detail = EXCLUDED.detail, parked_at = now()",
    )
    .bind(task_id)
    .bind(kind.as_str())
    .bind(subject)
    .bind(payload)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn parked<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<Option<Parked>> {
    let row = sqlx::query(
        "SELECT kind, subject, payload, detail, parked_at FROM parked_work WHERE task_id = $1",
    )
    .bind(task_id)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        let kind: String = r.try_get("kind")?;
        Ok(Parked {
            kind: WaitKind::parse(&kind).ok_or(crate::Error::Corrupt {
                what: "parked work kind",
                value: kind,
            })?,
            subject: r.try_get("subject")?,
            payload: r.try_get("payload")?,
            detail: r.try_get("detail")?,
            parked_at: r.try_get("parked_at")?,
        })
    })
    .transpose()
}

/// Removes and returns the parked message (inside the caller's transaction).
pub async fn unpark(conn: &mut PgConnection, task_id: Uuid) -> Result<Option<Parked>> {
    let found = parked(&mut *conn, task_id).await?;
    if found.is_some() {
        sqlx::query("DELETE FROM parked_work WHERE task_id = $1")
            .bind(task_id)
            .execute(conn)
            .await?;
    }
    Ok(found)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Clarification {
    pub id: Uuid,
    pub question: String,
    pub answer: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub asked_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
}

pub async fn ask(conn: &mut PgConnection, task_id: Uuid, questions: &[String]) -> Result<()> {
    for q in questions {
        sqlx::query(
            "INSERT INTO clarifications (id, task_id, ordinal, question) VALUES ($1, $2, \
             COALESCE((SELECT max(ordinal) FROM clarifications WHERE task_id = $2), -1) + 1, $3)",
        )
        .bind(Uuid::now_v7())
        .bind(task_id)
        .bind(q)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn clarifications<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
) -> Result<Vec<Clarification>> {
    let rows = sqlx::query(
        "SELECT id, question, answer, asked_at, answered_at FROM clarifications \
         WHERE task_id = $1 ORDER BY ordinal",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Clarification {
                id: r.try_get("id")?,
                question: r.try_get("question")?,
                answer: r.try_get("answer")?,
                asked_at: r.try_get("asked_at")?,
                answered_at: r.try_get("answered_at")?,
            })
        })
        .collect()
}

/// Records an answer; false when the question does not belong to the task.
pub async fn answer(
    conn: &mut PgConnection,
    task_id: Uuid,
    id: Uuid,
    answer: &str,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE clarifications SET answer = $3, answered_at = now() WHERE task_id = $1 AND id = $2",
    )
    .bind(task_id)
    .bind(id)
    .bind(answer)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Approval {
    pub kind: String,
    pub decision: String,
    pub actor: String,
    pub reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub async fn record_approval<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    kind: &str,
    decision: &str,
    actor: &str,
    reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO approvals (id, task_id, kind, decision, actor, reason) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(task_id)
    .bind(kind)
    .bind(decision)
    .bind(actor)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn approvals<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<Vec<Approval>> {
    let rows = sqlx::query(
        "SELECT kind, decision, actor, reason, created_at FROM approvals WHERE task_id = $1 ORDER BY created_at",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Approval {
                kind: r.try_get("kind")?,
                decision: r.try_get("decision")?,
                actor: r.try_get("actor")?,
                reason: r.try_get("reason")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Per-task budget limits (`options.budget`); unset limits fall back to configured defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_calls: Option<u32>,
}

/// When a person must approve: `none`, `plan`, `release` or `both`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    #[default]
    None,
    Plan,
    Release,
    Both,
}

impl ApprovalPolicy {
    pub fn plan(self) -> bool {
        matches!(self, ApprovalPolicy::Plan | ApprovalPolicy::Both)
    }
    pub fn release(self) -> bool {
        matches!(self, ApprovalPolicy::Release | ApprovalPolicy::Both)
    }
}

/// The typed form of `tasks.options`, validated by the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskOptions {
    pub approval: ApprovalPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetOptions>,
    /// Self-correction rounds after the first test run (1..=5; default from config).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fix_rounds: Option<u32>,
    /// Deploy target (`local` or a name under `[deployer.targets]`) for this task's project;
    /// the project keeps it for later tasks that name none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy_target: Option<String>,
}

impl TaskOptions {
    /// Options of a stored task; values written before a field existed read as defaults.
    pub fn of(options: &serde_json::Value) -> Self {
        serde_json::from_value(options.clone()).unwrap_or_default()
    }
}

/// Replaces a task's stored options (a raised budget on approval).
pub async fn set_options<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    options: &TaskOptions,
) -> Result<()> {
    sqlx::query("UPDATE tasks SET options = $2, updated_at = now() WHERE id = $1")
        .bind(task_id)
        .bind(serde_json::to_value(options).unwrap_or_default())
        .execute(db)
        .await?;
    Ok(())
}

/// Tasks parked by the kill switch that lifting a pause lets go: every paused task of
/// `project`, or with `None` every paused task whose project is not itself paused.
pub async fn paused_tasks(conn: &mut PgConnection, project: Option<&str>) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT w.task_id FROM parked_work w JOIN tasks t ON t.id = w.task_id \
         JOIN projects p ON p.id = t.project_id WHERE w.kind = 'paused' \
         AND CASE WHEN $1::text IS NULL \
             THEN NOT EXISTS (SELECT 1 FROM control_flags f WHERE f.name = 'pause:' || p.name) \
             ELSE p.name = $1 AND NOT EXISTS (SELECT 1 FROM control_flags f WHERE f.name = 'pause') END \
         ORDER BY w.parked_at",
    )
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("task_id")?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_strictly_and_default_when_absent() {
        let o: TaskOptions = serde_json::from_value(
            serde_json::json!({"approval": "both", "budget": {"max_calls": 3}}),
        )
        .unwrap();
        assert!(o.approval.plan() && o.approval.release());
        assert_eq!(o.budget.unwrap().max_calls, Some(3));
        assert!(
            serde_json::from_value::<TaskOptions>(serde_json::json!({"aproval": "plan"})).is_err()
        );
        assert_eq!(
            TaskOptions::of(&serde_json::json!({})),
            TaskOptions::default()
        );
        for k in [
            "clarification",
            "plan_approval",
            "release_approval",
            "budget_approval",
        ] {
            assert_eq!(WaitKind::parse(k).map(WaitKind::as_str), Some(k));
        }
    }
}
