//! Deployer service: builds the approved commit, puts it live on a deploy target, verifies
//! that the live app is the one deployed (health, build stamp, expected content) and records
//! the deployment.
//!
//! The local target (the embedded default) serves static sites and supervised app processes
//! behind this service's own HTTP listener; apps that were live come back when the deployer
//! restarts. Deploys are idempotent per (app, commit): a redelivered message finds the release
//! already live and only verifies it, so a task is never deployed twice.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kiln_contracts::{Stage, WorkItem};
use kiln_git::Git;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Runtime, Shutdown};
use kiln_store::TaskStatus;
use kiln_store::records::{self, Deployment};
use kiln_targets::{DeploySpec, Deployed, ServeKind, Verification};
use kiln_targets::{LocalConfig, LocalTarget};
use kiln_templates::{Catalog, Template};
use kiln_tester::Phase;
use sqlx::PgConnection;
use targets::{AnyTarget, Targets};
use uuid::Uuid;

mod github;
mod remove;
mod targets;

/// Deployer settings (`[deployer]`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listener of the app proxy (and this service's health and metrics).
    pub http: SocketAddr,
    /// URL people reach the proxy at; defaults to `http://<bound address>`.
    pub public_url: Option<String>,
    /// Seconds a started app may take to accept connections.
    pub readiness_timeout_secs: u64,
    /// Limits of the install and build commands run before deploying.
    pub build: kiln_tester::Config,
    /// Where per-app databases are created (`[deployer.databases]`).
    pub databases: kiln_appdb::Config,
    /// Deploy targets besides `local`, by name (`[deployer.targets.<name>]`); a project deploys
    /// to the one its tasks name.
    pub targets: std::collections::BTreeMap<String, targets::TargetConfig>,
    /// The `[github]` section, set by the binary: approved changes of GitHub-hosted projects
    /// are merged through their pull requests.
    #[serde(skip)]
    pub github: kiln_github::Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: SocketAddr::from(([127, 0, 0, 1], 8081)),
            public_url: None,
            readiness_timeout_secs: 20,
            build: kiln_tester::Config::default(),
            databases: kiln_appdb::Config::default(),
            targets: Default::default(),
            github: kiln_github::Config::default(),
        }
    }
}

/// What the deploy stage did: a release (built, deployed, verified or rolled back), or, for
/// a change to an attached project without a deploy recipe, the approved commit merged into
/// the project's main branch with nothing deployed.
pub enum Outcome {
    Released(Release),
    Merged {
        commit: String,
        why: String,
    },
    /// A GitHub project's approved change whose merge a write guard withheld.
    NotMerged {
        why: String,
    },
}

/// What one deploy produced.
pub struct Release {
    /// The commit released: the approved one, or its merge commit on GitHub.
    commit: String,
    target: String,
    deployed: Deployed,
    verification: Verification,
    /// When verification failed: the previous verified release made live again, or why that
    /// was not possible.
    rollback: Option<Result<Rollback, String>>,
}

/// What a release is built and served by: a catalog template, or for a change to an
/// attached project the recipe learned from its `[deploy]` section.
struct Recipe<'a> {
    template: &'a Template,
    attached: bool,
}

