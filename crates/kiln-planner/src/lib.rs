//! Planner service: turns a task's brief into an epic and stories with acceptance criteria.
//!
//! With a model configured, the planner asks it for a schema-validated plan (repaired by one
//! re-ask, then failing clearly), may ask clarifying questions once (the task waits for
//! answers), re-plans with a person's feedback after a rejection, and holds the plan for
//! approval when the task's policy asks for it. Offline mode (no model) plans
//! deterministically from the brief's own structure. The brief is untrusted text: data to
//! plan from, never instructions.

mod offline;

use kiln_agents::prompts::{self, PlannerInput};
use kiln_agents::{Agent, PlanReply};
use kiln_contracts::{Stage, WorkItem};
use kiln_runtime::harness::Park;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::people::{self, TaskOptions, WaitKind};
use kiln_store::records::{self, Plan};
use kiln_templates::Catalog;
use sqlx::PgConnection;

pub use offline::plan as offline_plan;

/// Planner settings (`[planner]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Most stories one offline plan may have.
    pub max_stories: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { max_stories: 8 }
    }
}

/// What planning produced.
pub enum Outcome {
    Plan(Plan),
    Questions(Vec<String>),
}

pub struct Planner {
    config: Config,
    agent: Option<Agent>,
    catalog: Catalog,
}

impl Planner {
    pub fn new(config: Config, agent: Option<Agent>, catalog: Catalog) -> Self {
        Self {
            config,
            agent,
            catalog,
        }
    }

    async fn plan_with_model(
        &self,
        agent: &Agent,
        cx: &Ctx,
        job: &Job<WorkItem>,
    ) -> Result<Outcome, HandlerError> {
        let task = &job.task;
        let mut conn = cx.db.acquire().await?;
        let asked = people::clarifications(&mut *conn, task.id).await?;
        let answers: Vec<(String, String)> = asked
            .iter()
            .map(|c| {
                (
                    c.question.clone(),
                    c.answer.clone().unwrap_or_else(|| "(no answer)".into()),
                )
            })
            .collect();
        let feedback = people::approvals(&mut *conn, task.id)
            .await?
            .into_iter()
            .rev()
            .find(|a| a.kind == WaitKind::PlanApproval.as_str() && a.decision == "reject")
            .and_then(|a| a.reason);
        let memory: Vec<String> = kiln_store::memory::lessons(&mut *conn, task.project_id)
            .await?
            .into_iter()
            .map(|l| l.lesson)
            .collect();
        drop(conn);
        let mut base = self.base(cx, job).await?;
        if let Some(b) = &mut base {
            self.summarize(agent, cx, job, b).await;
        }
        let stack = match (&base, self.catalog.get(&task.template)) {
            (_, Some(t)) => t.manifest.stack.clone(),
            (Some(b), None) => {
                kiln_learn::recipe(&task.project, &b.knowledge)
                    .manifest
                    .stack
            }
            (None, None) => "unknown".into(),
        };
        let outline = base.as_ref().map(|b| kiln_learn::outline(&b.knowledge));
        let may_ask = asked.is_empty() && feedback.is_none();
        let (system, user) = prompts::planner(&PlannerInput {
            project: &task.project,
            template: &task.template,
            stack: &stack,
            brief: &task.brief,
            memory: &memory,
            answers: &answers,
            feedback: feedback.as_deref(),
            may_ask,
            knowledge: outline.as_deref(),
        });
        let schema = kiln_llm::JsonSchema::new("plan", prompts::plan_schema());
        let reply: PlanReply = agent
            .ask_json(
                &agent.context(task, "plan"),
                &system,
                &user,
                &schema,
                |r: &PlanReply| r.validate(may_ask),
            )
            .await?;
        if !reply.questions.is_empty() {
            job.log
                .info(format!(
                    "the brief is ambiguous; asking {} clarifying questions",
                    reply.questions.len()
                ))
                .await;
            return Ok(Outcome::Questions(reply.questions));
        }
        job.log
            .info(format!(
                "planned epic {:?} with {} stories ({})",
                reply.epic,
                reply.stories.len(),
                agent.mode()
            ))
            .await;
        Ok(Outcome::Plan(Plan {
            epic: reply.epic,
            planner: agent.mode(),
            stories: reply.stories,
        }))
    }
}

impl Planner {
    /// For a change: the commit it starts from, recorded on the task, and what Kiln knows
    /// about the repository there (scanned now if no stage saw that commit yet).
    async fn base(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
    ) -> Result<Option<kiln_learn::Base>, HandlerError> {
        let task = &job.task;
        if task.kind != "change" {
            return Ok(None);
        }
        let repo = cx.repo_path(&task.project);
        let base = kiln_learn::task_base(&cx.db, &kiln_git::Git::new(), task, &repo)
            .await
            .map_err(learn_error)?;
        let k = &base.knowledge;
        job.log
            .info(format!(
                "changing {} from {}: {} stack, test command {}",
                task.project,
                &base.commit[..base.commit.len().min(12)],
                k.build_systems
                    .first()
                    .map(|b| b.name.as_str())
                    .unwrap_or("unknown"),
                k.commands
                    .test
                    .as_deref()
                    .map(|t| format!("`{t}`"))
                    .unwrap_or_else(|| "none found".into())
            ))
            .await;
        Ok(Some(base))
    }
}

/// README text a summary prompt may see.
const SUMMARY_README_CHARS: usize = 4000;

