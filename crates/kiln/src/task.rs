//! `kiln task ...`: submit tasks and follow them through the HTTP API, as any client would.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use serde_json::{Value, json};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Create a task; with --follow, stream its live log until it finishes. A new app names
    /// --template and --name; a change (`--kind change`) names the existing --project.
    New {
        #[arg(long, default_value = "new_app")]
        kind: String,
        #[arg(long, required_unless_present = "project")]
        template: Option<String>,
        /// Project name: lowercase letters, digits and '-'.
        #[arg(long, required_unless_present = "project")]
        name: Option<String>,
        /// The existing project a `change` or `revision` works on.
        #[arg(long, conflicts_with_all = ["template", "name"])]
        project: Option<String>,
        #[arg(long)]
        brief: String,
        /// Makes retries of this command safe: the same key never creates a second task.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[arg(long)]
        follow: bool,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
    /// Show one task as JSON.
    Get {
        id: String,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
    /// List recent tasks.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
}

/// The API token `kiln task` sends: `KILN_TOKEN`, else the admin token `kiln up` wrote to
/// `.kiln/admin-token` (or `$KILN_TOKEN_FILE`).
pub(crate) fn api_token() -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("KILN_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_owned());
    }
    let file = std::env::var("KILN_TOKEN_FILE").unwrap_or_else(|_| ".kiln/admin-token".into());
    match std::fs::read_to_string(&file) {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_owned()),
        _ => bail!(
            "no API token: set KILN_TOKEN (create one with `kiln token create --role operator \
             --name <you>`), or run from the directory where `kiln up` wrote {file}"
        ),
    }
}

/// Sends `req` to the API at `api` and returns its JSON answer, or the problem's detail as
/// the error (`kiln rag`, `kiln project`).
pub(crate) async fn answer(req: reqwest::RequestBuilder, api: &str) -> anyhow::Result<Value> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("reaching the Kiln API at {api}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body["detail"].as_str().unwrap_or("no detail")
        );
    }
    Ok(body)
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let token = api_token()?;
    let mut headers = reqwest::header::HeaderMap::new();
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
        .context("KILN_TOKEN is not valid header text")?;
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth.clone());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()?;
    match command {
        Command::New {
            kind,
            template,
            name,
            project,
            brief,
            idempotency_key,
            follow,
            api,
        } => {
            let mut body = json!({"kind": kind, "brief": brief});
            for (field, value) in [("template", template), ("name", name), ("project", project)] {
                if let Some(v) = value {
                    body[field] = Value::String(v);
                }
            }
            let mut req = http.post(format!("{api}/api/v1/tasks")).json(&body);
            if let Some(key) = idempotency_key {
                req = req.header("Idempotency-Key", key);
            }
            let body = answer(req, &api)
                .await
                .context("the API refused the task")?;
            let id = body["id"]
                .as_str()
                .context("the API answered without a task id")?
                .to_owned();
            println!("task {id} queued");
            if !follow {
                return Ok(ExitCode::SUCCESS);
            }
            follow_task(&http, &api, &id, auth.clone()).await
        }
        Command::Get { id, api } => {
            let body = get_task(&http, &api, &id).await?;
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::List {
            status,
            project,
            api,
        } => {
            let mut query = vec![];
            if let Some(s) = status {
                query.push(("status", s));
            }
            if let Some(p) = project {
                query.push(("project", p));
            }
            let body: Value = http
                .get(format!("{api}/api/v1/tasks"))
                .query(&query)
                .send()
                .await?
                .json()
                .await?;
            for t in body["items"].as_array().into_iter().flatten() {
                println!(
                    "{}  {:<26} {:<14} {}",
                    t["id"].as_str().unwrap_or("?"),
                    t["status"].as_str().unwrap_or("?"),
                    t["template"].as_str().unwrap_or("?"),
                    t["project"].as_str().unwrap_or("?")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn get_task(http: &reqwest::Client, api: &str, id: &str) -> anyhow::Result<Value> {
    let resp = http.get(format!("{api}/api/v1/tasks/{id}")).send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        bail!(
            "{status}: {}",
            body["detail"].as_str().unwrap_or("no detail")
        );
    }
    Ok(body)
}

const TERMINAL: [&str; 6] = [
    "deployed",
    "merged",
    "blocked",
    "failed",
    "cancelled",
    "rolled_back",
];

async fn follow_task(
    http: &reqwest::Client,
    api: &str,
    id: &str,
    auth: reqwest::header::HeaderValue,
) -> anyhow::Result<ExitCode> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let ws_url = format!("{}/ws/logs?task_id={id}", api.replacen("http", "ws", 1));
    let mut request = ws_url.as_str().into_client_request()?;
    request
        .headers_mut()
        .insert(reqwest::header::AUTHORIZATION, auth);
    let logs = tokio::spawn(async move {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await else {
            eprintln!("(live log unavailable)");
            return;
        };
        while let Some(Ok(msg)) = ws.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = msg
                && let Ok(line) = serde_json::from_str::<Value>(&text)
            {
                println!(
                    "{:>9} | {}",
                    line["service"].as_str().unwrap_or(""),
                    line["message"].as_str().unwrap_or("")
                );
            }
        }
    });
    let task = loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let task = get_task(http, api, id).await?;
        if TERMINAL.contains(&task["status"].as_str().unwrap_or("")) {
            break task;
        }
    };
    // Let the last log lines arrive before printing the outcome.
    tokio::time::sleep(Duration::from_millis(500)).await;
    logs.abort();
    let status = task["status"].as_str().unwrap_or("?");
    println!();
    println!("task {id}: {status}");
    if let Some(reason) = task["status_reason"].as_str() {
        println!("reason: {reason}");
    }
    for r in task["gate"]["reasons"].as_array().into_iter().flatten() {
        println!(
            "  gate [{}] {}",
            r["kind"].as_str().unwrap_or(""),
            r["message"].as_str().unwrap_or("")
        );
    }
    if let Some(url) = task["deployment"]["url"].as_str() {
        println!("live at {url}");
    }
    Ok(if status == "deployed" {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
