//! GitHub's JSON shapes for the fake's objects, with the fields octocrab's models require.

use serde_json::{Value, json};

use super::FakeGitHub;
use super::state::{
    APP_NAME, APP_OWNER, APP_SLUG, CheckRunState, CommentState, Installation, IssueState,
    PullState, Repo, Role, State_,
};

/// Unix seconds as GitHub writes times: `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn time(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn opt_time(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, |t| json!(time(t)))
}

/// Percent-encodes a path segment (logins like `kiln-app[bot]`).
pub(super) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A user, organization or bot as GitHub embeds it (`simple-user`).
pub(super) fn user(base: &str, st: &State_, login: &str) -> Value {
    let (id, kind) = st.account_info(login);
    let login = st.canonical_login(login);
    let api = format!("{base}/users/{}", segment(&login));
    json!({
        "login": login,
        "id": id,
        "node_id": super::state::node_id(if kind == "Organization" { "O" } else { "U" }, id),
        "avatar_url": format!("{base}/avatars/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("{base}/{}", segment(&login)),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "user_view_type": "public",
        "site_admin": false,
    })
}

fn role_permissions(role: Role) -> Value {
    json!({
        "admin": role >= Role::Admin,
        "maintain": role >= Role::Maintain,
        "push": role >= Role::Write,
        "triage": role >= Role::Triage,
        "pull": role >= Role::Read,
    })
}

/// The API URL templates of a repository, relative to its API URL.
const REPO_URLS: &[(&str, &str)] = &[
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    (
        "notifications_url",
        "/notifications{?since,all,participating}",
    ),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
];

/// The full repository object; `role` adds the caller's `permissions`.
pub(super) fn repo(base: &str, st: &State_, repo: &Repo, role: Option<Role>) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let html = format!("{base}/{full}");
    let host = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .unwrap_or(base);
    let open = repo.issues.values().filter(|i| i.state == "open").count()
        + repo.pulls.values().filter(|p| p.state == "open").count();
    let mut value = json!({
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "owner": user(base, st, &repo.owner),
        "html_url": html,
        "description": repo.description,
        "fork": false,
        "url": api,
        "created_at": time(repo.created_at),
        "updated_at": time(repo.updated_at),
        "pushed_at": time(repo.updated_at),
        "git_url": format!("git://{host}/{full}.git"),
        "ssh_url": format!("git@{host}:{full}.git"),
        "clone_url": format!("{html}.git"),
        "svn_url": html,
    });
    let counts = json!({
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": false,
        "has_downloads": true,
        "has_wiki": false,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open,
        "license": null,
        "allow_forking": false,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": if repo.private { "private" } else { "public" },
        "forks": 0,
        "open_issues": open,
        "watchers": 0,
        "default_branch": repo.default_branch,
        "allow_squash_merge": true,
        "allow_merge_commit": true,
        "allow_rebase_merge": true,
        "allow_auto_merge": false,
        "delete_branch_on_merge": false,
        "allow_update_branch": false,
        "network_count": 0,
        "subscribers_count": 0,
    });
    if let (Some(map), Some(counts)) = (value.as_object_mut(), counts.as_object()) {
        map.extend(counts.clone());
        for (key, suffix) in REPO_URLS {
            map.insert((*key).to_owned(), json!(format!("{api}{suffix}")));
        }
    }
    if let Some(role) = role {
        value["permissions"] = role_permissions(role);
    }
    value
}

/// The `{id, url, name}` repository check runs embed in their `pull_requests`.
fn repo_minimal(base: &str, repo: &Repo) -> Value {
    json!({
        "id": repo.id,
        "url": format!("{base}/repos/{}", repo.full_name()),
        "name": repo.name,
    })
}

