//! Codegen service: turns a plan into commits on the task branch.
//!
//! Offline mode instantiates the task's stack template with the project name, brief and
//! stories rendered in as escaped data, and commits it on `kiln/<task-id>` in the project's
//! bare repository. A redelivered work item finds its commit by trailers instead of
//! committing twice.

use kiln_contracts::{IndexRequest, Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, CommitRecord};
use kiln_templates::{Catalog, RenderContext, Story};
use sqlx::PgConnection;

/// Codegen settings (`[codegen]`); offline mode needs none yet.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {}

pub struct Codegen {
    git: Git,
    catalog: Catalog,
}

impl Codegen {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            git: Git::new(),
            catalog,
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
        let round = job.input.round.to_string();
        let task_id = task.id.to_string();
        let trailers = [
            ("Kiln-Task", task_id.as_str()),
            ("Kiln-Round", round.as_str()),
        ];
        self.git
            .ensure_bare(&repo)
            .await
            .map_err(|e| classify_git("project repository", e))?;

        let existing = self
            .git
            .find_commit_by_trailers(&repo, &task.branch, &trailers)
            .await
            .map_err(|e| classify_git("looking for an earlier commit", e))?;
        let (sha, message) = match existing {
            Some(sha) => {
                job.log
                    .info(format!("round {round} was already committed as {sha} by an earlier delivery; reusing it"))
                    .await;
                (sha, String::new())
            }
            None => self.scaffold(cx, job, &repo, &trailers).await?,
        };
        let parent = self
            .git
            .resolve_commit(&repo, &format!("{sha}^"))
            .await
            .map_err(|e| classify_git("parent commit", e))?;
        let stat = self
            .git
            .diff_stat(&repo, parent.as_deref(), &sha)
            .await
            .map_err(|e| classify_git("diff stat", e))?;
        Ok(CommitRecord {
            round: job.input.round as i32,
            sha,
            branch: task.branch.clone(),
            message,
            files_changed: stat.files_changed as i32,
            insertions: stat.insertions as i32,
            deletions: stat.deletions as i32,
            protected_paths: vec![],
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
                "committed {} ({} files, +{} -{})",
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
    async fn scaffold(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        repo: &std::path::Path,
        trailers: &[(&str, &str)],
    ) -> Result<(String, String), HandlerError> {
        let task = &job.task;
        let mut conn = cx.db.acquire().await?;
        let plan = records::get_plan(&mut conn, task.id)
            .await?
            .ok_or_else(|| HandlerError::Permanent("no plan recorded for this task".into()))?;
        drop(conn);
        let template = self.catalog.get(&task.template).ok_or_else(|| {
            HandlerError::Permanent(format!("template {:?} is not installed", task.template))
        })?;
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
            task_id: task.id.to_string(),
        };
        let files = template
            .render(&context)
            .map_err(|e| HandlerError::permanent("rendering the template", &e))?;
        job.log
            .info(format!(
                "rendering template {} ({} files) with {} stories (offline codegen, no LLM)",
                template.name(),
                files.len(),
                plan.stories.len()
            ))
            .await;

        let scratch = cx
            .scratch(&task.id.to_string())
            .map_err(|e| HandlerError::retryable("scratch directory", &e))?;
        let wd = self
            .git
            .checkout_branch(repo, &task.branch, scratch.path())
            .await
            .map_err(|e| classify_git("checking out the task branch", e))?;
        for f in &files {
            let path = f.path.to_string_lossy();
            wd.write_file(&path, &f.contents, f.executable)
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
        let message = kiln_git::with_trailers(&subject, trailers)
            .map_err(|e| HandlerError::permanent("commit message", &e))?;
        let sha = match wd
            .commit_all(&message)
            .await
            .map_err(|e| classify_git("committing", e))?
        {
            Some(sha) => sha,
            None => wd
                .head()
                .await
                .map_err(|e| classify_git("reading HEAD", e))?
                .ok_or_else(|| HandlerError::Permanent("the template rendered no files".into()))?,
        };
        wd.push(&task.branch)
            .await
            .map_err(|e| classify_git("pushing the task branch", e))?;
        job.log
            .info(format!("committed {sha} on {}", task.branch))
            .await;
        Ok((sha, message))
    }
}

/// Runs the codegen service until `shutdown`.
pub async fn run(
    base: kiln_runtime::Config,
    _config: Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    kiln_runtime::serve_stage(base, "codegen", Codegen::new(catalog), shutdown).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::Error),
    #[error("stack templates")]
    Templates(#[from] kiln_templates::Error),
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