impl Planner {
    /// Replaces the deterministic outline of the base commit's knowledge with a short
    /// summary the model writes from the scan and the README, once per commit; stored, so
    /// the API and dashboard show it too. A failure keeps the outline and says so.
    async fn summarize(
        &self,
        agent: &Agent,
        cx: &Ctx,
        job: &Job<WorkItem>,
        base: &mut kiln_learn::Base,
    ) {
        let task = &job.task;
        if base.knowledge.summary_source != kiln_knowledge::SummarySource::Outline {
            return;
        }
        let git = kiln_git::Git::new();
        let repo = cx.repo_path(&task.project);
        let readme = git
            .show_file(&repo, &base.commit, "README.md")
            .await
            .ok()
            .flatten()
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .chars()
                    .take(SUMMARY_README_CHARS)
                    .collect::<String>()
            });
        let (system, user) = prompts::repository_summary(
            &task.project,
            &kiln_learn::outline(&base.knowledge),
            readme.as_deref(),
        );
        let reply = agent
            .chat(
                &agent.context(task, "plan"),
                &system,
                &[kiln_llm::Message::user(user)],
                None,
            )
            .await;
        let summary = match reply {
            Ok(r) if !r.content.trim().is_empty() => r.content,
            Ok(_) => {
                job.log
                    .warn("the model wrote an empty summary; keeping the outline")
                    .await;
                return;
            }
            Err(e) => {
                job.log
                    .warn(format!(
                        "no model-written summary ({}); keeping the outline",
                        kiln_runtime::harness::error_chain(&e)
                    ))
                    .await;
                return;
            }
        };
        // The stored scan gets the summary; settings given through the API still win.
        let Ok(Some(stored)) =
            kiln_store::knowledge::get(&cx.db, &task.project, Some(&base.commit)).await
        else {
            return;
        };
        let Ok(mut scanned) = serde_json::from_value::<kiln_knowledge::Knowledge>(stored.knowledge)
        else {
            return;
        };
        scanned.set_model_summary(&summary);
        base.knowledge.set_model_summary(&summary);
        if let Ok(json) = serde_json::to_value(&scanned)
            && let Err(e) =
                kiln_store::knowledge::replace(&cx.db, task.project_id, &base.commit, &json).await
        {
            tracing::warn!(error = %e, "model summary not stored");
        }
        job.log
            .info("the model wrote the repository's summary")
            .await;
    }
}

/// A project without code cannot be changed; everything else about reading it may pass.
pub fn learn_error(e: kiln_learn::Error) -> HandlerError {
    match e {
        kiln_learn::Error::NoCode(_) | kiln_learn::Error::Decode { .. } => {
            HandlerError::permanent("learning the project", &e)
        }
        _ => HandlerError::retryable("learning the project", &e),
    }
}

impl Handler for Planner {
    type Input = WorkItem;
    type Output = Outcome;

    fn binding(&self) -> Binding {
        Binding {
            name: "plan",
            stage: Stage::Plan,
            active_status: Some(TaskStatus::Planning),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Outcome, HandlerError> {
        let outcome = match &self.agent {
            Some(agent) => self.plan_with_model(agent, cx, job).await?,
            None => {
                self.base(cx, job).await?;
                let plan =
                    offline::plan(&job.task.project, &job.task.brief, self.config.max_stories);
                job.log
                    .info(format!(
                        "planned epic {:?} with {} stories (offline planner, no LLM)",
                        plan.epic,
                        plan.stories.len()
                    ))
                    .await;
                Outcome::Plan(plan)
            }
        };
        if let Outcome::Plan(plan) = &outcome {
            for (i, s) in plan.stories.iter().enumerate() {
                job.log.info(format!("story {}: {}", i + 1, s.title)).await;
            }
        }
        Ok(outcome)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        outcome: Outcome,
    ) -> Result<Next, HandlerError> {
        if let Some(agent) = &self.agent {
            kiln_store::tasks::set_llm_mode(&mut *tx, job.task.id, &agent.mode()).await?;
        }
        match outcome {
            Outcome::Questions(questions) => {
                people::ask(tx, job.task.id, &questions).await?;
                let n = questions.len();
                let park = Park {
                    kind: WaitKind::Clarification,
                    message: cx.work_message(&job.input),
                    detail: serde_json::json!({ "questions": questions }),
                };
                Ok(Next::wait(
                    format!("asked {n} clarifying questions"),
                    park,
                    format!("waiting for answers to {n} clarifying questions"),
                ))
            }
            Outcome::Plan(plan) => {
                let version = records::insert_plan(tx, job.task.id, &plan).await?;
                let codegen = cx.work_message(&WorkItem {
                    stage: Stage::Codegen as i32,
                    branch: job.task.branch.clone(),
                    ..job.input.clone()
                });
                let summary = format!(
                    "{} stories planned (plan version {version})",
                    plan.stories.len()
                );
                if TaskOptions::of(&job.task.options).approval.plan() {
                    let park = Park {
                        kind: WaitKind::PlanApproval,
                        message: codegen,
                        detail: serde_json::json!({ "plan_version": version }),
                    };
                    return Ok(Next::wait(
                        summary,
                        park,
                        "waiting for a person to approve the plan",
                    ));
                }
                Ok(Next::advance(summary, vec![codegen]))
            }
        }
    }
}

/// Runs the planner service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    agent: Option<Agent>,
    catalog: Catalog,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(
        base,
        "planner",
        Planner::new(config, agent, catalog),
        shutdown,
    )
    .await?;
    Ok(())
}
