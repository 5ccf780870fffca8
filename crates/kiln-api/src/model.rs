//! The API's wire types: what clients send and receive, with their OpenAPI schemas.
//!
//! Store records are converted into these views instead of being serialized directly, so the
//! JSON the API promises (and the TypeScript the frontend generates from it) changes only
//! when this module does.

use std::borrow::Cow;

use kiln_store::TaskStatus;
use kiln_store::records::{
    CommitRecord, Deployment, Finding, GateDecision, Plan, Reason, Review, StageRun, Story,
    TestCommand, TestRun,
};
use kiln_store::tasks::Task;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

/// What a task asks Kiln to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Build a new app from a template.
    NewApp,
    /// Change a project Kiln scaffolded and deployed, starting from its live code (needs a
    /// model).
    Revision,
    /// Change any project with code, attached ones included: planned with the project's
    /// knowledge, edited with retrieved context, tested with the project's own commands,
    /// deployed only when the project has a deploy recipe (otherwise it ends `merged`).
    /// Offline, nothing is edited: the project's own tests run on its current code and the
    /// gate says that no change was made.
    Change,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::NewApp => "new_app",
            TaskKind::Revision => "revision",
            TaskKind::Change => "change",
        }
    }
}

/// Body of `POST /api/v1/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "kind": "new_app",
    "template": "static-site",
    "name": "demo",
    "brief": "A landing page for a bakery with opening hours and a contact form",
    "options": {}
}))]
pub struct CreateTask {
    pub kind: TaskKind,
    /// Stack template (see `GET /api/v1/templates`); required for `new_app`.
    #[serde(default)]
    pub template: Option<String>,
    /// Name of the new project; required for `new_app`. 1 to 63 lowercase ASCII letters,
    /// digits and '-', starting with a letter and not ending with '-'.
    #[serde(default)]
    pub name: Option<String>,
    /// Existing project to change; only for `revision` and `change`.
    #[serde(default)]
    pub project: Option<String>,
    /// What to build, in plain language. Trimmed; must not be empty.
    pub brief: String,
    /// Task options. None are defined yet; later releases add `approval` and `budget`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub options: Option<serde_json::Value>,
}

/// OpenAPI schema of [`TaskStatus`], built from the store's own list so the two never drift.
pub struct TaskStatusSchema;

impl PartialSchema for TaskStatusSchema {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Lifecycle status; deployed, merged, blocked, failed, cancelled and rolled_back are terminal",
            ))
            .enum_values(Some(TaskStatus::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl ToSchema for TaskStatusSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TaskStatus")
    }
}

/// A task without its stage records: what lists show.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskSummary {
    pub id: Uuid,
    /// Project (app) name.
    pub project: String,
    #[schema(value_type = TaskKind)]
    pub kind: String,
    pub template: String,
    pub brief: String,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
    #[schema(value_type = TaskStatusSchema)]
    pub status: TaskStatus,
    /// Why the task is in its status (failure reason, cancellation, ...).
    #[schema(required = true)]
    pub status_reason: Option<String>,
    /// `offline` when no LLM was used.
    pub llm_mode: String,
    /// Git branch the task works on.
    pub branch: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub finished_at: Option<OffsetDateTime>,
    /// URL of the task's live deployment, when it has one.
    #[schema(required = true)]
    pub deployment_url: Option<String>,
}

impl TaskSummary {
    pub fn new(task: Task, deployment_url: Option<String>) -> Self {
        Self {
            id: task.id,
            project: task.project,
            kind: task.kind,
            template: task.template,
            brief: task.brief,
            options: task.options,
            status: task.status,
            status_reason: task.status_reason,
            llm_mode: task.llm_mode,
            branch: task.branch,
            created_at: task.created_at,
            updated_at: task.updated_at,
            finished_at: task.finished_at,
            deployment_url,
        }
    }
}

/// A task with everything the pipeline recorded about it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskDetail {
    #[serde(flatten)]
    pub summary: TaskSummary,
    /// Stage runs in the order they started (retries are separate attempts).
    pub stages: Vec<StageRunView>,
    #[schema(required = true)]
    pub plan: Option<PlanView>,
    pub commits: Vec<CommitView>,
    pub test_runs: Vec<TestRunView>,
    pub reviews: Vec<ReviewView>,
    /// The latest gate decision.
    #[schema(required = true)]
    pub gate: Option<GateView>,
    /// The newest deployment of this task.
    #[schema(required = true)]
    pub deployment: Option<DeploymentView>,
    /// Every deployment of this task, oldest first.
    pub deployments: Vec<DeploymentView>,
    pub llm_usage: LlmUsage,
    /// Clarifying questions the planner asked, with their answers.
    #[schema(value_type = Vec<Object>)]
    pub clarifications: Vec<kiln_store::people::Clarification>,
    /// What the task waits for from a person, if anything.
    #[schema(required = true)]
    pub awaiting: Option<AwaitingView>,
    /// Budget limits and what is used, when an LLM serves the task.
    #[schema(required = true)]
    pub budget: Option<BudgetView>,
    /// Self-correction rounds: the commit, test outcome and structured errors of each.
    pub rounds: Vec<RoundView>,
    /// Every approval or rejection by a person.
    #[schema(value_type = Vec<Object>)]
    pub approvals: Vec<kiln_store::people::Approval>,
}

