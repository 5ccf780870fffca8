//! Planner service: turns a task's brief into an epic and stories with acceptance criteria.
//!
//! Offline mode (no LLM configured) plans deterministically from the brief's own structure:
//! bullet lines, sentences and "with A, B and C" enumerations become stories. The brief is
//! untrusted text; it is only ever treated as data to split and quote.

mod offline;

use kiln_contracts::{Stage, WorkItem};
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, Plan};
use sqlx::PgConnection;

pub use offline::plan as offline_plan;

/// Planner settings (`[planner]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Most stories one plan may have.
    pub max_stories: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { max_stories: 8 }
    }
}

pub struct Planner {
    config: Config,
}

impl Planner {
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}

impl Handler for Planner {
    type Input = WorkItem;
    type Output = Plan;

    fn binding(&self) -> Binding {
        Binding {
            name: "plan",
            stage: Stage::Plan,
            active_status: Some(TaskStatus::Planning),
            skip_finished: true,
        }
    }

    async fn work(&self, _cx: &Ctx, job: &Job<WorkItem>) -> Result<Plan, HandlerError> {
        let plan = offline::plan(&job.task.project, &job.task.brief, self.config.max_stories);
        job.log
            .info(format!(
                "planned epic {:?} with {} stories (offline planner, no LLM)",
                plan.epic,
                plan.stories.len()
            ))
            .await;
        for (i, s) in plan.stories.iter().enumerate() {
            job.log.info(format!("story {}: {}", i + 1, s.title)).await;
        }
        Ok(plan)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        plan: Plan,
    ) -> Result<Next, HandlerError> {
        records::insert_plan(tx, job.task.id, &plan).await?;
        let next = WorkItem {
            stage: Stage::Codegen as i32,
            branch: job.task.branch.clone(),
            ..job.input.clone()
        };
        Ok(Next::advance(
            format!("{} stories planned", plan.stories.len()),
            vec![cx.work_message(&next)],
        ))
    }
}

/// Runs the planner service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(base, "planner", Planner::new(config), shutdown).await?;
    Ok(())
}