/// The app, as `GET /app` and check runs show it.
pub(super) fn app(base: &str, st: &State_) -> Value {
    json!({
        "id": FakeGitHub::APP_ID,
        "slug": APP_SLUG,
        "client_id": "Iv1.fakekilnapp000",
        "node_id": super::state::node_id("A", FakeGitHub::APP_ID),
        "owner": user(base, st, APP_OWNER),
        "name": APP_NAME,
        "description": "Kiln, in the fake GitHub",
        "external_url": format!("{base}/apps/{APP_SLUG}"),
        "html_url": format!("{base}/apps/{APP_SLUG}"),
        "created_at": time(1_700_000_000),
        "updated_at": time(1_700_000_000),
        "permissions": super::state::app_permissions(),
        "events": super::state::APP_EVENTS,
        "installations_count": st.installations.len(),
    })
}

pub(super) fn installation(base: &str, st: &State_, inst: &Installation) -> Value {
    let (account_id, kind) = st.account_info(&inst.account);
    json!({
        "id": inst.id,
        "client_id": "Iv1.fakekilnapp000",
        "account": user(base, st, &inst.account),
        "repository_selection": "all",
        "access_tokens_url": format!("{base}/app/installations/{}/access_tokens", inst.id),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{}", inst.id),
        "app_id": FakeGitHub::APP_ID,
        "app_slug": APP_SLUG,
        "target_id": account_id,
        "target_type": kind,
        "permissions": inst.permissions,
        "events": super::state::APP_EVENTS,
        "created_at": time(inst.created_at),
        "updated_at": time(inst.created_at),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
    })
}

pub(super) fn label(base: &str, repo: &Repo, name: &str) -> Value {
    let id = repo.labels.get(name).copied().unwrap_or_default();
    json!({
        "id": id,
        "node_id": super::state::node_id("LA", id),
        "url": format!("{base}/repos/{}/labels/{}", repo.full_name(), segment(name)),
        "name": name,
        "color": "ededed",
        "default": false,
        "description": null,
    })
}

fn association(st: &State_, repo: &Repo, login: &str) -> &'static str {
    if repo.owner.eq_ignore_ascii_case(login) {
        "OWNER"
    } else if st.role(repo, login) > Role::None {
        "COLLABORATOR"
    } else {
        "NONE"
    }
}

/// What only the single pull request endpoints show, computed with git.
pub(super) struct PullDetail {
    pub(super) mergeable: Option<bool>,
}

/// A pull request: `pull-request-simple` for lists, the full `pull-request` with `detail`.
pub(super) fn pull(
    base: &str,
    st: &State_,
    repo: &Repo,
    p: &PullState,
    base_sha: &str,
    detail: Option<&PullDetail>,
) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let url = format!("{api}/pulls/{}", p.number);
    let html = format!("{base}/{full}/pull/{}", p.number);
    let side = |r: &str, sha: &str| {
        json!({
            "label": format!("{}:{r}", repo.owner),
            "ref": r,
            "sha": sha,
            "user": user(base, st, &repo.owner),
            "repo": self::repo(base, st, repo, None),
        })
    };
    let links = json!({
        "self": {"href": url},
        "html": {"href": html},
        "issue": {"href": format!("{api}/issues/{}", p.number)},
        "comments": {"href": format!("{api}/issues/{}/comments", p.number)},
        "review_comments": {"href": format!("{url}/comments")},
        "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
        "commits": {"href": format!("{url}/commits")},
        "statuses": {"href": format!("{api}/statuses/{}", p.head_sha)},
    });
    let mut value = json!({
        "url": url,
        "id": p.id,
        "node_id": p.node_id,
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{}", p.number),
        "number": p.number,
        "state": p.state,
        "locked": false,
        "title": p.title,
        "user": user(base, st, &p.author),
        "body": p.body,
        "created_at": time(p.created_at),
        "updated_at": time(p.updated_at),
        "closed_at": opt_time(p.closed_at),
        "merged_at": opt_time(p.merged_at),
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": null,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": p.labels.iter().map(|l| label(base, repo, l)).collect::<Vec<_>>(),
        "milestone": null,
        "draft": p.draft,
        "commits_url": format!("{url}/commits"),
        "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{}/comments", p.number),
        "statuses_url": format!("{api}/statuses/{}", p.head_sha),
        "head": side(&p.head_ref, &p.head_sha),
        "base": side(&p.base_ref, base_sha),
        "_links": links,
        "author_association": association(st, repo, &p.author),
        "auto_merge": null,
        "active_lock_reason": null,
    });
    if let Some(detail) = detail {
        let comments = repo
            .comments
            .iter()
            .filter(|c| c.number == p.number)
            .count();
        let mergeable_state = if p.state != "open" {
            "unknown"
        } else if detail.mergeable == Some(false) {
            "dirty"
        } else if p.draft {
            "draft"
        } else {
            "clean"
        };
        let extra = json!({
            "merged": p.merged,
            "mergeable": detail.mergeable,
            "rebaseable": detail.mergeable,
            "mergeable_state": mergeable_state,
            "merged_by": p.merged_by.as_deref().map(|l| user(base, st, l)),
            "comments": comments,
            "review_comments": 0,
            "maintainer_can_modify": false,
            "commits": 1,
            "additions": 0,
            "deletions": 0,
            "changed_files": 0,
        });
        if let (Some(v), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            v.extend(extra.clone());
        }
    }
    value
}

