//! Codegen service: turns a plan into commits on the task branch.
//!
//! Round 0 starts from the stack template's scaffold (a new app) or from the project's
//! deployed code (a revision). Offline mode stops at the scaffold, with the project name,
//! brief and stories rendered in as escaped data. With a model, each story is one step and
//! one commit; fix rounds (round 1..) answer the tester's structured errors. Every commit
//! carries `Kiln-Task`, `Kiln-Round` and `Kiln-Step` trailers: a redelivered work item finds
//! the steps already made and never commits or pays for them twice.

pub mod llm;

use kiln_agents::Agent;
use kiln_contracts::{IndexRequest, Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, CommitRecord};
use kiln_templates::{Catalog, RenderContext, Story};
use sqlx::PgConnection;

/// Codegen settings (`[codegen]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Files larger than this are not shown to the model.
    pub max_file_bytes: u64,
    /// Characters of repository files in one prompt.
    pub max_prompt_chars: usize,
    /// Model replies tried per step before its edit blocks count as failed.
    pub edit_attempts: u32,
    /// Paths that change only with a person's approval (glob patterns).
    pub protected_paths: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_file_bytes: 100_000,
            max_prompt_chars: 120_000,
            edit_attempts: 3,
            protected_paths: kiln_changes::paths::DEFAULT_PROTECTED
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }
    }
}

pub struct Codegen {
    git: Git,
    catalog: Catalog,
    agent: Option<Agent>,
    config: Config,
}

impl Codegen {
    pub fn new(catalog: Catalog, agent: Option<Agent>, config: Config) -> Self {
        Self {
            git: Git::new(),
            catalog,
            agent,
            config,
        }
    }
}

/// Git failures caused by what we asked for are permanent; the rest (I/O, a busy repo) retry.
pub fn classify_git(context: &str, e: kiln_git::Error) -> HandlerError {
    match e {
        kiln_git::Error::UnsafePath { .. } | kiln_git::Error::InvalidInput { .. } => {
            HandlerError::permanent(context, &e)
        }
        _ => HandlerError::retryable(context, &e),
    }
}

/// A display title from a project name: `pizza-dash` -> `Pizza Dash`.
pub fn project_title(project: &str) -> String {
    project
        .split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trailers identifying one step of one round of one task.
fn trailers<'a>(task: &'a str, round: &'a str, step: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("Kiln-Task", task),
        ("Kiln-Round", round),
        ("Kiln-Step", step),
    ]
}

impl Handler for Codegen {
    type Input = WorkItem;
    type Output = CommitRecord;

