//! Merging an approved change of a GitHub-hosted project: through its pull request on
//! GitHub (never a push to the default branch), then the local mirror's `main` is fetched
//! from GitHub, so what is deployed is exactly the merge commit GitHub made.
//!
//! Safe to repeat: a pull request already merged (by an earlier delivery, or by a person)
//! is not merged again, its merge commit is used. The merge names the head commit the gate
//! approved, so GitHub refuses it if anyone pushed to the branch since.

use kiln_contracts::WorkItem;
use std::time::Duration;

use kiln_git::HttpAuth;
use kiln_github::RepoName;
use kiln_github::publish::{Publisher, Synced, WRITES_GUARD};
use kiln_runtime::{Ctx, HandlerError, Job};
use kiln_store::control;
use kiln_store::github as store;
use serde_json::json;

use crate::short;

/// The guard that switches Kiln's own merges off.
pub const MERGE_GUARD: &str = "auto_merge";

/// What became of the merge.
pub(crate) enum Merging {
    /// Merged on GitHub; the merge commit is the local `main` now.
    Merged { sha: String, number: u64 },
    /// A guard is off: nothing was merged, and what would have been is on record.
    Withheld(String),
}

/// How long a merge waits for GitHub to come back (or its rate limit to lift) before the
/// delivery is given up and retried later; the wait keeps the work item alive meanwhile.
const PATIENCE: Duration = Duration::from_secs(600);
/// Longest single wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// One attempt at the merge: done, or GitHub is down or rate-limited for now.
enum Step {
    Done(Merging),
    Wait(Option<Duration>, String),
}

/// Evaluates a GitHub call: a transient failure ends the attempt with [`Step::Wait`], any
/// other is permanent (GitHub refused; asking again changes nothing).
macro_rules! github {
    ($call:expr, $what:expr) => {
        match $call {
            Ok(v) => v,
            Err(e) if e.is_transient() => {
                return Ok(Step::Wait(e.retry_after(), format!("{}: {e}", $what)));
            }
            Err(e) => return Err(HandlerError::Permanent(format!("{}: {e}", $what))),
        }
    };
}

/// The GitHub repository `project` lives in, if it is hosted there.
pub(crate) async fn hosted(cx: &Ctx, project: &str) -> Result<Option<RepoName>, HandlerError> {
    let host = store::host(&cx.db, project).await?;
    host.as_ref()
        .and_then(|h| h.github())
        .map(|full| {
            RepoName::parse(full)
                .map_err(|e| HandlerError::Permanent(format!("the project's repository: {e}")))
        })
        .transpose()
}

/// Merges the task's pull request under the project's merge policy (`auto`: the gate's
/// approval is enough) and brings the local `main` to the merge commit. While GitHub is
/// down or rate-limited it waits (GitHub's own `retry-after` when it gave one) and tries
/// again, for up to ten minutes: an outage delays the release, it does not fail the task.
pub(crate) async fn merge(
    cx: &Ctx,
    job: &Job<WorkItem>,
    publisher: Option<&Publisher>,
    repo: &RepoName,
) -> Result<Merging, HandlerError> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut backoff = Duration::from_secs(1);
    loop {
        match merge_once(cx, job, publisher, repo).await? {
            Step::Done(merging) => return Ok(merging),
            Step::Wait(asked, why) => {
                let wait = asked.unwrap_or(backoff).min(MAX_WAIT);
                if tokio::time::Instant::now() + wait > deadline {
                    return Err(HandlerError::Retryable(format!(
                        "GitHub did not answer for {} s: {why}",
                        PATIENCE.as_secs()
                    )));
                }
                job.log
                    .warn(format!(
                        "{why}; trying again in {} s",
                        wait.as_secs().max(1)
                    ))
                    .await;
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_WAIT);
            }
        }
    }
}

