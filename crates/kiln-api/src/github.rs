//! Projects hosted on GitHub: binding a project to a repository there (creating it first
//! when asked). Publishing pull requests and checks is `kiln_github::publish`, started with
//! the API.

use kiln_git::{HttpAuth, ImportUrl};
use kiln_github::RepoName;

use crate::AppState;
use crate::error::Error;
use crate::imports::CreateProject;
use crate::queries;

/// A GitHub repository ready to be mirrored as a project.
pub(crate) struct Bound {
    pub repository: RepoName,
    /// The clone URL, with the installation token as its `Authorization` header.
    pub url: ImportUrl,
    /// The repository's default branch, mirrored as the project's `main`.
    pub branch: String,
    pub created: bool,
    pub merge_policy: String,
    pub plan_as_issues: bool,
}

fn github_error(e: kiln_github::Error) -> Error {
    match e {
        kiln_github::Error::NotInstalled { .. } | kiln_github::Error::Config(_) => {
            Error::ImportRefused(e.to_string())
        }
        other => Error::GitHub(other.to_string()),
    }
}

/// Checks a `host` request and prepares its repository: the fields are validated before
/// anything is asked of GitHub, and the name before anything is created there.
pub(crate) async fn prepare(
    state: &AppState,
    name: &str,
    host: &str,
    request: &CreateProject,
) -> Result<Bound, Error> {
    if host != "github" {
        return Err(Error::ImportRefused(format!(
            "unknown host {host:?}: the hosts are \"github\" (or leave `host` out and give `import`)"
        )));
    }
    let Some(full) = request.repository.as_deref() else {
        return Err(Error::ImportRefused(
            "`repository` (owner/name on GitHub) is required with host \"github\"".into(),
        ));
    };
    let repository = RepoName::parse(full).map_err(Error::ImportRefused)?;
    let create = request.create.unwrap_or(false);
    let private = match request.visibility.as_deref() {
        None | Some("private") => true,
        Some("public") => false,
        Some(other) => {
            return Err(Error::ImportRefused(format!(
                "visibility {other:?} is not one of \"private\", \"public\""
            )));
        }
    };
    if request.visibility.is_some() && !create {
        return Err(Error::ImportRefused(
            "`visibility` applies only to a repository Kiln creates (`create: true`)".into(),
        ));
    }
    let merge_policy = request
        .merge_policy
        .clone()
        .unwrap_or_else(|| "auto".into());
    if !["auto", "on_approval"].contains(&merge_policy.as_str()) {
        return Err(Error::ImportRefused(format!(
            "merge_policy {merge_policy:?} is not one of \"auto\" (Kiln merges once the gate approves) or \"on_approval\" (and a person other than the requester approved)"
        )));
    }
    let Some(github) = state.github.as_ref() else {
        return Err(Error::ImportRefused(
            "GitHub is not configured: set [github] app_id and private_key_file (or token)".into(),
        ));
    };
    if queries::project_exists(&state.ctx.db, name).await? {
        return Err(Error::ProjectExists {
            name: name.to_owned(),
            suggestion: None,
        });
    }
    let existing = github.repository(&repository).await.map_err(github_error)?;
    let remote = match (existing, create) {
        (Some(_), true) => {
            return Err(Error::ImportFailed(format!(
                "{repository} already exists on GitHub; bind it with \"create\": false"
            )));
        }
        (None, false) => {
            return Err(Error::ImportFailed(format!(
                "{repository} was not found on GitHub, or the App is not installed on {} with access to it",
                repository.owner()
            )));
        }
        (Some(repo), false) => repo,
        (None, true) => github
            .create_repository(&repository, private)
            .await
            .map_err(github_error)?,
    };
    let Some(branch) = remote.default_branch.clone() else {
        return Err(Error::ImportFailed(format!(
            "{repository} has no default branch (it is empty): push a first commit to it"
        )));
    };
    let token = github.git_token(&repository).await.map_err(github_error)?;
    let url = ImportUrl::parse(&remote.clone_url, &[])
        .map_err(|e| Error::ImportFailed(format!("GitHub's clone URL: {e}")))?
        .with_auth(&HttpAuth::basic("x-access-token", token.expose()));
    tracing::info!(project = name, %repository, create, "binding a project to GitHub");
    Ok(Bound {
        repository,
        url,
        branch,
        created: create,
        merge_policy,
        plan_as_issues: request.plan_as_issues.unwrap_or(false),
    })
}
