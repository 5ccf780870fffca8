//! Model-driven codegen: one step per story on top of the template scaffold, and fix rounds
//! that answer the tester's structured errors. Each step is a commit with trailers, so a
//! redelivered work item skips the steps already made instead of paying for them again.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use kiln_agents::Agent;
use kiln_agents::prompts::{self, CodegenInput, EditStyle};
use kiln_changes::edits;
use kiln_contracts::WorkItem;
use kiln_git::Workdir;
use kiln_llm::Message;
use kiln_runtime::{Ctx, HandlerError, Job};
use kiln_store::records::{Story, TestError};

use crate::{Config, classify_git};

/// How long a story or fix step waits for retrieved context: the indexer may first have to
/// index the commit.
const RETRIEVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Directories and files never shown to the model nor edited through it.
const SKIP_DIRS: &[&str] = &[
    ".git",
    "node_modules",
    "dist",
    "build",
    "target",
    ".next",
    "vendor",
    "__pycache__",
];
const SKIP_FILES: &[&str] = &[
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "composer.lock",
];

/// The repository's text files, as the model sees them.
pub fn read_tree(root: &Path, max_file_bytes: u64) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if ty.is_symlink() {
                continue;
            }
            if ty.is_dir() {
                if !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push(entry.path());
                }
                continue;
            }
            if SKIP_FILES.contains(&name.as_str()) || entry.metadata()?.len() > max_file_bytes {
                continue;
            }
            let Ok(text) = String::from_utf8(std::fs::read(entry.path())?) else {
                continue;
            };
            let rel = entry
                .path()
                .strip_prefix(root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or(name);
            out.insert(rel, text);
        }
    }
    Ok(out)
}

/// Files for the prompt, largest-last, within a character budget.
fn prompt_files(tree: &BTreeMap<String, String>, budget: usize) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> =
        tree.iter().map(|(p, c)| (p.clone(), c.clone())).collect();
    files.sort_by_key(|(p, c)| (c.len(), p.clone()));
    let mut used = 0;
    let mut out = Vec::new();
    for (p, c) in files {
        if used + c.len() > budget {
            continue;
        }
        used += c.len();
        out.push((p, c));
    }
    out.sort();
    out
}

/// For a change: the whole text of the files errors name, then of the files retrieval
/// found (in its order), within `budget` characters. Files that do not fit are still seen
/// through their retrieved chunks; files retrieval did not find are not shown at all.
fn retrieved_files(
    tree: &BTreeMap<String, String>,
    named: &[String],
    context: &[(String, String)],
    budget: usize,
) -> Vec<(String, String)> {
    let found = context
        .iter()
        .map(|(place, _)| place.rsplit_once(':').map_or(place.as_str(), |(p, _)| p));
    let mut out: Vec<(String, String)> = Vec::new();
    let mut used = 0;
    for path in named.iter().map(String::as_str).chain(found) {
        if out.iter().any(|(p, _)| p == path) {
            continue;
        }
        let Some(text) = tree.get(path) else { continue };
        if used + text.len() > budget {
            continue;
        }
        used += text.len();
        out.push((path.to_owned(), text.clone()));
    }
    out
}

/// Retrieved context from the indexer over `<prefix>.rag.query` about `commit`, when it
/// answers in time: ("path:start-end", text) pairs, the files in `paths` first.
async fn retrieve(
    cx: &Ctx,
    project: &str,
    commit: Option<String>,
    query: &str,
    paths: Vec<String>,
    budget_tokens: usize,
) -> Vec<(String, String)> {
    let question = kiln_contracts::rag::RagQuery {
        project: project.to_owned(),
        commit,
        query: query.to_owned(),
        k: 8,
        budget_tokens,
        paths,
        mode: None,
    };
    let body = serde_json::to_vec(&question).unwrap_or_default();
    let asked = tokio::time::timeout(
        RETRIEVE_TIMEOUT,
        cx.nats.request(cx.subjects.rag_query(), body.into()),
    )
    .await;
    let Ok(Ok(reply)) = asked else {
        return vec![];
    };
    match serde_json::from_slice::<kiln_contracts::rag::RagReply>(&reply.payload) {
        Ok(kiln_contracts::rag::RagReply::Answer(a)) => a
            .snippets
            .into_iter()
            .map(|s| {
                (
                    format!("{}:{}-{}", s.path, s.start_line, s.end_line),
                    s.text,
                )
            })
            .collect(),
        _ => vec![],
    }
}

/// What one model step is about.
pub enum Step<'a> {
    Story {
        index: usize,
        total: usize,
        epic: &'a str,
        story: &'a Story,
    },
    Fix {
        round: u32,
        errors: &'a [TestError],
        output_tail: &'a str,
    },
}

pub struct StepResult {
    pub changed: Vec<String>,
}

