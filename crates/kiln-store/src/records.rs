//! Per-stage lifecycle records: stage runs, plans, commits, test runs, reviews, gate
//! decisions, deployments and index runs.

use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgExecutor, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Result;

// ---------------------------------------------------------------- stage runs

#[derive(Debug, Clone, Serialize)]
pub struct StageRun {
    pub stage: String,
    pub round: i32,
    pub attempt: i32,
    pub status: String,
    pub summary: Option<String>,
    pub worker: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub duration_ms: Option<i64>,
}

/// Identifies one handling of one work item.
#[derive(Debug, Clone, Copy)]
pub struct RunKey<'a> {
    pub task_id: Uuid,
    pub stage: &'a str,
    pub round: i32,
    pub attempt: i32,
}

/// Records that a worker started handling a work item. Earlier attempts that are still
/// `running` belonged to a worker that died; they are marked `interrupted`.
pub async fn start_stage_run(conn: &mut PgConnection, key: RunKey<'_>, worker: &str) -> Result<()> {
    sqlx::query(
        "UPDATE stage_runs SET status = 'interrupted', finished_at = now(), \
         summary = 'worker stopped before finishing; the work item was redelivered' \
         WHERE task_id = $1 AND stage = $2 AND round = $3 AND attempt < $4 AND status = 'running'",
    )
    .bind(key.task_id)
    .bind(key.stage)
    .bind(key.round)
    .bind(key.attempt)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO stage_runs (id, task_id, stage, round, attempt, status, worker) \
         VALUES ($1, $2, $3, $4, $5, 'running', $6) \
         ON CONFLICT (task_id, stage, round, attempt) DO UPDATE SET status = 'running', \
         worker = EXCLUDED.worker, started_at = now(), finished_at = NULL, summary = NULL",
    )
    .bind(Uuid::now_v7())
    .bind(key.task_id)
    .bind(key.stage)
    .bind(key.round)
    .bind(key.attempt)
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(())
}

