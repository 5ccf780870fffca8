//! Check runs: create, update (annotations append), get, list by ref.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{
    Answer, Cx, Error, created, invalid_field, missing_field, not_found, reply, validation,
    with_link,
};
use crate::fakes::github::git;
use crate::fakes::github::json;
use crate::fakes::github::state::{CheckRunState, node_id};
use crate::fakes::now_unix;

const MAX_ANNOTATIONS: usize = 50;

const CHECK_STATUSES: &[&str] = &[
    "queued",
    "in_progress",
    "completed",
    "waiting",
    "requested",
    "pending",
];
const CHECK_CONCLUSIONS: &[&str] = &[
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
];

/// An RFC 3339 time as unix seconds.
fn parse_time(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The fields of a check-run create or update body, validated.
struct CheckFields {
    name: Option<String>,
    status: Option<String>,
    conclusion: Option<String>,
    started_at: Option<i64>,
    completed_at: Option<i64>,
    details_url: Option<String>,
    external_id: Option<String>,
    output: Option<CheckOutput>,
}

struct CheckOutput {
    title: String,
    summary: String,
    text: Option<String>,
    annotations: Vec<Value>,
}

fn check_fields(body: &Value) -> Result<CheckFields, Error> {
    let string = |k: &str| -> Result<Option<String>, Error> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid_field("CheckRun", k)),
        }
    };
    let status = string("status")?;
    if status
        .as_deref()
        .is_some_and(|s| !CHECK_STATUSES.contains(&s))
    {
        return Err(invalid_field("CheckRun", "status"));
    }
    let conclusion = string("conclusion")?;
    if conclusion
        .as_deref()
        .is_some_and(|c| !CHECK_CONCLUSIONS.contains(&c))
    {
        return Err(invalid_field("CheckRun", "conclusion"));
    }
    let time_field = |k: &str| -> Result<Option<i64>, Error> {
        match body.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => parse_time(v)
                .map(Some)
                .ok_or_else(|| invalid_field("CheckRun", k)),
        }
    };
    let output = match body.get("output") {
        None | Some(Value::Null) => None,
        Some(output) => Some(check_output(output)?),
    };
    Ok(CheckFields {
        name: string("name")?,
        status,
        conclusion,
        started_at: time_field("started_at")?,
        completed_at: time_field("completed_at")?,
        details_url: string("details_url")?,
        external_id: string("external_id")?,
        output,
    })
}

fn check_output(output: &Value) -> Result<CheckOutput, Error> {
    let Some(title) = output.get("title").and_then(Value::as_str) else {
        return Err(missing_field("CheckRun", "output.title"));
    };
    let Some(summary) = output.get("summary").and_then(Value::as_str) else {
        return Err(missing_field("CheckRun", "output.summary"));
    };
    let annotations = match output.get("annotations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(invalid_field("CheckRun", "output.annotations")),
    };
    if annotations.len() > MAX_ANNOTATIONS {
        return Err(validation(json!([{
            "resource": "CheckRun", "code": "custom", "field": "output.annotations",
            "message": format!("Only {MAX_ANNOTATIONS} annotations are allowed per request, but {} were sent.", annotations.len())
        }])));
    }
    for a in &annotations {
        for field in ["path", "message"] {
            if a.get(field).and_then(Value::as_str).is_none() {
                return Err(missing_field(
                    "CheckRun",
                    &format!("output.annotations.{field}"),
                ));
            }
        }
        for field in ["start_line", "end_line"] {
            if a.get(field).and_then(Value::as_u64).is_none() {
                return Err(missing_field(
                    "CheckRun",
                    &format!("output.annotations.{field}"),
                ));
            }
        }
        let level = a.get("annotation_level").and_then(Value::as_str);
        if !matches!(level, Some("notice" | "warning" | "failure")) {
            return Err(invalid_field(
                "CheckRun",
                "output.annotations.annotation_level",
            ));
        }
    }
    Ok(CheckOutput {
        title: title.to_owned(),
        summary: summary.to_owned(),
        text: output
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned),
        annotations,
    })
}

pub(super) fn check_run_json(cx: &Cx<'_>, full: &str, id: u64) -> Result<Value, Error> {
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let run = repo
        .check_runs
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(not_found)?;
    let pulls = repo
        .pulls
        .values()
        .filter(|p| p.state == "open" && p.head_sha == run.head_sha)
        .map(|p| {
            let base_sha = git::branch_sha(&repo.path, &p.base_ref).unwrap_or_default();
            json::pull_minimal(&cx.base, repo, p, &base_sha)
        })
        .collect();
    Ok(json::check_run(&cx.base, cx.st, repo, run, pulls))
}

