//! Pull requests: list, create, update, merge (with git plumbing), and the GraphQL
//! mutations that flip drafts.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    Answer, Caller, Cx, Error, Need, bad_credentials, commit_ident, created, custom, internal,
    invalid_field, missing_field, not_found, reply,
};
use crate::fakes::github::git::{self, Ident};
use crate::fakes::github::json::{self, PullDetail};
use crate::fakes::github::state::{Actor, PullState, Role, State_, node_id};
use crate::fakes::now_unix;

/// Refreshes the head of every open pull request of `full` from its branch.
fn refresh_pulls(st: &mut State_, full: &str) {
    if let Some(repo) = st.repo_mut(full) {
        let path = repo.path.clone();
        for pull in repo.pulls.values_mut() {
            pull.refresh_head(&path);
        }
    }
}

pub(super) fn list_pulls(cx: &mut Cx<'_>, full: &str) -> Answer {
    refresh_pulls(cx.st, full);
    let state = cx.q("state").unwrap_or_else(|| "open".into());
    if !matches!(state.as_str(), "open" | "closed" | "all") {
        return Err(invalid_field("PullRequest", "state"));
    }
    let head = cx.q("head");
    let base_filter = cx.q("base");
    let sort = cx.q("sort").unwrap_or_else(|| "created".into());
    let ascending = match cx.q("direction").as_deref() {
        Some("asc") => true,
        Some("desc") => false,
        _ => sort != "created",
    };
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let mut pulls: Vec<&PullState> = repo
        .pulls
        .values()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| {
            head.as_deref().is_none_or(|h| match h.split_once(':') {
                Some((owner, branch)) => {
                    owner.eq_ignore_ascii_case(&repo.owner) && branch == p.head_ref
                }
                None => h == p.head_ref,
            })
        })
        .filter(|p| base_filter.as_deref().is_none_or(|b| b == p.base_ref))
        .collect();
    pulls.sort_by_key(|p| {
        if sort == "updated" {
            (p.updated_at, p.number)
        } else {
            (p.created_at, p.number)
        }
    });
    if !ascending {
        pulls.reverse();
    }
    let items = pulls
        .iter()
        .map(|p| {
            let base_sha = git::branch_sha(&repo.path, &p.base_ref).unwrap_or_default();
            json::pull(&cx.base, cx.st, repo, p, &base_sha, None)
        })
        .collect();
    let link = format!("/repositories/{}/pulls", repo.id);
    Ok(cx.page(items, &link))
}

/// The full pull request object, with its mergeability computed now.
pub(super) fn pull_answer(cx: &mut Cx<'_>, full: &str, number: u64, status: StatusCode) -> Answer {
    refresh_pulls(cx.st, full);
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let pull = repo.pulls.get(&number).ok_or_else(not_found)?;
    let base_sha = git::branch_sha(&repo.path, &pull.base_ref).unwrap_or_default();
    let mergeable = if pull.state == "open" && !base_sha.is_empty() {
        git::merge_tree(&repo.path, &base_sha, &pull.head_sha, None)
            .ok()
            .map(|tree| tree.is_some())
    } else {
        None
    };
    let value = json::pull(
        &cx.base,
        cx.st,
        repo,
        pull,
        &base_sha,
        Some(&PullDetail { mergeable }),
    );
    Ok(if status == StatusCode::CREATED {
        created(value)
    } else {
        reply(status, value)
    })
}