/// What a waiting task needs from a person.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AwaitingView {
    /// `clarification`, `plan_approval`, `release_approval` or `budget_approval`.
    pub kind: String,
    pub since: String,
    pub detail: String,
    #[schema(value_type = Option<Object>)]
    pub figures: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetLimits {
    pub max_tokens: u64,
    pub max_cost_usd: f64,
    pub max_calls: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetUsed {
    pub tokens: u64,
    pub cost_usd: f64,
    pub calls: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetView {
    pub limits: BudgetLimits,
    pub used: BudgetUsed,
}

/// One round of generate, test (and fix).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RoundView {
    pub round: i32,
    pub commit_sha: String,
    #[schema(required = true)]
    pub test_passed: Option<bool>,
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<kiln_store::records::TestError>,
    #[schema(required = true)]
    pub fingerprint: Option<String>,
    #[schema(required = true)]
    pub stop_reason: Option<String>,
}

/// LLM usage of one stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StageUsageView {
    pub stage: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// One page of tasks, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    pub items: Vec<TaskSummary>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/v1/tasks`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// Only tasks in this status.
    #[param(value_type = Option<TaskStatusSchema>)]
    pub status: Option<String>,
    /// Only tasks of this project.
    pub project: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

/// Query of `GET /ws/logs`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    /// Task whose log to stream.
    #[param(value_type = Uuid)]
    pub task_id: Option<String>,
    /// Resume after this stream sequence (the `seq` of the last line received).
    #[param(value_type = Option<u64>)]
    pub after_seq: Option<String>,
}

/// One stage run: one delivery of one work item to one worker.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StageRunView {
    pub stage: String,
    pub round: i32,
    pub attempt: i32,
    /// `running`, `succeeded`, `failed`, `interrupted` or `skipped`.
    pub status: String,
    #[schema(required = true)]
    pub summary: Option<String>,
    pub worker: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub finished_at: Option<OffsetDateTime>,
    #[schema(required = true)]
    pub duration_ms: Option<i64>,
}

