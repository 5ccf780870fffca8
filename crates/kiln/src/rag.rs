//! `kiln rag ...`: index a project and search its code through the HTTP API.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Bring a project's retrieval index to a commit now (default: its base branch).
    Index {
        #[arg(long)]
        project: String,
        #[arg(long)]
        commit: Option<String>,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
    /// Search a project's code: hybrid dense + BM25 retrieval, best files first.
    Query {
        #[arg(long)]
        project: String,
        /// Words, identifiers, paths or an error message.
        text: String,
        /// Files to show.
        #[arg(long, default_value_t = 10)]
        top: usize,
        #[arg(long)]
        commit: Option<String>,
        /// hybrid, dense or sparse.
        #[arg(long)]
        mode: Option<String>,
        /// Print the API's JSON answer instead of a listing.
        #[arg(long)]
        json: bool,
        #[arg(long, env = "KILN_API_URL", default_value = "http://127.0.0.1:8080")]
        api: String,
    },
}

pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    let token = crate::task::api_token()?;
    let http = reqwest::Client::builder()
        // Indexing a large repository for the first time takes a while.
        .timeout(Duration::from_secs(180))
        .build()?;
    let (req, api) = match &command {
        Command::Index {
            project,
            commit,
            api,
        } => {
            let mut q = vec![];
            if let Some(c) = commit {
                q.push(("commit", c.clone()));
            }
            (
                http.post(format!("{api}/api/v1/projects/{project}/index"))
                    .query(&q),
                api,
            )
        }
        Command::Query {
            project,
            text,
            top,
            commit,
            mode,
            api,
            ..
        } => {
            let mut q = vec![("q", text.clone()), ("k", top.to_string())];
            if let Some(c) = commit {
                q.push(("commit", c.clone()));
            }
            if let Some(m) = mode {
                q.push(("mode", m.clone()));
            }
            (
                http.get(format!("{api}/api/v1/projects/{project}/search"))
                    .query(&q),
                api,
            )
        }
    };
    let body = crate::task::answer(req.bearer_auth(token), api).await?;
    if let Some(w) = body["warning"].as_str() {
        eprintln!("warning: {w}");
    }
    match command {
        Command::Index { .. } => {
            let skipped: Vec<String> = body["skipped"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            println!(
                "{} at {}: {} files indexed, {} written ({} chunks, {} lines), {} removed{} in {} ms",
                body["project"].as_str().unwrap_or_default(),
                short(body["commit"].as_str().unwrap_or_default()),
                body["files"],
                body["written"],
                body["chunks"],
                body["lines"],
                body["deleted"],
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; left out {}", skipped.join(", "))
                },
                body["took_ms"],
            );
        }
        Command::Query { json: true, .. } => println!("{}", serde_json::to_string_pretty(&body)?),
        Command::Query { .. } => {
            println!(
                "{} files at {} ({}, {} ms)",
                body["files"].as_array().map_or(0, Vec::len),
                short(body["commit"].as_str().unwrap_or_default()),
                body["mode"].as_str().unwrap_or_default(),
                body["took_ms"],
            );
            let snippets = body["snippets"].as_array().cloned().unwrap_or_default();
            for (i, f) in body["files"].as_array().into_iter().flatten().enumerate() {
                let path = f["path"].as_str().unwrap_or_default();
                let lines: Vec<String> = snippets
                    .iter()
                    .filter(|s| s["path"].as_str() == Some(path))
                    .map(|s| {
                        let symbols: Vec<&str> = s["symbols"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect();
                        format!(
                            "{}-{}{}",
                            s["start_line"],
                            s["end_line"],
                            if symbols.is_empty() {
                                String::new()
                            } else {
                                format!(" {}", symbols.join(", "))
                            }
                        )
                    })
                    .collect();
                println!(
                    "{:>3}. {path}  {:.4}{}",
                    i + 1,
                    f["score"].as_f64().unwrap_or_default(),
                    if lines.is_empty() {
                        String::new()
                    } else {
                        format!("  lines {}", lines.join("; "))
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}