pub(super) fn create_pull(cx: &mut Cx<'_>, full: &str, actor: &Actor) -> Answer {
    let title = cx.body_str("title").filter(|t| !t.trim().is_empty());
    let Some(title) = title else {
        return Err(missing_field("PullRequest", "title"));
    };
    let Some(head) = cx.body_str("head") else {
        return Err(missing_field("PullRequest", "head"));
    };
    let Some(base_ref) = cx.body_str("base") else {
        return Err(missing_field("PullRequest", "base"));
    };
    let body = cx.body_str("body");
    let draft = cx
        .body
        .get("draft")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    refresh_pulls(cx.st, full);
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let head_ref = match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&repo.owner) => branch.to_owned(),
        Some(_) => return Err(invalid_field("PullRequest", "head")),
        None => head.clone(),
    };
    let Some(head_sha) = git::branch_sha(&repo.path, &head_ref) else {
        return Err(invalid_field("PullRequest", "head"));
    };
    let Some(base_sha) = git::branch_sha(&repo.path, &base_ref) else {
        return Err(invalid_field("PullRequest", "base"));
    };
    let duplicate = repo
        .pulls
        .values()
        .any(|p| p.state == "open" && p.head_ref == head_ref && p.base_ref == base_ref);
    if duplicate {
        return Err(custom(
            "PullRequest",
            &format!(
                "A pull request already exists for {}:{head_ref}.",
                repo.owner
            ),
        ));
    }
    if git::is_ancestor(&repo.path, &head_sha, &base_sha) {
        return Err(custom(
            "PullRequest",
            &format!("No commits between {base_ref} and {head_ref}"),
        ));
    }
    let author = actor.login().to_owned();
    let id = cx.st.id();
    let now = now_unix();
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    let number = repo.next_number();
    repo.pulls.insert(
        number,
        PullState {
            id,
            number,
            node_id: node_id("PR", id),
            title,
            body,
            state: "open".into(),
            draft,
            head_ref,
            head_sha,
            base_ref,
            author,
            merged: false,
            merge_commit_sha: None,
            merged_by: None,
            labels: Vec::new(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            merged_at: None,
        },
    );
    pull_answer(cx, full, number, StatusCode::CREATED)
}

pub(super) fn update_pull(cx: &mut Cx<'_>, full: &str, number: u64) -> Answer {
    refresh_pulls(cx.st, full);
    let title = cx.body_str("title");
    let body = cx.body.get("body").cloned();
    let state = cx.body_str("state");
    let base = cx.body_str("base");
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let pull = repo.pulls.get(&number).ok_or_else(not_found)?;
    if let Some(state) = &state {
        if !matches!(state.as_str(), "open" | "closed") {
            return Err(invalid_field("PullRequest", "state"));
        }
        if state == "open" && pull.state == "closed" {
            let target = base.clone().unwrap_or_else(|| pull.base_ref.clone());
            let other_open = repo.pulls.values().any(|p| {
                p.number != number
                    && p.state == "open"
                    && p.head_ref == pull.head_ref
                    && p.base_ref == target
            });
            if pull.merged || other_open || git::branch_sha(&repo.path, &pull.head_ref).is_none() {
                return Err(custom(
                    "PullRequest",
                    "state cannot be changed. The pull request cannot be reopened.",
                ));
            }
        }
    }
    if base
        .as_deref()
        .is_some_and(|b| git::branch_sha(&repo.path, b).is_none())
    {
        return Err(invalid_field("PullRequest", "base"));
    }
    let path = repo.path.clone();
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    let pull = repo.pulls.get_mut(&number).ok_or_else(not_found)?;
    if let Some(title) = title {
        pull.title = title;
    }
    if let Some(body) = body {
        pull.body = body.as_str().map(str::to_owned);
    }
    if let Some(base) = base {
        pull.base_ref = base;
    }
    match state.as_deref() {
        Some("closed") if pull.state == "open" => pull.close(),
        Some("open") if pull.state == "closed" => {
            pull.state = "open".into();
            pull.closed_at = None;
            pull.refresh_head(&path);
        }
        _ => {}
    }
    pull.updated_at = now_unix();
    pull_answer(cx, full, number, StatusCode::OK)
}

/// What a merge was asked to do.
pub(in crate::fakes::github) struct MergeRequest {
    /// `merge`, `squash` or `rebase`.
    pub(in crate::fakes::github) method: String,
    /// The head sha the caller expects.
    pub(in crate::fakes::github) sha: Option<String>,
    pub(in crate::fakes::github) title: Option<String>,
    pub(in crate::fakes::github) message: Option<String>,
}