pub(super) fn create_check_run(cx: &mut Cx<'_>, full: &str) -> Answer {
    let fields = check_fields(&cx.body)?;
    let Some(name) = fields.name.clone().filter(|n| !n.is_empty()) else {
        return Err(missing_field("CheckRun", "name"));
    };
    let Some(head_sha) = cx.body_str("head_sha") else {
        return Err(missing_field("CheckRun", "head_sha"));
    };
    let path = cx.st.repo(full).ok_or_else(not_found)?.path.clone();
    let is_sha = head_sha.len() == 40 && head_sha.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_sha || git::resolve_commit(&path, &head_sha).as_deref() != Some(head_sha.as_str()) {
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No commit found for SHA: {head_sha}"),
        ));
    }
    let status = match (&fields.status, &fields.conclusion) {
        (_, Some(_)) => "completed".to_owned(),
        (Some(s), None) if s == "completed" => return Err(missing_field("CheckRun", "conclusion")),
        (Some(s), None) => s.clone(),
        (None, None) => "queued".to_owned(),
    };
    let now = now_unix();
    let completed_at = (status == "completed").then(|| fields.completed_at.unwrap_or(now));
    let suite_id = cx.st.suite(full, &head_sha);
    let id = cx.st.id();
    let (title, summary, text, annotations) = match fields.output {
        Some(o) => (Some(o.title), Some(o.summary), o.text, o.annotations),
        None => (None, None, None, Vec::new()),
    };
    let run = CheckRunState {
        id,
        node_id: node_id("CR", id),
        name,
        head_sha,
        status,
        conclusion: fields.conclusion,
        started_at: Some(fields.started_at.unwrap_or(now)),
        completed_at,
        details_url: fields.details_url,
        external_id: fields.external_id,
        title,
        summary,
        text,
        annotations,
        updates: 0,
        suite_id,
    };
    cx.st
        .repo_mut(full)
        .ok_or_else(not_found)?
        .check_runs
        .push(run);
    Ok(created(check_run_json(cx, full, id)?))
}

pub(super) fn update_check_run(cx: &mut Cx<'_>, full: &str, id: u64) -> Answer {
    let fields = check_fields(&cx.body)?;
    let repo = cx.st.repo_mut(full).ok_or_else(not_found)?;
    let run = repo
        .check_runs
        .iter_mut()
        .find(|r| r.id == id)
        .ok_or_else(not_found)?;
    let status = match (&fields.status, &fields.conclusion) {
        (_, Some(_)) => Some("completed".to_owned()),
        (Some(s), None) if s == "completed" && run.conclusion.is_none() => {
            return Err(missing_field("CheckRun", "conclusion"));
        }
        (Some(s), None) => Some(s.clone()),
        (None, None) => None,
    };
    if let Some(name) = fields.name.filter(|n| !n.is_empty()) {
        run.name = name;
    }
    if let Some(url) = fields.details_url {
        run.details_url = Some(url);
    }
    if let Some(external) = fields.external_id {
        run.external_id = Some(external);
    }
    if let Some(started) = fields.started_at {
        run.started_at = Some(started);
    }
    if let Some(conclusion) = fields.conclusion {
        run.conclusion = Some(conclusion);
    }
    if let Some(status) = status {
        if status != "completed" {
            run.conclusion = None;
            run.completed_at = None;
        }
        run.status = status;
    }
    if let Some(completed) = fields.completed_at {
        run.completed_at = Some(completed);
    }
    if run.status == "completed" && run.completed_at.is_none() {
        run.completed_at = Some(now_unix());
    }
    if let Some(output) = fields.output {
        run.title = Some(output.title);
        run.summary = Some(output.summary);
        if output.text.is_some() {
            run.text = output.text;
        }
        run.annotations.extend(output.annotations);
    }
    run.updates += 1;
    Ok(reply(StatusCode::OK, check_run_json(cx, full, id)?))
}

pub(super) fn list_check_runs(cx: &mut Cx<'_>, full: &str, reference: &str) -> Answer {
    let repo = cx.st.repo(full).ok_or_else(not_found)?;
    let Some(sha) = git::resolve_commit(&repo.path, reference) else {
        return Err(Error::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("No commit found for SHA: {reference}"),
        ));
    };
    let check_name = cx.q("check_name");
    let status = cx.q("status");
    let latest = cx.q("filter").as_deref() != Some("all");
    let mut runs: Vec<&CheckRunState> = repo
        .check_runs
        .iter()
        .filter(|r| r.head_sha == sha)
        .filter(|r| check_name.as_deref().is_none_or(|n| n == r.name))
        .filter(|r| status.as_deref().is_none_or(|s| s == r.status))
        .collect();
    runs.reverse();
    if latest {
        let mut seen = BTreeSet::new();
        runs.retain(|r| seen.insert(r.name.clone()));
    }
    let total = runs.len();
    let ids: Vec<u64> = runs.iter().map(|r| r.id).collect();
    let link = format!("/repositories/{}/commits/{reference}/check-runs", repo.id);
    let ((skip, take), link) = cx.page_range(total, &link);
    let mut page = Vec::new();
    for id in ids.into_iter().skip(skip).take(take) {
        page.push(check_run_json(cx, full, id)?);
    }
    Ok(with_link(
        reply(
            StatusCode::OK,
            json!({"total_count": total, "check_runs": page}),
        ),
        link,
    ))
}