/// The minimal pull request check runs list in `pull_requests`.
pub(super) fn pull_minimal(base: &str, repo: &Repo, p: &PullState, base_sha: &str) -> Value {
    json!({
        "url": format!("{base}/repos/{}/pulls/{}", repo.full_name(), p.number),
        "id": p.id,
        "number": p.number,
        "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": repo_minimal(base, repo)},
        "base": {"ref": p.base_ref, "sha": base_sha, "repo": repo_minimal(base, repo)},
    })
}

fn issue_common(
    base: &str,
    st: &State_,
    repo: &Repo,
    fields: IssueFields<'_>,
    comments: usize,
) -> Value {
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}/issues/{}", fields.number);
    json!({
        "url": api,
        "repository_url": format!("{base}/repos/{full}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{base}/{full}/{}/{}", fields.html_kind, fields.number),
        "id": fields.id,
        "node_id": fields.node_id,
        "number": fields.number,
        "title": fields.title,
        "user": user(base, st, fields.author),
        "labels": fields.labels.iter().map(|l| label(base, repo, l)).collect::<Vec<_>>(),
        "state": fields.state,
        "state_reason": fields.state_reason,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": comments,
        "created_at": time(fields.created_at),
        "updated_at": time(fields.updated_at),
        "closed_at": opt_time(fields.closed_at),
        "closed_by": null,
        "author_association": association(st, repo, fields.author),
        "active_lock_reason": null,
        "body": fields.body,
        "reactions": {
            "url": format!("{api}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
            "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        },
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
    })
}

struct IssueFields<'a> {
    id: u64,
    node_id: &'a str,
    number: u64,
    title: &'a str,
    body: Option<&'a str>,
    author: &'a str,
    labels: &'a [String],
    state: &'a str,
    state_reason: Option<&'a str>,
    created_at: i64,
    updated_at: i64,
    closed_at: Option<i64>,
    html_kind: &'a str,
}

pub(super) fn issue(base: &str, st: &State_, repo: &Repo, i: &IssueState) -> Value {
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == i.number)
        .count();
    issue_common(
        base,
        st,
        repo,
        IssueFields {
            id: i.id,
            node_id: &i.node_id,
            number: i.number,
            title: &i.title,
            body: i.body.as_deref(),
            author: &i.author,
            labels: &i.labels,
            state: &i.state,
            state_reason: i.state_reason.as_deref(),
            created_at: i.created_at,
            updated_at: i.updated_at,
            closed_at: i.closed_at,
            html_kind: "issues",
        },
        comments,
    )
}