/// Writes `commit` where a static attached project's stamp is served, inside the release
/// checkout's served directory (the repository itself is never touched). The checkout is
/// the project's own content: a served directory that resolves outside it is refused, and
/// a `__kiln` or `__kiln/version` that is not a plain directory and file is replaced, so a
/// planted symlink cannot aim the write elsewhere.
fn stamp_static_site(ws: &Path, template: &Template, commit: &str) -> Result<(), String> {
    let dir = template
        .manifest
        .serve
        .static_dir
        .as_deref()
        .unwrap_or(Path::new("."));
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    let root = ws.canonicalize().map_err(|e| io("resolving", ws, e))?;
    let served = ws.join(dir);
    std::fs::create_dir_all(&served).map_err(|e| io("creating", &served, e))?;
    let served = served
        .canonicalize()
        .map_err(|e| io("resolving", &served, e))?;
    if !served.starts_with(&root) {
        return Err(format!(
            "the served directory {} leads outside the checkout",
            dir.display()
        ));
    }
    let stamp = Path::new(kiln_learn::STAMP_PATH.trim_start_matches('/'));
    let mut at = served;
    let parts: Vec<_> = stamp.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let last = i + 1 == parts.len();
        match std::fs::symlink_metadata(&at) {
            Ok(m) if !last && m.is_dir() => continue,
            Ok(m) if m.is_dir() => {
                std::fs::remove_dir_all(&at).map_err(|e| io("replacing", &at, e))?
            }
            Ok(_) => std::fs::remove_file(&at).map_err(|e| io("replacing", &at, e))?,
            Err(_) => {}
        }
        if !last {
            std::fs::create_dir(&at).map_err(|e| io("creating", &at, e))?;
        }
    }
    std::fs::write(&at, commit).map_err(|e| io("writing", &at, e))
}

/// The previous verified release, live again after a failed verification.
pub struct Rollback {
    commit: String,
    deployed: Deployed,
    verification: Verification,
}

pub struct Deployer {
    git: Git,
    /// Publishes and merges pull requests of GitHub-hosted projects.
    github: Option<kiln_github::publish::Publisher>,
    sandbox: Result<kiln_sandbox::Sandbox, String>,
    catalog: Catalog,
    targets: Targets,
    databases: kiln_appdb::AppDatabases,
    config: Config,
}

/// What the live page must show: the project name (always rendered, always escape-safe) and
/// story titles safe to look for verbatim in HTML (no characters escaping would change).
fn expected_texts(project: &str, stories: &[records::Story]) -> Vec<String> {
    let safe = |t: &String| {
        t.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == ',')
    };
    std::iter::once(project.to_owned())
        .chain(stories.iter().map(|s| s.title.clone()).filter(safe).take(3))
        .collect()
}

impl Deployer {
    async fn spec(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        recipe: &Recipe<'_>,
        source_dir: std::path::PathBuf,
        env: Vec<(String, String)>,
    ) -> Result<DeploySpec, HandlerError> {
        let task = &job.task;
        let template = recipe.template;
        let serve = &template.manifest.serve;
        let kind = match serve.kind {
            kiln_templates::ServeKind::Static => ServeKind::Static {
                dir: serve.static_dir.clone().unwrap_or_default(),
            },
            kiln_templates::ServeKind::Process => ServeKind::Process {
                run: serve.run.clone().unwrap_or_default(),
                env,
            },
        };
        let mut conn = cx.db.acquire().await?;
        let plan = records::get_plan(&mut conn, task.id).await?;
        Ok(DeploySpec {
            app: task.project.clone(),
            commit: job.input.commit.clone(),
            source_dir,
            kind,
            health_path: serve.health_path.clone(),
            version_path: serve.version_path.clone(),
            // Kiln wrote a scaffolded app's page from the plan; what an attached project's
            // page shows is its own business, so health and the stamp are what count.
            expect_text: if recipe.attached {
                vec![]
            } else {
                expected_texts(
                    &task.project,
                    plan.map(|p| p.stories).as_deref().unwrap_or_default(),
                )
            },
        })
    }
}

impl Handler for Deployer {
    type Input = WorkItem;
    type Output = Outcome;

    fn binding(&self) -> Binding {
        Binding {
            name: "deploy",
            stage: Stage::Deploy,
            active_status: Some(TaskStatus::Deploying),
            skip_finished: true,
        }
    }

