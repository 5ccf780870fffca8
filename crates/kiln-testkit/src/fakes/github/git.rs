//! The fake's bare repositories: git plumbing for its own commits and merges, and git's
//! smart HTTP protocol served by the real `git http-backend`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::state::{Actor, Role, level_rank};
use super::{Inner, Push, auth, lock};

/// The branch protection every repository of the fake has: the default branch (`HEAD`)
/// may be created by a push but never moved or deleted by one.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# The fake GitHub's branch protection: the default branch moves only through merges.
head=$(git symbolic-ref HEAD 2>/dev/null)
zero=0000000000000000000000000000000000000000
status=0
while read -r old new ref; do
  if [ "$ref" = "$head" ] && [ "$old" != "$zero" ]; then
    echo "error: GH006: Protected branch update failed for $ref." >&2
    echo "protected branch hook declined" >&2
    status=1
  fi
done
exit $status
"#;

/// Who a commit is by.
#[derive(Debug, Clone)]
pub(super) struct Ident {
    pub(super) name: String,
    pub(super) email: String,
}

impl Ident {
    /// `GitHub <noreply@github.com>`, the committer of everything GitHub writes.
    pub(super) fn github() -> Self {
        Self {
            name: "GitHub".into(),
            email: "noreply@github.com".into(),
        }
    }

    /// The `users.noreply` identity of account `login` with id `id`.
    pub(super) fn user(login: &str, id: u64) -> Self {
        Self {
            name: login.to_owned(),
            email: format!("{id}+{login}@users.noreply.github.com"),
        }
    }
}

/// `git` isolated from the machine's configuration, run in `dir`.
fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    command
}

/// Runs `command` with `input` on stdin; its trimmed stdout, or its stderr as the error.
fn run(mut command: Command, input: Option<&[u8]>) -> Result<String, String> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().map_err(|e| format!("spawn git: {e}"))?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(input)
            .map_err(|e| format!("write to git: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("wait for git: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "git failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn run_args(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut command = git(dir);
    command.args(args);
    run(command, None)
}

/// Creates a bare repository whose `HEAD` is `branch`, with the protection hook.
pub(super) fn init_bare(path: &Path, branch: &str) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    run_args(
        path,
        &[
            "init",
            "--bare",
            "--quiet",
            &format!("--initial-branch={branch}"),
        ],
    )?;
    let hooks = path.join("hooks");
    std::fs::create_dir_all(&hooks).map_err(|e| format!("hooks dir: {e}"))?;
    let hook = hooks.join("pre-receive");
    std::fs::write(&hook, PRE_RECEIVE).map_err(|e| format!("write hook: {e}"))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod hook: {e}"))?;
    }
    let hooks = hooks.to_string_lossy().into_owned();
    run_args(path, &["config", "core.hooksPath", &hooks])?;
    // Pushes over HTTP are authorized by the fake itself.
    run_args(path, &["config", "http.receivepack", "true"])?;
    Ok(())
}

/// Commits `files` as the first commit of the default branch; returns its sha.
pub(super) fn initial_commit(
    repo: &Path,
    files: &[(&str, &str)],
    message: &str,
    author: &Ident,
) -> Result<String, String> {
    let index = tempfile::NamedTempFile::new().map_err(|e| format!("index file: {e}"))?;
    let index_path = index.path().to_path_buf();
    // git wants to create the index itself.
    drop(index);
    for (path, content) in files {
        let mut hash = git(repo);
        hash.args(["hash-object", "-w", "--stdin"]);
        let blob = run(hash, Some(content.as_bytes()))?;
        let mut add = git(repo);
        add.env("GIT_INDEX_FILE", &index_path).args([
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("100644,{blob},{path}"),
        ]);
        run(add, None)?;
    }
    let mut write = git(repo);
    write.env("GIT_INDEX_FILE", &index_path).arg("write-tree");
    let tree = run(write, None);
    let _ = std::fs::remove_file(&index_path);
    let commit = commit_tree(repo, &tree?, &[], message, author, &Ident::github())?;
    let head = run_args(repo, &["symbolic-ref", "HEAD"])?;
    update_ref(repo, &head, &commit, None)?;
    Ok(commit)
}