    fn binding(&self) -> Binding {
        Binding {
            name: "codegen",
            stage: Stage::Codegen,
            active_status: Some(TaskStatus::Generating),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<CommitRecord, HandlerError> {
        let task = &job.task;
        let repo = cx.repo_path(&task.project);
        let round = job.input.round;
        self.git
            .ensure_bare(&repo)
            .await
            .map_err(|e| classify_git("project repository", e))?;
        let change = if task.kind == "change" {
            Some(
                kiln_learn::task_base(&cx.db, &self.git, task, &repo)
                    .await
                    .map_err(|e| match e {
                        kiln_learn::Error::NoCode(_) => {
                            HandlerError::permanent("learning the project", &e)
                        }
                        _ => HandlerError::retryable("learning the project", &e),
                    })?,
            )
        } else {
            None
        };
        // An attached project has no template: its recipe comes from what Kiln learned.
        let template = match (self.catalog.get(&task.template), &change) {
            (Some(t), _) => t.clone(),
            (None, Some(base)) => kiln_learn::recipe(&task.project, &base.knowledge),
            (None, None) => {
                return Err(HandlerError::Permanent(format!(
                    "template {:?} is not installed",
                    task.template
                )));
            }
        };
        let template = &template;
        let mut conn = cx.db.acquire().await?;
        let plan = records::get_plan(&mut conn, task.id)
            .await?
            .ok_or_else(|| HandlerError::Permanent("no plan recorded for this task".into()))?;
        let earlier = records::commits(&mut *conn, task.id).await?;
        drop(conn);

        let base = if let (0, Some(change)) = (round, &change) {
            Some(change.commit.clone())
        } else if round == 0 {
            self.start(cx, job, &repo, template, &plan).await?
        } else {
            earlier
                .iter()
                .find(|c| c.round == round as i32 - 1)
                .map(|c| c.sha.clone())
        };
        match (&self.agent, round) {
            (None, 0) if change.is_some() => {
                self.offline_change(cx, job, &repo).await?;
            }
            (None, 0) => {}
            (None, _) => {
                return Err(HandlerError::Permanent(
                    "fix rounds need a model; offline mode does not self-correct".into(),
                ));
            }
            (Some(agent), 0) => {
                for (i, story) in plan.stories.iter().enumerate() {
                    let step = format!("story-{}", i + 1);
                    let message = format!("kiln: story {}: {}", i + 1, story.title);
                    let llm_step = llm::Step::Story {
                        index: i,
                        total: plan.stories.len(),
                        epic: &plan.epic,
                        story,
                    };
                    self.model_step(
                        agent,
                        cx,
                        job,
                        &repo,
                        &template.manifest.stack,
                        &step,
                        &message,
                        llm_step,
                    )
                    .await?;
                }
            }
            (Some(agent), r) => {
                let mut conn = cx.db.acquire().await?;
                let errors: Vec<_> = records::test_errors(&mut *conn, task.id, Some(r as i32 - 1))
                    .await?
                    .into_iter()
                    .map(|(_, e)| e)
                    .collect();
                let output_tail = records::test_runs(&mut conn, task.id)
                    .await?
                    .into_iter()
                    .find(|t| t.round == r as i32 - 1)
                    .and_then(|t| t.commands.last().map(|c| c.output_tail.clone()))
                    .unwrap_or_default();
                drop(conn);
                let step = llm::Step::Fix {
                    round: r,
                    errors: &errors,
                    output_tail: &output_tail,
                };
                let message = format!("kiln: fix round {r}");
                self.model_step(
                    agent,
                    cx,
                    job,
                    &repo,
                    &template.manifest.stack,
                    "fix",
                    &message,
                    step,
                )
                .await?;
            }
        }

        let sha = self
            .git
            .branch_head(&repo, &task.branch)
            .await
            .map_err(|e| classify_git("reading the task branch", e))?
            .ok_or_else(|| HandlerError::Permanent("the task branch has no commits".into()))?;
        let stat = self
            .git
            .diff_stat(&repo, base.as_deref(), &sha)
            .await
            .map_err(|e| classify_git("diff stat", e))?;
        // An attached project adds its own protected paths, and its project file is
        // protected too: a change must not choose the commands that test it.
        let mut patterns = self.config.protected_paths.clone();
        if let Some(change) = &change {
            patterns.push(kiln_knowledge::PROJECT_FILE.to_owned());
            patterns.extend(change.knowledge.protected_paths.iter().cloned());
        }
        let protected_paths: Vec<String> = stat
            .files
            .iter()
            .map(|f| f.path.clone())
            .filter(|p| kiln_changes::paths::is_protected(p, &patterns))
            .collect();
        if !protected_paths.is_empty() {
            job.log
                .warn(format!(
                    "round {round} changed protected paths: {}",
                    protected_paths.join(", ")
                ))
                .await;
        }
        Ok(CommitRecord {
            round: round as i32,
            sha,
            branch: task.branch.clone(),
            message: String::new(),
            files_changed: stat.files_changed as i32,
            insertions: stat.insertions as i32,
            deletions: stat.deletions as i32,
            protected_paths,
        })
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        commit: CommitRecord,
    ) -> Result<Next, HandlerError> {
        records::insert_commit(&mut *tx, job.task.id, &commit).await?;
        let test = WorkItem {
            stage: Stage::Test as i32,
            commit: commit.sha.clone(),
            branch: commit.branch.clone(),
            ..job.input.clone()
        };
        let index = IndexRequest {
            project: job.task.project.clone(),
            commit: commit.sha.clone(),
            branch: commit.branch.clone(),
            task_id: job.task.id.to_string(),
        };
        Ok(Next::advance(
            format!(
                "round {} at {} ({} files, +{} -{})",
                commit.round,
                &commit.sha[..commit.sha.len().min(12)],
                commit.files_changed,
                commit.insertions,
                commit.deletions
            ),
            vec![cx.work_message(&test), cx.index_message(&index)],
        ))
    }
}

impl Codegen {
    /// Round 0's starting point: the scaffold commit of a new app, or the project's deployed
    /// code for a revision. Returns the commit the round's diff is measured against.
    async fn start(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        repo: &std::path::Path,
        template: &kiln_templates::Template,
        plan: &records::Plan,
    ) -> Result<Option<String>, HandlerError> {
        let task = &job.task;
        if task.kind == "revision" {
            let main = self
                .git
                .branch_head(repo, kiln_git::BASE_BRANCH)
                .await
                .map_err(|e| classify_git("reading the deployed code", e))?
                .ok_or_else(|| {
                    HandlerError::Permanent("the project has no deployed code to revise".into())
                })?;
            kiln_store::tasks::set_base_commit(&cx.db, task.id, &main).await?;
            return Ok(Some(task.base_commit.clone().unwrap_or(main)));
        }
        let task_id = task.id.to_string();
        let t = trailers(&task_id, "0", "scaffold");
        if let Some(sha) = self
            .git
            .find_commit_by_trailers(repo, &task.branch, &t)
            .await
            .map_err(|e| classify_git("looking for the scaffold", e))?
        {
            job.log
                .info(format!(
                    "scaffold {sha} was committed by an earlier delivery"
                ))
                .await;
            return Ok(None);
        }
        let context = RenderContext {
            project: task.project.clone(),
            title: project_title(&task.project),
            brief: task.brief.clone(),
            epic: plan.epic.clone(),
            stories: plan
                .stories
                .iter()
                .map(|s| Story {
                    title: s.title.clone(),
                    description: s.description.clone(),
                    acceptance: s.acceptance.clone(),
                })
                .collect(),
            task_id: task_id.clone(),
        };
        let files = template
            .render(&context)
            .map_err(|e| HandlerError::permanent("rendering the template", &e))?;
        job.log
            .info(format!(
                "rendering template {} ({} files) with {} stories{}",
                template.name(),
                files.len(),
                plan.stories.len(),
                if self.agent.is_none() {
                    " (offline codegen, no LLM)"
                } else {
                    ""
                }
            ))
            .await;
        let (_scratch, wd) = self.checkout(cx, task, repo).await?;
        for f in &files {
            wd.write_file(&f.path.to_string_lossy(), &f.contents, f.executable)
                .await
                .map_err(|e| classify_git("writing generated files", e))?;
        }
        let stories: String = plan
            .stories
            .iter()
            .map(|s| format!("- {}\n", s.title))
            .collect();
        let subject = format!(
            "kiln: scaffold {} from {}\n\nStories:\n{stories}",
            task.project,
            template.name()
        );
        self.commit_step(cx, &task.project, &wd, &task.branch, &subject, &t)
            .await?;
        Ok(None)
    }

    /// Offline, a change edits nothing: one empty, marked commit on the task branch, so the
    /// project's own tests run on its current code and the gate can say no change was made.
    async fn offline_change(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        repo: &std::path::Path,
    ) -> Result<(), HandlerError> {
        let task = &job.task;
        let task_id = task.id.to_string();
        let t = trailers(&task_id, "0", "offline");
        if self
            .git
            .find_commit_by_trailers(repo, &task.branch, &t)
            .await
            .map_err(|e| classify_git("looking for an earlier step", e))?
            .is_some()
        {
            return Ok(());
        }
        job.log
            .warn(
                "offline mode: no model to edit an existing repository; nothing is changed, \
                 and the project's own tests run on its current code",
            )
            .await;
        let (_scratch, wd) = self.checkout(cx, task, repo).await?;
        self.commit_step(
            cx,
            &task.project,
            &wd,
            &task.branch,
            "kiln: offline mode, no change",
            &t,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn model_step(
        &self,
        agent: &Agent,
        cx: &Ctx,
        job: &Job<WorkItem>,
        repo: &std::path::Path,
        stack: &str,
        step_name: &str,
        message: &str,
        step: llm::Step<'_>,
    ) -> Result<(), HandlerError> {
        let task = &job.task;
        let task_id = task.id.to_string();
        let round = job.input.round.to_string();
        let t = trailers(&task_id, &round, step_name);
        if self
            .git
            .find_commit_by_trailers(repo, &task.branch, &t)
            .await
            .map_err(|e| classify_git("looking for an earlier step", e))?
            .is_some()
        {
            job.log
                .info(format!(
                    "{message}: already committed by an earlier delivery"
                ))
                .await;
            return Ok(());
        }
        job.log.info(format!("{message} ({})", agent.mode())).await;
        let (_scratch, wd) = self.checkout(cx, task, repo).await?;
        llm::run_step(agent, &self.config, cx, job, stack, &wd, step).await?;
        self.commit_step(cx, &task.project, &wd, &task.branch, message, &t)
            .await
    }

    /// A fresh working copy of the task branch, removed when the guard drops.
    async fn checkout(
        &self,
        cx: &Ctx,
        task: &kiln_store::tasks::Task,
        repo: &std::path::Path,
    ) -> Result<(kiln_runtime::Scratch, kiln_git::Workdir), HandlerError> {
        let scratch = cx
            .scratch(&task.id.to_string())
            .map_err(|e| HandlerError::retryable("scratch directory", &e))?;
        let wd = self
            .git
            .checkout_branch(repo, &task.branch, scratch.path())
            .await
            .map_err(|e| classify_git("checking out the task branch", e))?;
        Ok((scratch, wd))
    }

    async fn commit_step(
        &self,
        cx: &Ctx,
        project: &str,
        wd: &kiln_git::Workdir,
        branch: &str,
        message: &str,
        trailers: &[(&str, &str)],
    ) -> Result<(), HandlerError> {
        let message = kiln_git::with_trailers(message, trailers)
            .map_err(|e| HandlerError::permanent("commit message", &e))?;
        // A step that changed nothing still gets its (empty) commit: the trailers mark it done.
        if wd
            .commit_all(&message)
            .await
            .map_err(|e| classify_git("committing", e))?
            .is_none()
        {
            wd.commit_empty(&message)
                .await
                .map_err(|e| classify_git("committing an empty step", e))?;
        }
        // The kill switch: a pause set while this step worked stops the push; the step runs
        // again from its start when the pause is lifted.
        cx.pause_point(Some(project)).await?;
        wd.push(branch)
            .await
            .map_err(|e| classify_git("pushing the task branch", e))
    }
}

/// Runs the codegen service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    agent: Option<Agent>,
    catalog: Catalog,
    shutdown: Shutdown,
) -> Result<(), kiln_runtime::Error> {
    kiln_runtime::serve_stage(
        base,
        "codegen",
        Codegen::new(catalog, agent, config),
        shutdown,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_project_names() {
        assert_eq!(project_title("pizzadash"), "Pizzadash");
        assert_eq!(project_title("pizza-dash-2"), "Pizza Dash 2");
    }
}