    async fn work(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Outcome, HandlerError> {
        let task = &job.task;
        if let Some(template) = self.catalog.get(&task.template) {
            let recipe = Recipe {
                template,
                attached: false,
            };
            return self.release(cx, job, &recipe).await.map(Outcome::Released);
        }
        if task.kind != "change" {
            return Err(HandlerError::Permanent(format!(
                "template {:?} is not installed",
                task.template
            )));
        }
        // An attached project deploys by the `[deploy]` recipe of the commit the change
        // started from (a change cannot rewrite it: the project file is protected).
        let repo = cx.repo_path(&task.project);
        let base = kiln_learn::task_base(&cx.db, &self.git, task, &repo)
            .await
            .map_err(|e| HandlerError::retryable("learning the project", &e))?;
        // A GitHub project merges through its pull request first, then deploys the merge.
        let merged_job;
        let job = match github::hosted(cx, &task.project).await? {
            None => job,
            Some(hosted) => match github::merge(cx, job, self.github.as_ref(), &hosted).await? {
                github::Merging::Withheld(why) => return Ok(Outcome::NotMerged { why }),
                github::Merging::Merged { sha, number } => {
                    if base.knowledge.deploy.is_none() {
                        return Ok(Outcome::Merged {
                            commit: sha,
                            why: format!(
                                "pull request #{number} of {hosted} merged on GitHub; the project has no deploy recipe ([deploy] in .kiln/project.toml), so nothing was deployed"
                            ),
                        });
                    }
                    merged_job = Job {
                        input: WorkItem {
                            commit: sha,
                            ..job.input.clone()
                        },
                        task: job.task.clone(),
                        attempt: job.attempt,
                        message_id: job.message_id.clone(),
                        log: job.log.clone(),
                    };
                    &merged_job
                }
            },
        };
        if base.knowledge.deploy.is_none() {
            return self.merge(cx, job).await;
        }
        let template = kiln_learn::recipe(&task.project, &base.knowledge);
        let recipe = Recipe {
            template: &template,
            attached: true,
        };
        self.release(cx, job, &recipe).await.map(Outcome::Released)
    }

    async fn commit(
        &self,
        tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        out: Outcome,
    ) -> Result<Next, HandlerError> {
        match out {
            Outcome::Released(release) => self.record_release(tx, cx, job, release).await,
            Outcome::Merged { commit, why } => Ok(Next {
                status: Some((TaskStatus::Merged, Some(why.clone()))),
                ..Next::advance(
                    format!("{} merged into main; {why}", short(&commit)),
                    vec![],
                )
            }),
            Outcome::NotMerged { why } => Ok(Next {
                status: Some((TaskStatus::Blocked, Some(why.clone()))),
                ..Next::advance(why, vec![])
            }),
        }
    }
}

impl Deployer {
    /// Refuses, before anything is built, a change whose base is no longer main's head.
    async fn can_fast_forward(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<(), HandlerError> {
        let repo = cx.repo_path(&job.task.project);
        let head = self
            .git
            .branch_head(&repo, kiln_git::BASE_BRANCH)
            .await
            .map_err(|e| HandlerError::retryable("reading main", &e))?;
        let ahead = match &head {
            Some(h) => self
                .git
                .is_ancestor(&repo, h, &job.input.commit)
                .await
                .map_err(|e| HandlerError::retryable("comparing with main", &e))?,
            None => true,
        };
        if ahead {
            return Ok(());
        }
        Err(HandlerError::Permanent(format!(
            "main moved on since this change started; {} was not deployed or merged (rebase \
             the task branch {} onto main, or start a new change)",
            short(&job.input.commit),
            job.task.branch
        )))
    }

    /// An attached project's approved change goes onto its main branch, by fast-forward
    /// only: if main moved on meanwhile, a person must decide, nothing is overwritten.
    async fn merge(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<Outcome, HandlerError> {
        let commit = &job.input.commit;
        let repo = cx.repo_path(&job.task.project);
        cx.pause_point(Some(&job.task.project)).await?;
        let merged = self
            .git
            .fast_forward(&repo, kiln_git::BASE_BRANCH, commit)
            .await
            .map_err(|e| HandlerError::retryable("merging into main", &e))?;
        if !merged {
            return Err(HandlerError::Permanent(format!(
                "main moved on since this change started; {} was not merged (rebase the task \
                 branch {} onto main, or start a new change)",
                short(commit),
                job.task.branch
            )));
        }
        let why = "the project has no deploy recipe ([deploy] in .kiln/project.toml), so nothing was deployed"
            .to_owned();
        job.log
            .info(format!("{} merged into main; {why}", short(commit)))
            .await;
        Ok(Outcome::Merged {
            commit: commit.clone(),
            why,
        })
    }

    async fn release(
        &self,
        cx: &Ctx,
        job: &Job<WorkItem>,
        recipe: &Recipe<'_>,
    ) -> Result<Release, HandlerError> {
        let task = &job.task;
        let commit = &job.input.commit;
        let short = &commit[..commit.len().min(12)];
        let target = self.target_of(cx, job).await?;
        let t = recipe.template;
        if !t.manifest.deploy.iter().any(|k| k == target.kind()) {
            return Err(HandlerError::Permanent(format!(
                "{} deploys to {} targets, not to {} (target {:?})",
                if recipe.attached {
                    format!("the [deploy] recipe of {}", t.name())
                } else {
                    format!("template {}", t.name())
                },
                t.manifest.deploy.join(", "),
                target.kind(),
                target.name()
            )));
        }
        // What a failed verification rolls back to: the last deployment that verified.
        let previous = records::live_deployment(&cx.db, &task.project)
            .await?
            .filter(|d| &d.commit_sha != commit && d.target == target.name());
        // Remote state first: a redelivered message must not build and deploy again.
        let already = target
            .current(&task.project)
            .await
            .filter(|(live, _)| live == commit);
        let (spec, deployed, _scratch) = match already {
            Some((_, deployed)) => {
                job.log
                    .info(format!(
                        "{short} is already live at {}; verifying it again",
                        deployed.url
                    ))
                    .await;
                let spec = self
                    .spec(cx, job, recipe, deployed.dir.clone(), vec![])
                    .await?;
                (spec, deployed, None)
            }
            None => {
                if recipe.attached {
                    self.can_fast_forward(cx, job).await?;
                }
                let template = recipe.template;
                let scratch = cx
                    .scratch(&task.id.to_string())
                    .map_err(|e| HandlerError::retryable("scratch directory", &e))?;
                let ws = scratch.path().join("release");
                self.git
                    .checkout_commit(&cx.repo_path(&task.project), commit, &ws)
                    .await
                    .map_err(|e| HandlerError::retryable("checking out the approved commit", &e))?;
                job.log.info(format!("building {short} for release")).await;
                let cmds = kiln_tester::commands(template, &[Phase::Install, Phase::Build]);
                let env = kiln_tester::command_env(
                    &cx.cache_dir,
                    template,
                    &format!("/apps/{}", task.project),
                    commit,
                )
                .map_err(|e| HandlerError::retryable("creating the dependency caches", &e))?;
                let sandbox = self.sandbox.as_ref().map_err(|why| {
                    HandlerError::Permanent(format!(
                        "refusing to build generated code for release: {why}"
                    ))
                })?;
                let results = kiln_tester::run_commands(
                    sandbox,
                    &self.config.build,
                    &ws,
                    &env,
                    &cmds,
                    &job.log,
                )
                .await
                .map_err(|e| HandlerError::retryable("running a build command", &e))?;
                if let Some(failed) = results
                    .iter()
                    .find(|r| r.exit_code != Some(0) || r.timed_out || r.limit_hit.is_some())
                {
                    return Err(HandlerError::Permanent(format!(
                        "release build failed: `{}` exited with {:?}{}: {}",
                        failed.command,
                        failed.exit_code,
                        failed
                            .limit_hit
                            .as_ref()
                            .map(|l| format!(" (stopped by the {l})"))
                            .unwrap_or_default(),
                        failed.output_tail.lines().last().unwrap_or_default()
                    )));
                }
                let mut app_env = vec![("KILN_BUILD_SHA".to_owned(), commit.clone())];
                if let Some(db) = &template.manifest.database {
                    app_env.push(("DATABASE_URL".into(), self.database(job, &ws, db).await?));
                }
                if recipe.attached
                    && let kiln_templates::ServeKind::Static = template.manifest.serve.kind
                {
                    stamp_static_site(&ws, template, commit).map_err(|e| {
                        HandlerError::Permanent(format!("writing the build stamp: {e}"))
                    })?;
                }
                let spec = self.spec(cx, job, recipe, ws, app_env).await?;
                // The kill switch, checked last: a pause during the build stops the deploy.
                cx.pause_point(Some(&job.task.project)).await?;
                let deployed = target.deploy(&spec).await.map_err(|e| {
                    HandlerError::Permanent(format!(
                        "deploy to the {} target failed: {}",
                        target.name(),
                        kiln_runtime::harness::error_chain(&e)
                    ))
                })?;
                job.log
                    .info(format!("{short} is live at {}", deployed.url))
                    .await;
                (spec, deployed, Some(scratch))
            }
        };
        cx.progress_status(
            task.id,
            TaskStatus::Verifying,
            Stage::Deploy,
            "verifying the live app",
        )
        .await?;
        let verification = target.verify(&spec, &deployed).await;
        log_checks(job, "verify", &verification).await;
        let mut rollback = None;
        if verification.ok && recipe.attached {
            // An attached project's main moves by fast-forward only, checked before the
            // deploy too; a push in between is reported, never overwritten.
            let merged = self
                .git
                .fast_forward(&cx.repo_path(&task.project), kiln_git::BASE_BRANCH, commit)
                .await
                .map_err(|e| HandlerError::retryable("merging into main", &e))?;
            if !merged {
                job.log
                    .warn(format!(
                        "{short} is live, but main moved on while it deployed, so main was \
                         not moved to it"
                    ))
                    .await;
            }
        } else if verification.ok {
            // `main` records what is live: revisions start from it.
            self.git
                .set_branch(&cx.repo_path(&task.project), kiln_git::BASE_BRANCH, commit)
                .await
                .map_err(|e| {
                    HandlerError::retryable("recording the deployed commit on main", &e)
                })?;
        } else if let Some(prev) = previous {
            rollback = Some(self.roll_back(job, target, &spec, &prev).await);
        } else {
            // Nothing verified to go back to: a broken app must not stay reachable.
            job.log
                .warn("verification failed and there is no earlier verified release; taking the app offline")
                .await;
            if let Err(e) = target.stop(&task.project).await {
                job.log
                    .error(format!(
                        "could not take the app offline: {}",
                        kiln_runtime::harness::error_chain(&e)
                    ))
                    .await;
            }
        }
        Ok(Release {
            commit: commit.clone(),
            target: target.name().to_owned(),
            deployed,
            verification,
            rollback,
        })
    }

    async fn record_release(
        &self,
        tx: &mut PgConnection,
        _cx: &Ctx,
        job: &Job<WorkItem>,
        out: Release,
    ) -> Result<Next, HandlerError> {
        let ok = out.verification.ok;
        let record =
            |commit: &str, status: &str, deployed: &Deployed, v: &Verification| Deployment {
                id: Uuid::now_v7(),
                task_id: job.task.id,
                project: job.task.project.clone(),
                commit_sha: commit.to_owned(),
                target: out.target.clone(),
                url: deployed.url.clone(),
                status: status.into(),
                verification: serde_json::to_value(v).unwrap_or_default(),
                created_at: time::OffsetDateTime::now_utc(),
            };
        if ok {
            let d = record(&out.commit, "live", &out.deployed, &out.verification);
            records::insert_deployment(tx, job.task.project_id, &d).await?;
            return Ok(Next {
                status: Some((TaskStatus::Deployed, None)),
                ..Next::advance(format!("live at {} and verified", out.deployed.url), vec![])
            });
        }
        let failed: Vec<String> = out
            .verification
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        let why = format!(
            "verification of {} at {} failed: {}",
            short(&out.commit),
            out.deployed.url,
            failed.join("; ")
        );
        match &out.rollback {
            Some(Ok(back)) => {
                // Both attempts are on record: the release that failed, and the earlier one
                // that is live again (and verified again).
                let d = record(&out.commit, "rolled_back", &out.deployed, &out.verification);
                records::insert_deployment(tx, job.task.project_id, &d).await?;
                let d = record(&back.commit, "live", &back.deployed, &back.verification);
                records::insert_deployment(tx, job.task.project_id, &d).await?;
                let reason = format!(
                    "{why}; rolled back to {}, which verified and is live again",
                    short(&back.commit)
                );
                Ok(Next {
                    status: Some((TaskStatus::RolledBack, Some(reason.clone()))),
                    run: kiln_runtime::RunStatus::Failed,
                    ..Next::advance(reason, vec![])
                })
            }
            other => {
                let d = record(&out.commit, "failed", &out.deployed, &out.verification);
                records::insert_deployment(tx, job.task.project_id, &d).await?;
                let reason = match other {
                    Some(Err(e)) => format!("{why}; rolling back failed too: {e}"),
                    _ => format!("{why}; there was no earlier verified release to roll back to"),
                };
                Ok(Next {
                    status: Some((TaskStatus::Failed, Some(reason.clone()))),
                    run: kiln_runtime::RunStatus::Failed,
                    ..Next::advance(reason, vec![])
                })
            }
        }
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

async fn log_checks(job: &Job<WorkItem>, what: &str, v: &Verification) {
    for c in &v.checks {
        let line = format!(
            "{what} {}: {} ({})",
            c.name,
            if c.ok { "ok" } else { "FAILED" },
            c.detail
        );
        if c.ok {
            job.log.info(line).await;
        } else {
            job.log.error(line).await;
        }
    }
}

impl Deployer {
    /// The target the task's project deploys to; a task that names one moves the project.
    async fn target_of(&self, cx: &Ctx, job: &Job<WorkItem>) -> Result<&AnyTarget, HandlerError> {
        let project = &job.task.project;
        let chosen = kiln_store::people::TaskOptions::of(&job.task.options).deploy_target;
        let name = match chosen {
            Some(name) => {
                if self.targets.get(&name).is_some() {
                    records::set_deploy_target(&cx.db, job.task.project_id, &name).await?;
                }
                name
            }
            None => records::project_deploy(&cx.db, project)
                .await?
                .map(|(_, target)| target)
                .unwrap_or_else(|| targets::LOCAL.to_owned()),
        };
        self.targets.get(&name).ok_or_else(|| {
            HandlerError::Permanent(format!(
                "project {project} deploys to target {name:?}, which this deployer does not have; configured targets: {}",
                self.targets.names().join(", ")
            ))
        })
    }

    /// Provisions the app's database and returns its `DATABASE_URL` (never logged).
    async fn database(
        &self,
        job: &Job<WorkItem>,
        ws: &std::path::Path,
        db: &kiln_templates::Database,
    ) -> Result<String, HandlerError> {
        let schema = match &db.schema {
            Some(rel) => {
                let path = ws.join(rel);
                // The schema comes from generated code: it must stay inside the workspace.
                let real = std::fs::canonicalize(&path).map_err(|e| {
                    HandlerError::Permanent(format!(
                        "database schema {} cannot be read: {e}",
                        rel.display()
                    ))
                })?;
                let root = std::fs::canonicalize(ws)
                    .map_err(|e| HandlerError::retryable("resolving the workspace", &e))?;
                if !real.starts_with(&root) {
                    return Err(HandlerError::Permanent(format!(
                        "database schema {} points outside the app's workspace",
                        rel.display()
                    )));
                }
                Some(std::fs::read_to_string(&real).map_err(|e| {
                    HandlerError::Permanent(format!(
                        "database schema {} cannot be read: {e}",
                        rel.display()
                    ))
                })?)
            }
            None => None,
        };
        let app = &job.task.project;
        let provisioned = self
            .databases
            .ensure(app, db.kind, schema.as_deref())
            .await
            .map_err(|e| {
                let why = format!(
                    "provisioning the {} database of {app}: {}",
                    db.kind.as_str(),
                    kiln_runtime::harness::error_chain(&e)
                );
                if e.is_retryable() {
                    HandlerError::Retryable(why)
                } else {
                    HandlerError::Permanent(why)
                }
            })?;
        job.log
            .info(format!(
                "{} database {} ready for {app} (DATABASE_URL injected)",
                db.kind.as_str(),
                provisioned.database
            ))
            .await;
        Ok(provisioned.url)
    }

    /// Makes `prev` live again after `failed` did not verify, and verifies it.
    async fn roll_back(
        &self,
        job: &Job<WorkItem>,
        target: &AnyTarget,
        failed: &DeploySpec,
        prev: &Deployment,
    ) -> Result<Rollback, String> {
        let app = &job.task.project;
        job.log
            .warn(format!(
                "rolling back {app} to {}, the last verified release",
                short(&prev.commit_sha)
            ))
            .await;
        let deployed = target
            .activate(app, &prev.commit_sha)
            .await
            .map_err(|e| kiln_runtime::harness::error_chain(&e))?;
        let spec = DeploySpec {
            commit: prev.commit_sha.clone(),
            source_dir: deployed.dir.clone(),
            // The earlier release showed the project name (when Kiln wrote the page); the
            // new stories are not in it.
            expect_text: if failed.expect_text.is_empty() {
                vec![]
            } else {
                vec![app.clone()]
            },
            ..failed.clone()
        };
        let verification = target.verify(&spec, &deployed).await;
        log_checks(job, "rollback verify", &verification).await;
        if !verification.ok {
            return Err(format!(
                "{} is live again but does not verify either",
                short(&prev.commit_sha)
            ));
        }
        Ok(Rollback {
            commit: prev.commit_sha.clone(),
            deployed,
            verification,
        })
    }
}

/// Runs the deployer until `shutdown`: restores live apps, serves them, handles deploy work.
pub async fn run(
    base: kiln_runtime::Config,
    config: Config,
    sandbox_config: kiln_sandbox::Config,
    shutdown: Shutdown,
) -> Result<(), RunError> {
    let catalog = Catalog::load(base.runtime.templates_dir.as_deref())?;
    let base_database_url = base.database.url.clone();
    let runtime = Runtime::start(base, "deployer", &shutdown).await?;
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| kiln_runtime::Error::Bind {
            addr: config.http,
            source,
        })?;
    let bound = listener
        .local_addr()
        .map_err(|source| kiln_runtime::Error::Bind {
            addr: config.http,
            source,
        })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    // Deployed apps run in the same sandbox as builds (with the host network, so they can
    // listen and reach their database); `mode = "none"` runs them unsandboxed by choice.
    let sandbox = kiln_tester::sandbox(&sandbox_config);
    let local = LocalConfig {
        readiness_timeout: Duration::from_secs(config.readiness_timeout_secs),
        app_path: std::env::var("PATH").unwrap_or_else(|_| LocalConfig::default().app_path),
        sandbox: sandbox.clone().ok(),
        ..LocalConfig::default()
    };
    let target = LocalTarget::with_config(
        runtime.cx.data_dir.join("deploy"),
        public_url.clone(),
        local,
    );
    let targets = Targets::new(target.clone(), &config.targets)?;
    let key = kiln_appdb::SecretKey::load_or_create(
        &runtime.cx.data_dir.join("secrets").join("appdb.key"),
    )?;
    let databases =
        kiln_appdb::AppDatabases::new(&config.databases, base_database_url.expose(), key)?;
    if let Err(why) = &sandbox {
        // Bubblewrap is wanted but broken: bringing apps back would run them unsandboxed.
        tracing::error!(error = %why, "live apps are not restored until the sandbox works");
    } else {
        for (app, result) in target.restore().await {
            match result {
                Ok(d) => tracing::info!(app = %app, url = %d.url, "restored live app"),
                Err(e) => {
                    tracing::warn!(app = %app, error = %kiln_runtime::harness::error_chain(&e), "app not restored")
                }
            }
        }
    }
    let router = target
        .router()
        .merge(kiln_runtime::http::router(runtime.cx.clone()));
    let server_stop = shutdown.clone();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { server_stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "app proxy stopped");
        }
    });
    tracing::info!(addr = %bound, public_url = %public_url, "app proxy listening");
    let removals = tokio::spawn(remove::serve(
        runtime.cx.clone(),
        catalog.clone(),
        targets.clone(),
        databases.clone(),
        shutdown.clone(),
    ));
    let github = kiln_github::GitHub::from_config(&config.github)
        .map_err(RunError::GitHub)?
        .map(|github| kiln_github::publish::Publisher {
            github,
            config: config.github.clone(),
            db: runtime.cx.db.clone(),
            git_dir: runtime.cx.data_dir.join("git"),
            git: Git::new(),
        });
    let deployer = Deployer {
        git: Git::new(),
        github,
        sandbox,
        catalog,
        targets,
        databases,
        config,
    };
    runtime.run(deployer, shutdown).await?;
    let _ = removals.await;
    target.shutdown().await;
    let _ = server.await;
    runtime.finish().await;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Runtime(#[from] kiln_runtime::Error),
    #[error("stack templates")]
    Templates(#[from] kiln_templates::Error),
    #[error("deploy targets")]
    Targets(#[from] kiln_targets::Error),
    #[error("app databases")]
    Databases(#[from] kiln_appdb::Error),
    #[error("[github] configuration")]
    GitHub(#[source] kiln_github::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_escape_safe_story_titles_are_expected_verbatim() {
        let story = |t: &str| records::Story {
            title: t.into(),
            description: String::new(),
            acceptance: vec![],
        };
        let texts = expected_texts(
            "shop",
            &[story("Order list"), story("Tom & Jerry"), story("Live map")],
        );
        assert_eq!(texts, ["shop", "Order list", "Live map"]);
    }

    fn static_recipe(dir: &str) -> Template {
        let k = kiln_knowledge::Knowledge {
            deploy: Some(kiln_knowledge::DeployRecipe {
                kind: Some("static".into()),
                dir: Some(dir.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        kiln_learn::recipe("site", &k)
    }

    #[test]
    fn the_stamp_is_written_inside_the_served_directory_only() {
        let tmp = tempfile::tempdir().unwrap();
        let (ws, outside) = (tmp.path().join("ws"), tmp.path().join("outside"));
        std::fs::create_dir_all(ws.join("site")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // The repository planted `site/__kiln` pointing out of the checkout.
        std::os::unix::fs::symlink(&outside, ws.join("site/__kiln")).unwrap();
        stamp_static_site(&ws, &static_recipe("site"), "abc123").unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join("site/__kiln/version")).unwrap(),
            "abc123"
        );
        assert!(ws.join("site/__kiln").symlink_metadata().unwrap().is_dir());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

        // A served directory that is itself a way out is refused.
        std::os::unix::fs::symlink(&outside, ws.join("public")).unwrap();
        let err = stamp_static_site(&ws, &static_recipe("public"), "abc123").unwrap_err();
        assert!(err.contains("leads outside the checkout"), "{err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