/// Every ref: full name -> sha.
pub(super) fn refs(repo: &Path) -> Result<BTreeMap<String, String>, String> {
    let out = run_args(
        repo,
        &["for-each-ref", "--format=%(refname) %(objectname)", "refs/"],
    )?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(r, s)| (r.to_owned(), s.to_owned()))
        .collect())
}

/// The tip of branch `branch` (without `refs/heads/`), if it exists.
pub(super) fn branch_sha(repo: &Path, branch: &str) -> Option<String> {
    if branch.is_empty() || branch.starts_with('-') {
        return None;
    }
    run_args(
        repo,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ],
    )
    .ok()
    .filter(|s| !s.is_empty())
}

/// The commit `name` (a sha, branch, tag or full ref) names, if any.
pub(super) fn resolve_commit(repo: &Path, name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with('-') || name.contains("..") {
        return None;
    }
    let candidates = [
        name.to_owned(),
        format!("refs/heads/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/{name}"),
    ];
    let is_hex = name.len() == 40 && name.bytes().all(|b| b.is_ascii_hexdigit());
    let candidates = if is_hex {
        &candidates[..1]
    } else {
        &candidates[1..]
    };
    candidates.iter().find_map(|c| {
        run_args(
            repo,
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{c}^{{commit}}"),
            ],
        )
        .ok()
        .filter(|s| !s.is_empty())
    })
}

/// Whether commit `a` is an ancestor of (or equal to) `b`.
pub(super) fn is_ancestor(repo: &Path, a: &str, b: &str) -> bool {
    let mut command = git(repo);
    command
        .args(["merge-base", "--is-ancestor", a, b])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command.status().is_ok_and(|s| s.success())
}

/// The tree of merging `theirs` into `ours` (from `merge_base`, or their merge base):
/// `Ok(None)` when it conflicts.
pub(super) fn merge_tree(
    repo: &Path,
    ours: &str,
    theirs: &str,
    merge_base: Option<&str>,
) -> Result<Option<String>, String> {
    let mut command = git(repo);
    command.args(["merge-tree", "--write-tree", "--no-messages"]);
    if let Some(base) = merge_base {
        command.arg(format!("--merge-base={base}"));
    }
    command.args([ours, theirs]);
    let output = command
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("spawn git: {e}"))?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .map(str::to_owned)),
        Some(1) => Ok(None),
        _ => Err(format!(
            "git merge-tree failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// Writes a commit of `tree` with `parents`; returns its sha.
pub(super) fn commit_tree(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: &Ident,
    committer: &Ident,
) -> Result<String, String> {
    commit_tree_dated(repo, tree, parents, message, author, None, committer)
}

/// [`commit_tree`] with the author date kept (`None` = now).
pub(super) fn commit_tree_dated(
    repo: &Path,
    tree: &str,
    parents: &[&str],
    message: &str,
    author: &Ident,
    author_date: Option<&str>,
    committer: &Ident,
) -> Result<String, String> {
    let mut command = git(repo);
    command
        .env("GIT_AUTHOR_NAME", &author.name)
        .env("GIT_AUTHOR_EMAIL", &author.email)
        .env("GIT_COMMITTER_NAME", &committer.name)
        .env("GIT_COMMITTER_EMAIL", &committer.email)
        .args(["commit-tree", tree]);
    if let Some(date) = author_date {
        command.env("GIT_AUTHOR_DATE", date);
    }
    for parent in parents {
        command.args(["-p", parent]);
    }
    command.args(["-F", "-"]);
    let mut message = message.to_owned();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    run(command, Some(message.as_bytes()))
}

/// Moves `refname` to `new`, only if it still is at `old` (`None` = must not exist).
pub(super) fn update_ref(
    repo: &Path,
    refname: &str,
    new: &str,
    old: Option<&str>,
) -> Result<(), String> {
    let zero = "0".repeat(40);
    run_args(
        repo,
        &[
            "update-ref",
            "-m",
            "github: merge",
            refname,
            new,
            old.unwrap_or(&zero),
        ],
    )
    .map(drop)
}

/// The commits in `base..head`, oldest first.
pub(super) fn commits_between(repo: &Path, base: &str, head: &str) -> Result<Vec<String>, String> {
    let out = run_args(
        repo,
        &[
            "rev-list",
            "--reverse",
            "--topo-order",
            &format!("{base}..{head}"),
        ],
    )?;
    Ok(out.lines().map(str::to_owned).collect())
}

/// A commit's author, author date (raw), message and parents.
pub(super) struct CommitMeta {
    pub(super) author: Ident,
    pub(super) author_date: String,
    pub(super) message: String,
    pub(super) parents: Vec<String>,
}

pub(super) fn commit_meta(repo: &Path, sha: &str) -> Result<CommitMeta, String> {
    let out = run_args(
        repo,
        &[
            "show",
            "-s",
            "--format=%an%x00%ae%x00%ad%x00%P%x00%B",
            "--date=raw",
            sha,
        ],
    )?;
    let mut parts = out.splitn(5, '\0');
    let mut next = || parts.next().unwrap_or_default().to_owned();
    let (name, email, date, parents, message) = (next(), next(), next(), next(), next());
    Ok(CommitMeta {
        author: Ident { name, email },
        author_date: date,
        message,
        parents: parents.split_whitespace().map(str::to_owned).collect(),
    })
}

/// A request to one of git's smart HTTP routes of a repository.
pub(super) struct Target {
    owner: String,
    name: String,
    /// The path after `owner/name.git`, e.g. `/info/refs`.
    rest: String,
    push: bool,
}

impl Target {
    /// `/{owner}/{name}.git/...`; `None` for every other path.
    pub(super) fn parse(uri: &Uri) -> Option<Self> {
        let path = uri.path().strip_prefix('/')?;
        let mut parts = path.splitn(3, '/');
        let owner = parts.next()?;
        let repo = parts.next()?.strip_suffix(".git")?;
        let rest = parts.next()?;
        if owner.is_empty() || repo.is_empty() || rest.is_empty() {
            return None;
        }
        let push = rest == "git-receive-pack"
            || uri
                .query()
                .is_some_and(|q| q.split('&').any(|p| p == "service=git-receive-pack"));
        Some(Self {
            owner: owner.to_owned(),
            name: repo.to_owned(),
            rest: format!("/{rest}"),
            push,
        })
    }
}

fn git_error(status: StatusCode, text: &str) -> Response {
    super::plain(status, text)
}

fn unauthorized(text: &str) -> Response {
    let mut response = git_error(StatusCode::UNAUTHORIZED, text);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"GitHub\""),
    );
    response
}