/// Closes a stage run with its outcome (`succeeded`, `failed` or `skipped`).
pub async fn finish_stage_run<'e>(
    db: impl PgExecutor<'e>,
    key: RunKey<'_>,
    status: &str,
    summary: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE stage_runs SET status = $5, summary = $6, finished_at = now() \
         WHERE task_id = $1 AND stage = $2 AND round = $3 AND attempt = $4",
    )
    .bind(key.task_id)
    .bind(key.stage)
    .bind(key.round)
    .bind(key.attempt)
    .bind(status)
    .bind(summary)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn stage_runs<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<Vec<StageRun>> {
    let rows = sqlx::query(
        "SELECT stage, round, attempt, status, summary, worker, started_at, finished_at, \
         (EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000)::bigint AS duration_ms \
         FROM stage_runs WHERE task_id = $1 ORDER BY started_at, attempt",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StageRun {
                stage: r.try_get("stage")?,
                round: r.try_get("round")?,
                attempt: r.try_get("attempt")?,
                status: r.try_get("status")?,
                summary: r.try_get("summary")?,
                worker: r.try_get("worker")?,
                started_at: r.try_get("started_at")?,
                finished_at: r.try_get("finished_at")?,
                duration_ms: r.try_get("duration_ms")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------- plans

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Story {
    pub title: String,
    pub description: String,
    pub acceptance: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Plan {
    pub epic: String,
    pub planner: String,
    pub stories: Vec<Story>,
}

/// Stores `plan` as the task's newest version (a re-plan after a rejection adds a version).
pub async fn insert_plan(conn: &mut PgConnection, task_id: Uuid, plan: &Plan) -> Result<i32> {
    let version: i32 = sqlx::query(
        "INSERT INTO plans (task_id, version, epic, planner) \
         VALUES ($1, COALESCE((SELECT max(version) FROM plans WHERE task_id = $1), 0) + 1, $2, $3) \
         RETURNING version",
    )
    .bind(task_id)
    .bind(&plan.epic)
    .bind(&plan.planner)
    .fetch_one(&mut *conn)
    .await?
    .try_get("version")?;
    for (i, story) in plan.stories.iter().enumerate() {
        sqlx::query(
            "INSERT INTO stories (task_id, version, ordinal, title, description, acceptance) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(task_id)
        .bind(version)
        .bind(i as i32)
        .bind(&story.title)
        .bind(&story.description)
        .bind(serde_json::to_value(&story.acceptance).unwrap_or_default())
        .execute(&mut *conn)
        .await?;
    }
    Ok(version)
}

pub async fn get_plan(conn: &mut PgConnection, task_id: Uuid) -> Result<Option<Plan>> {
    let Some(row) = sqlx::query(
        "SELECT version, epic, planner FROM plans WHERE task_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let version: i32 = row.try_get("version")?;
    let stories = sqlx::query(
        "SELECT title, description, acceptance FROM stories WHERE task_id = $1 AND version = $2 \
         ORDER BY ordinal",
    )
    .bind(task_id)
    .bind(version)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let acceptance: serde_json::Value = r.try_get("acceptance")?;
        Ok(Story {
            title: r.try_get("title")?,
            description: r.try_get("description")?,
            acceptance: serde_json::from_value(acceptance).unwrap_or_default(),
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Some(Plan {
        epic: row.try_get("epic")?,
        planner: row.try_get("planner")?,
        stories,
    }))
}

// ---------------------------------------------------------------- commits

#[derive(Debug, Clone, Serialize)]
pub struct CommitRecord {
    pub round: i32,
    pub sha: String,
    pub branch: String,
    pub message: String,
    pub files_changed: i32,
    pub insertions: i32,
    pub deletions: i32,
    /// Protected paths (CI, deploy config, policy) this round changed.
    pub protected_paths: Vec<String>,
}

/// Records the commit of a round; a redelivered round that found its commit again is a no-op.
pub async fn insert_commit<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    c: &CommitRecord,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO commits (task_id, round, sha, branch, message, files_changed, insertions, deletions, \
         protected_paths) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (task_id, round) DO NOTHING",
    )
    .bind(task_id)
    .bind(c.round)
    .bind(&c.sha)
    .bind(&c.branch)
    .bind(&c.message)
    .bind(c.files_changed)
    .bind(c.insertions)
    .bind(c.deletions)
    .bind(serde_json::to_value(&c.protected_paths).unwrap_or_default())
    .execute(db)
    .await?;
    Ok(())
}

pub async fn commits<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<Vec<CommitRecord>> {
    let rows = sqlx::query(
        "SELECT round, sha, branch, message, files_changed, insertions, deletions, protected_paths \
         FROM commits WHERE task_id = $1 ORDER BY round",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CommitRecord {
                round: r.try_get("round")?,
                sha: r.try_get("sha")?,
                branch: r.try_get("branch")?,
                message: r.try_get("message")?,
                files_changed: r.try_get("files_changed")?,
                insertions: r.try_get("insertions")?,
                deletions: r.try_get("deletions")?,
                protected_paths: serde_json::from_value(r.try_get("protected_paths")?)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- test runs

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestCommand {
    pub phase: String,
    pub command: String,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: i64,
    pub output_tail: String,
    /// The sandbox limit that stopped the command, e.g. `memory limit of 2048 MiB`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_hit: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestRun {
    pub round: i32,
    pub commit_sha: String,
    pub passed: bool,
    pub error: Option<String>,
    /// Why the self-correction loop stopped at this round, if it did.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub commands: Vec<TestCommand>,
    /// `bubblewrap`, or `none` when the operator chose to run generated code unsandboxed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<String>,
}

pub async fn insert_test_run(conn: &mut PgConnection, task_id: Uuid, run: &TestRun) -> Result<()> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO test_runs (id, task_id, round, commit_sha, passed, error, started_at, finished_at, \
         isolation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(task_id)
    .bind(run.round)
    .bind(&run.commit_sha)
    .bind(run.passed)
    .bind(&run.error)
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(&run.isolation)
    .execute(&mut *conn)
    .await?;
    for (i, c) in run.commands.iter().enumerate() {
        sqlx::query(
            "INSERT INTO test_commands (test_run_id, ordinal, phase, command, exit_code, timed_out, \
             duration_ms, output_tail, limit_hit) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(i as i32)
        .bind(&c.phase)
        .bind(&c.command)
        .bind(c.exit_code)
        .bind(c.timed_out)
        .bind(c.duration_ms)
        .bind(&c.output_tail)
        .bind(&c.limit_hit)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn test_runs(conn: &mut PgConnection, task_id: Uuid) -> Result<Vec<TestRun>> {
    let runs = sqlx::query(
        "SELECT id, round, commit_sha, passed, error, stop_reason, fingerprint, started_at, finished_at, \
         isolation FROM test_runs WHERE task_id = $1 ORDER BY round",
    )
    .bind(task_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(runs.len());
    for r in &runs {
        let id: Uuid = r.try_get("id")?;
        let commands = sqlx::query(
            "SELECT phase, command, exit_code, timed_out, duration_ms, output_tail, limit_hit \
             FROM test_commands WHERE test_run_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|c| {
            Ok(TestCommand {
                phase: c.try_get("phase")?,
                command: c.try_get("command")?,
                exit_code: c.try_get("exit_code")?,
                timed_out: c.try_get("timed_out")?,
                duration_ms: c.try_get("duration_ms")?,
                output_tail: c.try_get("output_tail")?,
                limit_hit: c.try_get("limit_hit")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        out.push(TestRun {
            round: r.try_get("round")?,
            commit_sha: r.try_get("commit_sha")?,
            passed: r.try_get("passed")?,
            error: r.try_get("error")?,
            stop_reason: r.try_get("stop_reason")?,
            fingerprint: r.try_get("fingerprint")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
            commands,
            isolation: r.try_get("isolation")?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- structured test errors

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestError {
    pub tool: String,
    pub command: String,
    pub file: Option<String>,
    pub line: Option<i32>,
    pub column: Option<i32>,
    pub message: String,
}

pub async fn insert_test_errors(
    conn: &mut PgConnection,
    task_id: Uuid,
    round: i32,
    errors: &[TestError],
) -> Result<()> {
    insert_errors_from(conn, task_id, round, 0, errors, true).await
}

/// Inserts `errors` as ordinals `first..`; `skip_existing` leaves ordinals already stored
/// alone (a redelivered test run), otherwise a clash is an error.
async fn insert_errors_from(
    conn: &mut PgConnection,
    task_id: Uuid,
    round: i32,
    first: i32,
    errors: &[TestError],
    skip_existing: bool,
) -> Result<()> {
    let sql = if skip_existing {
        "INSERT INTO test_errors (task_id, round, ordinal, tool, command, file, line, col, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
    } else {
        "INSERT INTO test_errors (task_id, round, ordinal, tool, command, file, line, col, message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    };
    for (i, e) in errors.iter().enumerate() {
        sqlx::query(sql)
            .bind(task_id)
            .bind(round)
            .bind(first + i as i32)
            .bind(&e.tool)
            .bind(&e.command)
            .bind(&e.file)
            .bind(e.line)
            .bind(e.column)
            .bind(&e.message)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Adds errors to a round after those already stored (a person's review of the round).
pub async fn append_test_errors(
    conn: &mut PgConnection,
    task_id: Uuid,
    round: i32,
    errors: &[TestError],
) -> Result<()> {
    let next: i32 = sqlx::query_scalar(
        "SELECT COALESCE(max(ordinal) + 1, 0) FROM test_errors WHERE task_id = $1 AND round = $2",
    )
    .bind(task_id)
    .bind(round)
    .fetch_one(&mut *conn)
    .await?;
    insert_errors_from(conn, task_id, round, next, errors, false).await
}

pub async fn test_errors<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    round: Option<i32>,
) -> Result<Vec<(i32, TestError)>> {
    let rows = sqlx::query(
        "SELECT round, tool, command, file, line, col, message FROM test_errors \
         WHERE task_id = $1 AND ($2::int IS NULL OR round = $2) ORDER BY round, ordinal",
    )
    .bind(task_id)
    .bind(round)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("round")?,
                TestError {
                    tool: r.try_get("tool")?,
                    command: r.try_get("command")?,
                    file: r.try_get("file")?,
                    line: r.try_get("line")?,
                    column: r.try_get("col")?,
                    message: r.try_get("message")?,
                },
            ))
        })
        .collect()
}

/// Fingerprints of earlier rounds' test runs, for stuck detection.
pub async fn round_fingerprints<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
) -> Result<Vec<(i32, Option<String>)>> {
    let rows =
        sqlx::query("SELECT round, fingerprint FROM test_runs WHERE task_id = $1 ORDER BY round")
            .bind(task_id)
            .fetch_all(db)
            .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("round")?, r.try_get("fingerprint")?)))
        .collect()
}

/// Records a round's fingerprint and, when the fix loop stops there, why.
pub async fn set_round_outcome<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    round: i32,
    fingerprint: Option<&str>,
    stop_reason: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE test_runs SET fingerprint = $3, stop_reason = $4 WHERE task_id = $1 AND round = $2",
    )
    .bind(task_id)
    .bind(round)
    .bind(fingerprint)
    .bind(stop_reason)
    .execute(db)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- reviews

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub severity: String,
    pub file: Option<String>,
    pub line: Option<i32>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    pub round: i32,
    pub reviewer: String,
    pub verdict: String,
    pub summary: String,
    pub findings: Vec<Finding>,
}

pub async fn insert_review(conn: &mut PgConnection, task_id: Uuid, review: &Review) -> Result<()> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO reviews (id, task_id, round, reviewer, verdict, summary) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(task_id)
    .bind(review.round)
    .bind(&review.reviewer)
    .bind(&review.verdict)
    .bind(&review.summary)
    .execute(&mut *conn)
    .await?;
    for (i, f) in review.findings.iter().enumerate() {
        sqlx::query(
            "INSERT INTO review_findings (review_id, ordinal, rule, severity, file, line, message) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(i as i32)
        .bind(&f.rule)
        .bind(&f.severity)
        .bind(&f.file)
        .bind(f.line)
        .bind(&f.message)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn reviews(
    conn: &mut PgConnection,
    task_id: Uuid,
    round: Option<i32>,
) -> Result<Vec<Review>> {
    let rows = sqlx::query(
        "SELECT id, round, reviewer, verdict, summary FROM reviews \
         WHERE task_id = $1 AND ($2::int IS NULL OR round = $2) ORDER BY round, reviewer",
    )
    .bind(task_id)
    .bind(round)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: Uuid = r.try_get("id")?;
        let findings = sqlx::query(
            "SELECT rule, severity, file, line, message FROM review_findings \
             WHERE review_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|f| {
            Ok(Finding {
                rule: f.try_get("rule")?,
                severity: f.try_get("severity")?,
                file: f.try_get("file")?,
                line: f.try_get("line")?,
                message: f.try_get("message")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        out.push(Review {
            round: r.try_get("round")?,
            reviewer: r.try_get("reviewer")?,
            verdict: r.try_get("verdict")?,
            summary: r.try_get("summary")?,
            findings,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- gate decisions

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reason {
    /// Stable machine-readable code, e.g. `tests_failed`.
    pub code: String,
    /// `hard` blocks, `soft` skips, `info` explains an approval.
    pub kind: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateDecision {
    pub round: i32,
    pub decision: String,
    pub reasons: Vec<Reason>,
    pub decided_by: String,
}

pub async fn insert_gate_decision<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
    d: &GateDecision,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO gate_decisions (task_id, round, decision, reasons, decided_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(task_id)
    .bind(d.round)
    .bind(&d.decision)
    .bind(serde_json::to_value(&d.reasons).unwrap_or_default())
    .bind(&d.decided_by)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn gate_decision<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
) -> Result<Option<GateDecision>> {
    let row = sqlx::query(
        "SELECT round, decision, reasons, decided_by FROM gate_decisions WHERE task_id = $1 \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(task_id)
    .fetch_optional(db)
    .await?;
    row.map(|r| {
        let reasons: serde_json::Value = r.try_get("reasons")?;
        Ok(GateDecision {
            round: r.try_get("round")?,
            decision: r.try_get("decision")?,
            reasons: serde_json::from_value(reasons).unwrap_or_default(),
            decided_by: r.try_get("decided_by")?,
        })
    })
    .transpose()
}

// ---------------------------------------------------------------- deployments

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub project: String,
    pub commit_sha: String,
    pub target: String,
    pub url: String,
    pub status: String,
    pub verification: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const DEPLOYMENT_COLUMNS: &str = "d.id, d.task_id, p.name AS project, d.commit_sha, d.target, d.url, \
     d.status, d.verification, d.created_at";

fn deployment_from_row(r: &sqlx::postgres::PgRow) -> Result<Deployment> {
    Ok(Deployment {
        id: r.try_get("id")?,
        task_id: r.try_get("task_id")?,
        project: r.try_get("project")?,
        commit_sha: r.try_get("commit_sha")?,
        target: r.try_get("target")?,
        url: r.try_get("url")?,
        status: r.try_get("status")?,
        verification: r.try_get("verification")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Records a deployment. A `live` one supersedes the project's previous live deployment.
pub async fn insert_deployment(
    conn: &mut PgConnection,
    project_id: Uuid,
    d: &Deployment,
) -> Result<()> {
    if d.status == "live" {
        sqlx::query(
            "UPDATE deployments SET status = 'superseded' WHERE project_id = $1 AND status = 'live'",
        )
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "INSERT INTO deployments (id, task_id, project_id, commit_sha, target, url, status, verification) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (task_id, commit_sha) DO NOTHING",
    )
    .bind(d.id)
    .bind(d.task_id)
    .bind(project_id)
    .bind(&d.commit_sha)
    .bind(&d.target)
    .bind(&d.url)
    .bind(&d.status)
    .bind(&d.verification)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn task_deployments<'e>(
    db: impl PgExecutor<'e>,
    task_id: Uuid,
) -> Result<Vec<Deployment>> {
    let sql = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN projects p ON p.id = d.project_id \
         WHERE d.task_id = $1 ORDER BY d.created_at"
    );
    let rows = sqlx::query(&sql).bind(task_id).fetch_all(db).await?;
    rows.iter().map(deployment_from_row).collect()
}

/// The live (last verified) deployment of `project`, if any: what a failed deploy rolls
/// back to.
pub async fn live_deployment<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
) -> Result<Option<Deployment>> {
    let sql = format!(
        "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN projects p ON p.id = d.project_id \
         WHERE d.status = 'live' AND p.name = $1"
    );
    let row = sqlx::query(&sql).bind(project).fetch_optional(db).await?;
    row.as_ref().map(deployment_from_row).transpose()
}

/// Marks `project`'s live deployment `stopped` (its app was deleted); returns how many.
pub async fn stop_deployments<'e>(db: impl PgExecutor<'e>, project: &str) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE deployments SET status = 'stopped' \
         WHERE status = 'live' AND project_id = (SELECT id FROM projects WHERE name = $1)",
    )
    .bind(project)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The project's template and the deploy target it deploys to.
pub async fn project_deploy<'e>(
    db: impl PgExecutor<'e>,
    project: &str,
) -> Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT template, deploy_target FROM projects WHERE name = $1")
        .bind(project)
        .fetch_optional(db)
        .await?;
    row.map(|r| Ok((r.try_get("template")?, r.try_get("deploy_target")?)))
        .transpose()
}

/// Points `project`'s later deploys at the named target.
pub async fn set_deploy_target<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    target: &str,
) -> Result<()> {
    sqlx::query("UPDATE projects SET deploy_target = $2 WHERE id = $1")
        .bind(project_id)
        .bind(target)
        .execute(db)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- index runs

pub async fn insert_index_run<'e>(
    db: impl PgExecutor<'e>,
    project_id: Uuid,
    task_id: Option<Uuid>,
    commit: &str,
    files: i32,
    bytes: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO index_runs (project_id, commit_sha, task_id, files, bytes) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (project_id, commit_sha) DO NOTHING",
    )
    .bind(project_id)
    .bind(commit)
    .bind(task_id)
    .bind(files)
    .bind(bytes)
    .execute(db)
    .await?;
    Ok(())
}