/// A pull request seen through the issues API (with its `pull_request` links).
pub(super) fn pull_as_issue(base: &str, st: &State_, repo: &Repo, p: &PullState) -> Value {
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.number == p.number)
        .count();
    let mut value = issue_common(
        base,
        st,
        repo,
        IssueFields {
            id: p.id,
            node_id: &p.node_id,
            number: p.number,
            title: &p.title,
            body: p.body.as_deref(),
            author: &p.author,
            labels: &p.labels,
            state: &p.state,
            state_reason: None,
            created_at: p.created_at,
            updated_at: p.updated_at,
            closed_at: p.closed_at,
            html_kind: "pull",
        },
        comments,
    );
    let full = repo.full_name();
    let html = format!("{base}/{full}/pull/{}", p.number);
    value["draft"] = json!(p.draft);
    value["pull_request"] = json!({
        "url": format!("{base}/repos/{full}/pulls/{}", p.number),
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "merged_at": opt_time(p.merged_at),
    });
    value
}

pub(super) fn comment(base: &str, st: &State_, repo: &Repo, c: &CommentState) -> Value {
    let full = repo.full_name();
    let is_pull = repo.pulls.contains_key(&c.number);
    json!({
        "url": format!("{base}/repos/{full}/issues/comments/{}", c.id),
        "html_url": format!(
            "{base}/{full}/{}/{}#issuecomment-{}",
            if is_pull { "pull" } else { "issues" },
            c.number,
            c.id
        ),
        "issue_url": format!("{base}/repos/{full}/issues/{}", c.number),
        "id": c.id,
        "node_id": c.node_id,
        "user": user(base, st, &c.author),
        "created_at": time(c.created_at),
        "updated_at": time(c.updated_at),
        "author_association": association(st, repo, &c.author),
        "body": c.body,
        "reactions": {
            "url": format!("{base}/repos/{full}/issues/comments/{}/reactions", c.id),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0,
            "heart": 0, "rocket": 0, "eyes": 0
        },
        "performed_via_github_app": if c.author == super::state::BOT_LOGIN { app(base, st) } else { Value::Null },
    })
}

/// A check run; `pulls` are the open pull requests whose head is its sha (minimal form).
pub(super) fn check_run(
    base: &str,
    st: &State_,
    repo: &Repo,
    run: &CheckRunState,
    pulls: Vec<Value>,
) -> Value {
    let full = repo.full_name();
    let url = format!("{base}/repos/{full}/check-runs/{}", run.id);
    let html = format!("{base}/{full}/runs/{}", run.id);
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": run.node_id,
        "head_sha": run.head_sha,
        "external_id": run.external_id.clone().unwrap_or_default(),
        "url": url,
        "html_url": html,
        "details_url": run.details_url.clone().unwrap_or_else(|| html.clone()),
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": opt_time(run.started_at),
        "completed_at": opt_time(run.completed_at),
        "output": {
            "title": run.title,
            "summary": run.summary,
            "text": run.text,
            "annotations_count": run.annotations.len(),
            "annotations_url": format!("{url}/annotations"),
        },
        "check_suite": {"id": run.suite_id},
        "app": app(base, st),
        "pull_requests": pulls,
    })
}

/// An annotation as `GET .../check-runs/{id}/annotations` lists it.
pub(super) fn annotation(base: &str, repo: &Repo, run: &CheckRunState, a: &Value) -> Value {
    let field = |k: &str| a.get(k).cloned().unwrap_or(Value::Null);
    let path = a.get("path").and_then(Value::as_str).unwrap_or_default();
    json!({
        "path": path,
        "blob_href": format!("{base}/{}/blob/{}/{path}", repo.full_name(), run.head_sha),
        "start_line": field("start_line"),
        "end_line": field("end_line"),
        "start_column": field("start_column"),
        "end_column": field("end_column"),
        "annotation_level": field("annotation_level"),
        "title": field("title"),
        "message": field("message"),
        "raw_details": field("raw_details"),
    })
}

/// `GET /repos/{o}/{r}/collaborators/{user}/permission`.
pub(super) fn permission(base: &str, st: &State_, login: &str, role: Role) -> Value {
    let mut u = user(base, st, login);
    u["permissions"] = role_permissions(role);
    u["role_name"] = json!(role.name());
    json!({
        "permission": role.legacy(),
        "role_name": role.name(),
        "user": u,
    })
}
