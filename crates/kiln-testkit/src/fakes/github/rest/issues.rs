//! Issues and their comments (pull requests are issues too, sharing numbers).

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

use super::{Answer, Cx, Error, created, invalid_field, missing_field, not_found, reply};
use crate::fakes::github::json;
use crate::fakes::github::state::{Actor, CommentState, Role, node_id};
use crate::fakes::now_unix;

/// Label names from a body's `labels`: strings or `{name}` objects.
fn label_names(v: &Value) -> Result<Vec<String>, Error> {
    let Some(items) = v.as_array() else {
        return Err(invalid_field("Issue", "labels"));
    };
    let mut names = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| invalid_field("Issue", "labels"))?,
            _ => return Err(invalid_field("Issue", "labels")),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

pub(super) fn list_issues(cx: &mut Cx<'_>, full: &str) -> Answer {
    let state = cx.q("state").unwrap_or_else(|| "open".into());
    let labels: Vec<String> = cx
        .q("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = cx.q("creator");
    let ascending = cx.q("direction").as_deref() == Some("asc");
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let keep = |s: &str, l: &[String], author: &str| {
        (state == "all" || s == state)
            && labels.iter().all(|want| l.contains(want))
            && creator
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(author))
    };
    let mut numbers: Vec<u64> = repo
        .issues
        .values()
        .filter(|i| keep(&i.state, &i.labels, &i.author))
        .map(|i| i.number)
        .chain(
            repo.pulls
                .values()
                .filter(|p| keep(&p.state, &p.labels, &p.author))
                .map(|p| p.number),
        )
        .collect();
    numbers.sort_unstable();
    if !ascending {
        numbers.reverse();
    }
    let items = numbers
        .iter()
        .filter_map(|n| match (repo.issues.get(n), repo.pulls.get(n)) {
            (Some(i), _) => Some(json::issue(&cx.base, cx.st, repo, i)),
            (None, Some(p)) => Some(json::pull_as_issue(&cx.base, cx.st, repo, p)),
            _ => None,
        })
        .collect();
    let link = format!("/repositories/{}/issues", repo.id);
    Ok(cx.page(items, &link))
}

pub(super) fn issue_answer(cx: &mut Cx<'_>, full: &str, number: u64, status: StatusCode) -> Answer {
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let value = match (repo.issues.get(&number), repo.pulls.get(&number)) {
        (Some(i), _) => json::issue(&cx.base, cx.st, repo, i),
        (None, Some(p)) => json::pull_as_issue(&cx.base, cx.st, repo, p),
        _ => return Err(not_found()),
    };
    Ok(if status == StatusCode::CREATED {
        created(value)
    } else {
        reply(status, value)
    })
}

pub(super) fn create_issue(cx: &mut Cx<'_>, full: &str, actor: &Actor) -> Answer {
    let Some(title) = cx.body_str("title").filter(|t| !t.trim().is_empty()) else {
        return Err(missing_field("Issue", "title"));
    };
    let body = cx.body_str("body").unwrap_or_default();
    let labels = match cx.body.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => label_names(v)?,
    };
    let number = cx
        .st
        .open_issue(full, actor.login(), &title, &body, &labels)
        .ok_or_else(not_found)?;
    issue_answer(cx, full, number, StatusCode::CREATED)
}