impl From<StageRun> for StageRunView {
    fn from(r: StageRun) -> Self {
        Self {
            stage: r.stage,
            round: r.round,
            attempt: r.attempt,
            status: r.status,
            summary: r.summary,
            worker: r.worker,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub epic: String,
    /// Which planner wrote the plan (`offline` without an LLM).
    pub planner: String,
    pub stories: Vec<StoryView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoryView {
    pub title: String,
    pub description: String,
    pub acceptance: Vec<String>,
}

impl From<Plan> for PlanView {
    fn from(p: Plan) -> Self {
        Self {
            epic: p.epic,
            planner: p.planner,
            stories: p.stories.into_iter().map(StoryView::from).collect(),
        }
    }
}

impl From<Story> for StoryView {
    fn from(s: Story) -> Self {
        Self {
            title: s.title,
            description: s.description,
            acceptance: s.acceptance,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommitView {
    pub round: i32,
    pub sha: String,
    pub branch: String,
    pub message: String,
    pub files_changed: i32,
    pub insertions: i32,
    pub deletions: i32,
}

impl From<CommitRecord> for CommitView {
    fn from(c: CommitRecord) -> Self {
        Self {
            round: c.round,
            sha: c.sha,
            branch: c.branch,
            message: c.message,
            files_changed: c.files_changed,
            insertions: c.insertions,
            deletions: c.deletions,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestRunView {
    pub round: i32,
    pub commit_sha: String,
    pub passed: bool,
    /// Why the run could not happen at all (e.g. a missing toolchain).
    #[schema(required = true)]
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub commands: Vec<TestCommandView>,
    /// How generated code was isolated: `bubblewrap`, or `none` when the operator chose to
    /// run it unsandboxed; null when no command ran.
    #[schema(required = true)]
    pub isolation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TestCommandView {
    /// `install`, `build` or `test`.
    pub phase: String,
    pub command: String,
    #[schema(required = true)]
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub duration_ms: i64,
    /// The end of the command's output.
    pub output_tail: String,
    /// The sandbox limit that stopped the command, e.g. `memory limit of 2048 MiB`.
    #[schema(required = true)]
    pub limit_hit: Option<String>,
}

impl From<TestRun> for TestRunView {
    fn from(r: TestRun) -> Self {
        Self {
            round: r.round,
            commit_sha: r.commit_sha,
            passed: r.passed,
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
            commands: r.commands.into_iter().map(TestCommandView::from).collect(),
            isolation: r.isolation,
        }
    }
}

impl From<TestCommand> for TestCommandView {
    fn from(c: TestCommand) -> Self {
        Self {
            phase: c.phase,
            command: c.command,
            exit_code: c.exit_code,
            timed_out: c.timed_out,
            duration_ms: c.duration_ms,
            output_tail: c.output_tail,
            limit_hit: c.limit_hit,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewView {
    pub round: i32,
    pub reviewer: String,
    /// `pass`, `concerns` or `block`.
    pub verdict: String,
    pub summary: String,
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindingView {
    pub rule: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: String,
    #[schema(required = true)]
    pub file: Option<String>,
    #[schema(required = true)]
    pub line: Option<i32>,
    pub message: String,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        Self {
            round: r.round,
            reviewer: r.reviewer,
            verdict: r.verdict,
            summary: r.summary,
            findings: r.findings.into_iter().map(FindingView::from).collect(),
        }
    }
}

impl From<Finding> for FindingView {
    fn from(f: Finding) -> Self {
        Self {
            rule: f.rule,
            severity: f.severity,
            file: f.file,
            line: f.line,
            message: f.message,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GateView {
    pub round: i32,
    /// `approved`, `skipped` or `blocked`.
    pub decision: String,
    pub reasons: Vec<ReasonView>,
    pub decided_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReasonView {
    /// Stable machine-readable code, e.g. `tests_failed`.
    pub code: String,
    /// `hard` blocks, `soft` skips, `info` explains an approval.
    pub kind: String,
    pub message: String,
}

impl From<GateDecision> for GateView {
    fn from(g: GateDecision) -> Self {
        Self {
            round: g.round,
            decision: g.decision,
            reasons: g.reasons.into_iter().map(ReasonView::from).collect(),
            decided_by: g.decided_by,
        }
    }
}

impl From<Reason> for ReasonView {
    fn from(r: Reason) -> Self {
        Self {
            code: r.code,
            kind: r.kind,
            message: r.message,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentView {
    pub url: String,
    /// `live`, `failed`, `superseded`, `stopped` or `rolled_back`.
    pub status: String,
    pub commit_sha: String,
    /// Deploy target, e.g. `local`.
    pub target: String,
    /// `{ok, checks: [{name, ok, detail}]}` from probing the deployed app.
    #[schema(value_type = Object)]
    pub verification: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Deployment> for DeploymentView {
    fn from(d: Deployment) -> Self {
        Self {
            url: d.url,
            status: d.status,
            commit_sha: d.commit_sha,
            target: d.target,
            verification: d.verification,
            created_at: d.created_at,
        }
    }
}

/// LLM accounting of a task: totals and per stage. Offline mode makes no calls.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LlmUsage {
    /// The task's `llm_mode`: `offline` or `provider/model`.
    pub mode: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    pub by_stage: Vec<StageUsageView>,
}

impl LlmUsage {
    pub fn from_usage(mode: &str, u: kiln_llm::TaskUsage) -> Self {
        Self {
            mode: mode.to_owned(),
            calls: u.calls,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_tokens: u.cached_tokens,
            cost_usd: u.cost_usd,
            by_stage: u
                .by_stage
                .into_iter()
                .map(|s| StageUsageView {
                    stage: s.stage,
                    calls: s.calls,
                    input_tokens: s.input_tokens,
                    output_tokens: s.output_tokens,
                    cost_usd: s.cost_usd,
                })
                .collect(),
        }
    }
}

/// A stack template a task can build from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TemplateView {
    pub name: String,
    pub title: String,
    pub description: String,
    /// Stack family, e.g. `node` or `static`.
    pub stack: String,
    /// Executables the stack needs on the hosts that build and run it.
    pub requires: Vec<String>,
    /// Deploy kinds the template supports.
    pub deploy: Vec<String>,
    /// Package registries the install phase downloads from.
    pub registries: Vec<String>,
    /// Database each app gets on deploy: `postgres` or `mysql`.
    #[schema(required = true)]
    pub database: Option<String>,
    /// The `requires` executables missing on the API's host.
    pub missing_toolchains: Vec<String>,
    /// The `registries` this host cannot reach, each with why.
    pub unreachable_registries: Vec<String>,
    /// Whether every required toolchain was found and every registry answered.
    pub available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<TemplateView>,
}

/// A project (app) and its latest activity.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectView {
    pub name: String,
    /// The stack template it was built from; empty for an imported repository.
    pub template: String,
    /// Where an imported repository came from (credentials masked); null otherwise.
    #[schema(required = true)]
    pub source_url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// URL of the project's live deployment, if any.
    #[schema(required = true)]
    pub deployment_url: Option<String>,
    #[schema(required = true)]
    pub last_task_id: Option<Uuid>,
    #[schema(required = true, value_type = Option<TaskStatusSchema>)]
    pub last_status: Option<TaskStatus>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectView>,
}

/// One WebSocket text frame of `GET /ws/logs`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogFrame {
    /// Stream sequence; pass the last one seen as `after_seq` to resume without gaps.
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// Service that wrote the line.
    pub service: String,
    /// Stage name (`plan`, `codegen`, ...), or `unspecified`.
    pub stage: String,
    pub message: String,
}
