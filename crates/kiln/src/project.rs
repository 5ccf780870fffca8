//! `kiln project ...`: attach an existing repository (or bind one on GitHub) and see what
//! Kiln learned about it, through the HTTP API.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Mirror an existing git repository (with its history) into a new project.
    Import {
        /// Project name: lowercase letters, digits and '-'.
        #[arg(long)]
        name: String,
        /// https://..., ssh://... or file:///... (inside the API's [api] import_roots).
        #[arg(long)]
        url: String,
        /// Branch to import; it becomes the project's base branch.
        #[arg(long, default_value = "main")]
        branch: String,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
    /// Bind a new project to a repository on GitHub (created there first with --create).
    Bind {
        /// Project name: lowercase letters, digits and '-'.
        #[arg(long)]
        name: String,
        /// owner/name on GitHub.
        #[arg(long)]
        repository: String,
        /// Create the repository (an organisation the App is installed on) instead of
        /// binding one that exists.
        #[arg(long)]
        create: bool,
        /// private or public, for a repository Kiln creates.
        #[arg(long)]
        visibility: Option<String>,
        /// auto (merge once the gate approves) or on_approval (and a person approved).
        #[arg(long, default_value = "auto")]
        merge_policy: String,
        /// Write each plan as a tracking issue.
        #[arg(long)]
        plan_as_issues: bool,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
    /// Print a project's knowledge (stack, commands, conventions, ...) as JSON.
    Show {
        name: String,
        #[arg(long)]
        commit: Option<String>,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let token = crate::task::api_token()?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(660))
        .build()?;
    let (req, api) = match &command {
        Command::Import {
            name,
            url,
            branch,
            api,
        } => (
            http.post(format!("{api}/api/v1/projects"))
                .json(&json!({"name": name, "import": {"url": url, "branch": branch}})),
            api,
        ),
        Command::Bind {
            name,
            repository,
            create,
            visibility,
            merge_policy,
            plan_as_issues,
            api,
        } => {
            let mut body = json!({
                "name": name, "host": "github", "repository": repository,
                "create": create, "merge_policy": merge_policy, "plan_as_issues": plan_as_issues,
            });
            if let Some(v) = visibility {
                body["visibility"] = json!(v);
            }
            (http.post(format!("{api}/api/v1/projects")).json(&body), api)
        }
        Command::Show { name, commit, api } => {
            let mut q = vec![];
            if let Some(c) = commit {
                q.push(("commit", c.clone()));
            }
            (
                http.get(format!("{api}/api/v1/projects/{name}/knowledge"))
                    .query(&q),
                api,
            )
        }
    };
    let body = crate::task::answer(req.bearer_auth(token), api).await?;
    match command {
        Command::Import { .. } => println!(
            "imported {} from {} ({} at {}, {} commits); indexing and the knowledge scan follow",
            body["name"].as_str().unwrap_or_default(),
            body["source_url"].as_str().unwrap_or_default(),
            body["branch"].as_str().unwrap_or_default(),
            &body["commit"].as_str().unwrap_or_default()
                [..12.min(body["commit"].as_str().unwrap_or_default().len())],
            body["commits"],
        ),
        Command::Bind { .. } => println!(
            "bound {} to {} on GitHub ({} mirrored as main at {}); tasks become pull requests",
            body["name"].as_str().unwrap_or_default(),
            body["repository"].as_str().unwrap_or_default(),
            body["branch"].as_str().unwrap_or_default(),
            &body["commit"].as_str().unwrap_or_default()
                [..12.min(body["commit"].as_str().unwrap_or_default().len())],
        ),
        Command::Show { .. } => println!("{}", serde_json::to_string_pretty(&body)?),
    }
    Ok(ExitCode::SUCCESS)
}