async fn merge_once(
    cx: &Ctx,
    job: &Job<WorkItem>,
    publisher: Option<&Publisher>,
    repo: &RepoName,
) -> Result<Step, HandlerError> {
    let task = &job.task;
    let commit = &job.input.commit;
    for guard in [WRITES_GUARD, MERGE_GUARD] {
        if let Some(off) = control::guard_off(&cx.db, guard, &task.project).await? {
            let detail = json!({
                "merge": { "repository": repo.to_string(), "commit": commit },
                "guard_off_by": off.actor,
                "reason": off.reason,
            });
            store::withhold(&cx.db, task.id, "merge", guard, &detail).await?;
            let why = format!(
                "merge withheld: the {guard} guard is off ({}); the pull request stays open",
                off.reason
            );
            job.log.warn(why.clone()).await;
            return Ok(Step::Done(Merging::Withheld(why)));
        }
    }
    let Some(publisher) = publisher else {
        return Err(HandlerError::Permanent(format!(
            "{} is hosted on GitHub ({repo}) but this deployer has no [github] credentials",
            task.project
        )));
    };
    cx.pause_point(Some(&task.project)).await?;
    // The branch pushed and the pull request open and up to date before it is merged.
    use kiln_github::publish::PublishError as P;
    let what = "publishing the pull request";
    let synced = match publisher.sync_task(task.id).await {
        Ok(synced) => synced,
        Err(P::GitHub(e)) => github!(Err::<Synced, _>(e), what),
        Err(P::Store(e)) => return Err(HandlerError::Retryable(format!("{what}: {e}"))),
        Err(P::Git(e)) => return Ok(Step::Wait(None, format!("{what}: {e}"))),
    };
    match synced {
        Synced::Published { .. } => {}
        Synced::Nothing => {
            return Ok(Step::Wait(
                None,
                "the pull request is being published by another replica".into(),
            ));
        }
        Synced::Withheld => {
            return Ok(Step::Done(Merging::Withheld(
                "merge withheld: GitHub writes are off; the pull request stays open".into(),
            )));
        }
    }
    let mut pull = store::pull(&cx.db, task.id)
        .await?
        .ok_or_else(|| HandlerError::Retryable("the pull request is not recorded yet".into()))?;
    let gh = &publisher.github;
    let number = pull.number as u64;
    let sha = match pull.merge_sha.clone().filter(|_| pull.state == "merged") {
        Some(sha) => sha,
        None => {
            let remote = github!(gh.pull(repo, number).await, "reading the pull request");
            if remote.is_merged() {
                match remote.merge_commit_sha.clone() {
                    Some(sha) => sha,
                    None => {
                        return Ok(Step::Wait(
                            None,
                            "GitHub has not reported the merge commit yet".into(),
                        ));
                    }
                }
            } else if remote.state != "open" {
                return Err(HandlerError::Permanent(format!(
                    "pull request #{number} of {repo} was closed on GitHub; nothing was merged"
                )));
            } else {
                if remote.head.sha != *commit {
                    return Err(HandlerError::Permanent(format!(
                        "the branch of pull request #{number} moved to {} after the gate approved {}; nothing was merged",
                        short(&remote.head.sha),
                        short(commit)
                    )));
                }
                if remote.draft {
                    github!(
                        gh.mark_ready(repo, &remote.node_id).await,
                        "marking the pull request ready"
                    );
                }
                let title = format!("Merge pull request #{number}: Kiln task {}", task.id);
                github!(
                    gh.merge_pull(repo, number, commit, &title).await,
                    "merging the pull request"
                )
            }
        }
    };
    pull.state = "merged".into();
    pull.merge_sha = Some(sha.clone());
    pull.draft = false;
    store::save_pull(&cx.db, task.id, &pull).await?;

    // The local mirror follows GitHub's main, so the merge commit can be built and deployed.
    let remote = github!(gh.repository(repo).await, "reading the repository")
        .ok_or_else(|| HandlerError::Permanent(format!("{repo} is gone from GitHub")))?;
    let branch = remote.default_branch.unwrap_or_else(|| "main".into());
    let token = github!(gh.git_token(repo).await, "a token to fetch with");
    let auth = HttpAuth::basic("x-access-token", token.expose());
    let local = cx.repo_path(&task.project);
    let git = kiln_git::Git::new();
    let main = git
        .fetch_branch(
            &local,
            &remote.clone_url,
            &auth,
            &branch,
            kiln_git::BASE_BRANCH,
        )
        .await
        .map_err(|e| HandlerError::retryable("fetching main from GitHub", &e))?;
    let contains = git
        .is_ancestor(&local, &sha, &main)
        .await
        .map_err(|e| HandlerError::retryable("finding the merge commit", &e))?;
    if !contains {
        return Err(HandlerError::Retryable(format!(
            "GitHub's {branch} does not contain the merge commit {} yet",
            short(&sha)
        )));
    }
    job.log
        .info(format!(
            "pull request #{number} of {repo} merged on GitHub as {}",
            short(&sha)
        ))
        .await;
    Ok(Step::Done(Merging::Merged { sha, number }))
}