/// Serves one smart HTTP request with `git http-backend`, after GitHub's auth checks.
pub(super) async fn serve(inner: Arc<Inner>, target: Target, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    inner
        .common
        .record(&parts.method, &parts.uri, &parts.headers, &Bytes::new());
    let Some((user, password)) = auth::basic(&parts.headers) else {
        return unauthorized("Authentication required.");
    };
    let full_name = format!("{}/{}", target.owner, target.name);
    let (actor, repo_path, repo_name) = {
        let state = lock(&inner.state);
        let Some(actor) = state.actor(&password) else {
            return unauthorized(
                "Invalid username or token. Password authentication is not supported for Git operations.",
            );
        };
        let Some(repo) = state.repo(&full_name) else {
            return git_error(StatusCode::NOT_FOUND, "Repository not found.");
        };
        let allowed = match &actor {
            Actor::App {
                installation,
                repos,
                permissions,
            } => {
                let installed = state
                    .installation_for(&repo.owner)
                    .is_some_and(|i| i.id == *installation);
                if !installed {
                    return git_error(StatusCode::NOT_FOUND, "Repository not found.");
                }
                let in_scope = repos.as_ref().is_none_or(|r| r.contains(&repo.id));
                let need = if target.push { "write" } else { "read" };
                let level = permissions.get("contents").map_or(0, |l| level_rank(l));
                in_scope && level >= level_rank(need)
            }
            Actor::User { login } => {
                let role = state.role(repo, login);
                if role == Role::None {
                    return git_error(StatusCode::NOT_FOUND, "Repository not found.");
                }
                !target.push || role >= Role::Write
            }
        };
        if !allowed {
            return git_error(
                StatusCode::FORBIDDEN,
                &format!(
                    "Permission to {} denied to {}.",
                    repo.full_name(),
                    actor.login()
                ),
            );
        }
        (actor, repo.path.clone(), repo.full_name())
    };
    let pusher = match &actor {
        Actor::App { .. } => "app".to_owned(),
        Actor::User { login } => login.clone(),
    };
    let receive = target.push && target.rest == "/git-receive-pack";
    let _push_guard = if receive {
        Some(inner.push_lock.lock().await)
    } else {
        None
    };
    let before = if receive {
        read_refs(&repo_path).await
    } else {
        BTreeMap::new()
    };
    let Some(relative) = repo_path
        .strip_prefix(inner.repos_root())
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
    else {
        return git_error(StatusCode::INTERNAL_SERVER_ERROR, "repository outside root");
    };
    let cgi = Cgi {
        root: inner.repos_root().to_string_lossy().into_owned(),
        path_info: format!("/{relative}{}", target.rest),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        method: parts.method.as_str().to_owned(),
        headers: parts.headers,
        remote_user: user,
    };
    let response = match run_backend(cgi, body).await {
        Ok(response) => response,
        Err(e) => return git_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    if receive {
        let after = read_refs(&repo_path).await;
        let names: std::collections::BTreeSet<&String> =
            before.keys().chain(after.keys()).collect();
        let mut state = lock(&inner.state);
        for refname in names {
            let (old, new) = (before.get(refname), after.get(refname));
            if old != new {
                state.pushes.push(Push {
                    repo: repo_name.clone(),
                    refname: refname.clone(),
                    old: old.cloned(),
                    new: new.cloned(),
                    pusher: pusher.clone(),
                });
            }
        }
    }
    response
}

async fn read_refs(repo: &Path) -> BTreeMap<String, String> {
    let repo = repo.to_path_buf();
    tokio::task::spawn_blocking(move || refs(&repo).unwrap_or_default())
        .await
        .unwrap_or_default()
}

/// The CGI request for `git http-backend`.
struct Cgi {
    root: String,
    path_info: String,
    query: String,
    method: String,
    headers: HeaderMap,
    remote_user: String,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Runs `git http-backend`, streaming `body` to its stdin, and turns its CGI answer into
/// a response.
async fn run_backend(cgi: Cgi, body: Body) -> Result<Response, String> {
    let mut command = tokio::process::Command::new("git");
    command
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &cgi.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", &cgi.path_info)
        .env("QUERY_STRING", &cgi.query)
        .env("REQUEST_METHOD", &cgi.method)
        .env("REMOTE_USER", &cgi.remote_user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(v) = header_str(&cgi.headers, &header::CONTENT_TYPE) {
        command.env("CONTENT_TYPE", v);
    }
    if let Some(v) = header_str(&cgi.headers, &header::CONTENT_LENGTH) {
        command.env("CONTENT_LENGTH", v);
    }
    if let Some(v) = header_str(&cgi.headers, &header::CONTENT_ENCODING) {
        command.env("HTTP_CONTENT_ENCODING", v);
    }
    if let Some(v) = cgi
        .headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
    {
        command.env("GIT_PROTOCOL", v);
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("spawn git http-backend: {e}"))?;
    let stdin = child.stdin.take();
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let feed = async move {
        let Some(mut stdin) = stdin else { return };
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if stdin.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = stdin.shutdown().await;
    };
    let read_out = async {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).await.map(|_| out)
    };
    let read_err = async {
        let mut err = Vec::new();
        let _ = stderr.read_to_end(&mut err).await;
        err
    };
    let ((), out, err) = tokio::join!(feed, read_out, read_err);
    let out = out.map_err(|e| format!("read git http-backend: {e}"))?;
    let _ = child.wait().await;
    parse_cgi(&out).ok_or_else(|| {
        format!(
            "git http-backend gave no CGI answer: {}",
            String::from_utf8_lossy(&err).trim()
        )
    })
}

/// A CGI answer (`Status:` and other headers, a blank line, the body) as a response.
fn parse_cgi(out: &[u8]) -> Option<Response> {
    let (head_len, sep_len) = find_blank_line(out)?;
    let head = std::str::from_utf8(&out[..head_len]).ok()?;
    let body = Bytes::copy_from_slice(&out[head_len + sep_len..]);
    let mut status = StatusCode::OK;
    let mut headers = HeaderMap::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next()?.parse::<u16>().ok()?;
            status = StatusCode::from_u16(code).ok()?;
        } else if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let mut response = (status, Body::from(body)).into_response();
    response.headers_mut().extend(headers);
    Some(response)
}

/// Where the CGI header block ends: `(header length, separator length)`.
fn find_blank_line(out: &[u8]) -> Option<(usize, usize)> {
    let crlf = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}