fn not_mergeable() -> Error {
    Error::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Pull Request is not mergeable",
    )
}

/// Merges pull request `number` of `full` as `actor`: writes the merge (or squash, or
/// rebased) commits, moves the base branch and closes the pull request; returns the sha
/// the base branch is at now.
pub(in crate::fakes::github) fn merge(
    st: &mut State_,
    full: &str,
    number: u64,
    actor: &Actor,
    request: &MergeRequest,
) -> Result<String, Error> {
    refresh_pulls(st, full);
    let repo = st.repo(full).ok_or_else(not_found)?;
    let pull = repo.pulls.get(&number).ok_or_else(not_found)?;
    if !matches!(request.method.as_str(), "merge" | "squash" | "rebase") {
        return Err(invalid_field("PullRequest", "merge_method"));
    }
    if pull.state != "open" || pull.draft {
        return Err(not_mergeable());
    }
    if request.sha.as_deref().is_some_and(|s| s != pull.head_sha) {
        return Err(Error::new(
            StatusCode::CONFLICT,
            "Head branch was modified. Review and try the merge again.",
        ));
    }
    let path = repo.path.clone();
    let base_ref = format!("refs/heads/{}", pull.base_ref);
    let base_sha = git::branch_sha(&path, &pull.base_ref).ok_or_else(not_mergeable)?;
    let head_sha = pull.head_sha.clone();
    let merger = commit_ident(st, actor.login());
    let committer = Ident::github();
    let new_sha = match request.method.as_str() {
        "merge" => {
            let tree = git::merge_tree(&path, &base_sha, &head_sha, None)
                .map_err(internal)?
                .ok_or_else(not_mergeable)?;
            let title = request.title.clone().unwrap_or_else(|| {
                format!(
                    "Merge pull request #{number} from {}/{}",
                    repo.owner, pull.head_ref
                )
            });
            let message = request
                .message
                .clone()
                .unwrap_or_else(|| pull.title.clone());
            git::commit_tree(
                &path,
                &tree,
                &[&base_sha, &head_sha],
                &format!("{title}\n\n{message}"),
                &merger,
                &committer,
            )
            .map_err(internal)?
        }
        "squash" => {
            let tree = git::merge_tree(&path, &base_sha, &head_sha, None)
                .map_err(internal)?
                .ok_or_else(not_mergeable)?;
            let title = request
                .title
                .clone()
                .unwrap_or_else(|| format!("{} (#{number})", pull.title));
            let message = match request.message.clone() {
                Some(m) => m,
                None => {
                    let commits =
                        git::commits_between(&path, &base_sha, &head_sha).map_err(internal)?;
                    let mut lines = Vec::new();
                    for sha in commits {
                        let meta = git::commit_meta(&path, &sha).map_err(internal)?;
                        let subject = meta.message.lines().next().unwrap_or_default().to_owned();
                        lines.push(format!("* {subject}"));
                    }
                    lines.join("\n\n")
                }
            };
            let author = commit_ident(st, &pull.author);
            git::commit_tree(
                &path,
                &tree,
                &[&base_sha],
                &format!("{title}\n\n{message}"),
                &author,
                &committer,
            )
            .map_err(internal)?
        }
        _ => {
            let commits = git::commits_between(&path, &base_sha, &head_sha).map_err(internal)?;
            let mut onto = base_sha.clone();
            for sha in commits {
                let meta = git::commit_meta(&path, &sha).map_err(internal)?;
                if meta.parents.len() != 1 {
                    return Err(not_mergeable());
                }
                let tree = git::merge_tree(&path, &onto, &sha, Some(&meta.parents[0]))
                    .map_err(internal)?
                    .ok_or_else(not_mergeable)?;
                onto = git::commit_tree_dated(
                    &path,
                    &tree,
                    &[&onto],
                    &meta.message,
                    &meta.author,
                    Some(&meta.author_date),
                    &committer,
                )
                .map_err(internal)?;
            }
            onto
        }
    };
    git::update_ref(&path, &base_ref, &new_sha, Some(&base_sha)).map_err(|_| {
        Error::new(
            StatusCode::CONFLICT,
            "Base branch was modified. Review and try the merge again.",
        )
    })?;
    let login = actor.login().to_owned();
    let now = now_unix();
    let repo = st.repo_mut(full).ok_or_else(not_found)?;
    repo.updated_at = now;
    let pull = repo.pulls.get_mut(&number).ok_or_else(not_found)?;
    pull.close();
    pull.merged = true;
    pull.merged_at = Some(now);
    pull.merge_commit_sha = Some(new_sha.clone());
    pull.merged_by = Some(login);
    Ok(new_sha)
}