pub(super) fn update_issue(cx: &mut Cx<'_>, full: &str, actor: &Actor, number: u64) -> Answer {
    let title = cx.body_str("title");
    let body = cx.body.get("body").cloned();
    let state = cx.body_str("state");
    if state
        .as_deref()
        .is_some_and(|s| !matches!(s, "open" | "closed"))
    {
        return Err(invalid_field("Issue", "state"));
    }
    let state_reason = cx.body_str("state_reason");
    let labels = match cx.body.get("labels") {
        None | Some(Value::Null) => None,
        Some(v) => Some(label_names(v)?),
    };
    if let Some(labels) = &labels {
        cx.st.ensure_labels(full, labels);
    }
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let is_pull = repo.pulls.contains_key(&number);
    if !is_pull && !repo.issues.contains_key(&number) {
        return Err(not_found());
    }
    if let Actor::User { login } = actor {
        let author = match (repo.issues.get(&number), repo.pulls.get(&number)) {
            (Some(i), _) => i.author.clone(),
            (None, Some(p)) => p.author.clone(),
            _ => String::new(),
        };
        if !author.eq_ignore_ascii_case(login) && cx.st.role(repo, login) < Role::Triage {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "Must have push access to repository",
            ));
        }
    }
    let now = now_unix();
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    let path = repo.path.clone();
    if let Some(pull) = repo.pulls.get_mut(&number) {
        if let Some(title) = title {
            pull.title = title;
        }
        if let Some(body) = body {
            pull.body = body.as_str().map(str::to_owned);
        }
        if let Some(labels) = labels {
            pull.labels = labels;
        }
        match state.as_deref() {
            Some("closed") if pull.state == "open" => {
                pull.refresh_head(&path);
                pull.close();
            }
            Some("open") if pull.state == "closed" && !pull.merged => {
                pull.state = "open".into();
                pull.closed_at = None;
            }
            _ => {}
        }
        pull.updated_at = now;
    } else if let Some(issue) = repo.issues.get_mut(&number) {
        if let Some(title) = title {
            issue.title = title;
        }
        if let Some(body) = body {
            issue.body = body.as_str().map(str::to_owned);
        }
        if let Some(labels) = labels {
            issue.labels = labels;
        }
        match state.as_deref() {
            Some("closed") if issue.state == "open" => {
                issue.state = "closed".into();
                issue.closed_at = Some(now);
                issue.state_reason = Some(state_reason.unwrap_or_else(|| "completed".into()));
            }
            Some("open") if issue.state == "closed" => {
                issue.state = "open".into();
                issue.closed_at = None;
                issue.state_reason = Some("reopened".into());
            }
            _ => {}
        }
        issue.updated_at = now;
    }
    issue_answer(cx, full, number, StatusCode::OK)
}

pub(super) fn create_comment(cx: &mut Cx<'_>, full: &str, actor: &Actor, number: u64) -> Answer {
    let Some(body) = cx.body_str("body").filter(|b| !b.is_empty()) else {
        return Err(missing_field("IssueComment", "body"));
    };
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    if !repo.issues.contains_key(&number) && !repo.pulls.contains_key(&number) {
        return Err(not_found());
    }
    let id = cx.st.id();
    let now = now_unix();
    let comment = CommentState {
        id,
        node_id: node_id("IC", id),
        number,
        author: actor.login().to_owned(),
        body,
        created_at: now,
        updated_at: now,
    };
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    repo.comments.push(comment);
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let comment = repo.comments.last().ok_or_else(not_found)?;
    Ok(created(json::comment(&cx.base, cx.st, repo, comment)))
}

pub(super) fn edit_comment(cx: &mut Cx<'_>, full: &str, actor: &Actor, id: u64) -> Answer {
    let body = cx.body_str("body");
    let delete = cx.method == Method::DELETE;
    if !delete && body.as_deref().is_none_or(str::is_empty) {
        return Err(missing_field("IssueComment", "body"));
    }
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    let forbidden = match actor {
        Actor::User { login } => {
            !comment.author.eq_ignore_ascii_case(login) && cx.st.role(repo, login) < Role::Write
        }
        Actor::App { .. } => false,
    };
    if forbidden {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "Must have push access to repository",
        ));
    }
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    if delete {
        repo.comments.retain(|c| c.id != id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let comment = repo
        .comments
        .iter_mut()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    comment.body = body.unwrap_or_default();
    comment.updated_at = now_unix();
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let comment = repo
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    Ok(reply(
        StatusCode::OK,
        json::comment(&cx.base, cx.st, repo, comment),
    ))
}