/// Asks the model for edits, applies them (re-asking with the precise error when they do
/// not apply), writes them into `wd`. Nothing is committed here.
pub async fn run_step(
    agent: &Agent,
    config: &Config,
    cx: &Ctx,
    job: &Job<WorkItem>,
    stack: &str,
    wd: &Workdir,
    step: Step<'_>,
) -> Result<StepResult, HandlerError> {
    let task = &job.task;
    let tree = read_tree(wd.path(), config.max_file_bytes)
        .map_err(|e| HandlerError::retryable("reading the repository", &e))?;
    let memory: Vec<String> = kiln_store::memory::lessons(&cx.db, task.project_id)
        .await?
        .into_iter()
        .map(|l| l.lesson)
        .collect();
    // A change to an existing repository shows the model retrieved code, not every file,
    // so it must edit by SEARCH/REPLACE: rewriting a whole file it saw a part of would
    // destroy the rest.
    let change = task.kind == "change";
    let style = match agent.model().edit_format {
        _ if change => EditStyle::SearchReplace,
        kiln_llm::EditFormat::Whole => EditStyle::Whole,
        kiln_llm::EditFormat::SearchReplace => EditStyle::SearchReplace,
    };
    let query = match &step {
        Step::Story { story, .. } => format!("{} {}", story.title, story.description),
        Step::Fix { errors, .. } => errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    };
    // Files named in errors always come back, whatever they score.
    let named: Vec<String> = match &step {
        Step::Fix { errors, .. } => {
            let mut files: Vec<String> = errors.iter().filter_map(|e| e.file.clone()).collect();
            files.sort();
            files.dedup();
            files
        }
        Step::Story { .. } => vec![],
    };
    let head = wd.head().await.ok().flatten();
    let context = retrieve(
        cx,
        &task.project,
        head,
        &query,
        named.clone(),
        config.max_prompt_chars / 8,
    )
    .await;
    if context.is_empty() {
        job.log
            .info("no retrieved context (indexer did not answer); using the files themselves")
            .await;
    } else {
        let places: Vec<&str> = context.iter().map(|(place, _)| place.as_str()).collect();
        job.log
            .info(format!(
                "retrieved context for the model: {}",
                places.join(", ")
            ))
            .await;
    }
    let files = if change && !context.is_empty() {
        let files = retrieved_files(&tree, &named, &context, config.max_prompt_chars / 2);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        job.log
            .info(format!(
                "files shown to the model whole: {} (of {} in the repository)",
                if paths.is_empty() {
                    "none".to_owned()
                } else {
                    paths.join(", ")
                },
                tree.len()
            ))
            .await;
        files
    } else {
        if change {
            job.log
                .warn("no retrieved context for a change; showing the files that fit the prompt")
                .await;
        }
        prompt_files(&tree, config.max_prompt_chars)
    };
    let input = CodegenInput {
        project: &task.project,
        template: &task.template,
        stack,
        style,
        memory: &memory,
        context: &context,
        files: &files,
    };
    let (system, user) = match &step {
        Step::Story {
            index,
            total,
            epic,
            story,
        } => prompts::codegen_story(&input, *index, *total, epic, story),
        Step::Fix {
            round,
            errors,
            output_tail,
        } => prompts::codegen_fix(&input, *round, errors, output_tail),
    };
    let call = agent.context(task, "codegen");
    let mut messages = vec![Message::user(user)];
    let mut last_error = String::new();
    for attempt in 1..=config.edit_attempts {
        let reply = agent.chat(&call, &system, &messages, None).await?;
        let mut files = tree.clone();
        let applied = edits::parse(&reply.content)
            .map_err(|e| e.to_string())
            .and_then(|edits| {
                check_paths(&edits)?;
                edits::apply(&mut files, &edits).map_err(|e| e.to_string())
            });
        match applied {
            Ok(applied) => {
                for path in applied.changed.iter().chain(applied.created.iter()) {
                    let content = files.get(path).map(String::as_bytes).unwrap_or_default();
                    let executable = path.ends_with(".sh");
                    wd.write_file(path, content, executable)
                        .await
                        .map_err(|e| classify_git("writing an edited file", e))?;
                }
                for path in &applied.deleted {
                    wd.remove_file(path)
                        .await
                        .map_err(|e| classify_git("deleting a file", e))?;
                }
                let mut changed: Vec<String> = applied
                    .changed
                    .iter()
                    .chain(&applied.created)
                    .chain(&applied.deleted)
                    .cloned()
                    .collect();
                changed.sort();
                job.log
                    .info(format!(
                        "model edits applied on attempt {attempt}: {}",
                        changed.join(", ")
                    ))
                    .await;
                return Ok(StepResult { changed });
            }
            Err(e) => {
                job.log
                    .warn(format!("model edits rejected (attempt {attempt}): {e}"))
                    .await;
                last_error = e.clone();
                messages.push(Message::assistant(reply.content));
                messages.push(Message::user(prompts::edits_rejected(&e)));
            }
        }
    }
    Err(HandlerError::Permanent(format!(
        "the model's edit blocks did not apply after {} attempts: {last_error}",
        config.edit_attempts
    )))
}

fn check_paths(edits: &[edits::Edit]) -> Result<(), String> {
    for e in edits {
        kiln_changes::paths::check_path(e.path()).map_err(|err| err.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_sees_named_and_retrieved_files_only() {
        let tree: BTreeMap<String, String> = [
            ("src/cart.py", "def total(): ..."),
            ("src/tax.py", "RATE = 0.2"),
            ("src/unrelated.py", "x = 1"),
            ("big.py", &"y = 2\n".repeat(100)),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_owned(), t.to_owned()))
        .collect();
        let context = vec![
            ("src/cart.py:1-1".to_owned(), "def total(): ...".to_owned()),
            ("big.py:1-3".to_owned(), "y = 2".to_owned()),
            ("src/cart.py:5-9".to_owned(), "...".to_owned()),
        ];
        let named = vec!["src/tax.py".to_owned()];
        let files = retrieved_files(&tree, &named, &context, 100);
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        // The named file first, then what retrieval found; too big and unfound files stay out.
        assert_eq!(paths, ["src/tax.py", "src/cart.py"]);
    }
}