/// Every string in `v`, depth first.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The double-quoted literals of a GraphQL document.
fn quoted(query: &str) -> Vec<String> {
    query
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_owned())
        .collect()
}

fn graphql_errors(errors: Value) -> Response {
    reply(StatusCode::OK, json!({"errors": errors}))
}

/// `POST /graphql`: `markPullRequestReadyForReview` and `convertPullRequestToDraft`.
pub(super) fn graphql(cx: &mut Cx<'_>) -> Answer {
    match &cx.caller {
        Caller::Actor(_) => {}
        Caller::Jwt(_) => return Err(bad_credentials()),
        Caller::None => {
            return Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "This endpoint requires you to be authenticated.",
            ));
        }
    };
    let Some(query) = cx.body_str("query") else {
        return Ok(graphql_errors(json!([{
            "message": "A query attribute must be specified and must be a string."
        }])));
    };
    let (mutation, draft) = if query.contains("markPullRequestReadyForReview") {
        ("markPullRequestReadyForReview", false)
    } else if query.contains("convertPullRequestToDraft") {
        ("convertPullRequestToDraft", true)
    } else {
        return Ok(graphql_errors(json!([{
            "message": "The fake GitHub answers only the markPullRequestReadyForReview and convertPullRequestToDraft mutations."
        }])));
    };
    let mut candidates = Vec::new();
    if let Some(vars) = cx.body.get("variables") {
        strings(vars, &mut candidates);
    }
    candidates.extend(quoted(&query));
    let found = candidates.iter().find_map(|id| {
        cx.st.repos().find_map(|r| {
            r.pulls
                .values()
                .find(|p| &p.node_id == id)
                .map(|p| (r.owner.clone(), r.name.clone(), p.number, id.clone()))
        })
    });
    let Some((owner, name, number, pr_id)) = found else {
        let id = candidates.first().cloned().unwrap_or_default();
        return Ok(reply(
            StatusCode::OK,
            json!({
                "data": {mutation: null},
                "errors": [{
                    "type": "NOT_FOUND",
                    "path": [mutation],
                    "locations": [{"line": 1, "column": 1}],
                    "message": format!("Could not resolve to a node with the global id of '{id}'.")
                }]
            }),
        ));
    };
    let need = Need {
        role: Role::Write,
        app: &[("pull_requests", "write")],
    };
    if let Err(e) = cx.authorize(&owner, &name, need) {
        return Ok(reply(
            StatusCode::OK,
            json!({
                "data": {mutation: null},
                "errors": [{
                    "type": if e.status == StatusCode::NOT_FOUND { "NOT_FOUND" } else { "FORBIDDEN" },
                    "path": [mutation],
                    "message": if e.status == StatusCode::NOT_FOUND {
                        format!("Could not resolve to a node with the global id of '{pr_id}'.")
                    } else {
                        e.message
                    }
                }]
            }),
        ));
    }
    let repo = cx
        .st
        .repo_mut(&format!("{owner}/{name}"))
        .ok_or_else(not_found)?;
    let pull = repo.pulls.get_mut(&number).ok_or_else(not_found)?;
    pull.draft = draft;
    pull.updated_at = now_unix();
    Ok(reply(
        StatusCode::OK,
        json!({"data": {mutation: {"pullRequest": {"id": pr_id, "isDraft": draft, "number": number}}}}),
    ))
}
