//! What a task looks like on GitHub, computed from its records without I/O: the pull
//! request's title and body, and the state of each check run on the head commit.
//!
//! Every text that came from a person or a model (brief, stories, findings, test output) is
//! put in a fenced block or escaped, so it renders as text and can never be read as
//! Markdown that mentions people, closes issues or links elsewhere.

use kiln_store::TaskStatus;
use kiln_store::records::{Deployment, GateDecision, Plan, Review, TestError, TestRun};
use kiln_store::tasks::Task;

use crate::{Annotation, CheckOutput, CheckRunWrite};

/// GitHub accepts at most 50 annotations per request; Kiln sends the first 50 errors.
pub const MAX_ANNOTATIONS: usize = 50;
/// GitHub's limit on a check run's summary and text, and on a pull request body.
const MAX_TEXT: usize = 60_000;

/// Everything the rendering reads about one task.
#[derive(Debug, Clone)]
pub struct TaskView {
    pub task: Task,
    pub plan: Option<Plan>,
    /// The round whose commit is the pull request's head.
    pub round: i32,
    pub head_sha: String,
    pub test_runs: Vec<TestRun>,
    /// Structured errors of the head round.
    pub test_errors: Vec<TestError>,
    /// Reviews of the head round.
    pub reviews: Vec<Review>,
    pub gate: Option<GateDecision>,
    pub deployments: Vec<Deployment>,
    pub task_url: Option<String>,
    /// The issue (in the same repository) the task came from.
    pub issue: Option<i64>,
    /// The tracking issue its plan was written as.
    pub plan_issue: Option<i64>,
}

/// The check run names, one per stage (and one per reviewer).
pub mod names {
    pub const TESTS: &str = "kiln/tests";
    pub const GATE: &str = "kiln/release-gate";
    pub const DEPLOYMENT: &str = "kiln/deployment";

    /// `kiln/review-<focus>` for a reviewer's stored name.
    pub fn review(reviewer: &str) -> String {
        let focus = match reviewer {
            "story_alignment" => "story",
            "test_quality" => "tests",
            "deterministic" => "rules",
            other => other,
        };
        format!("kiln/review-{focus}")
    }
}

/// Text in a fenced block that no content can close early.
pub fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}", text.trim_end())
}

/// One line of untrusted text as inline Markdown: Markdown's special characters escaped,
/// `@` defused so nobody is mentioned, newlines folded.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '@' => out.push_str("@\u{200b}"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '<'
            | '>' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Untrusted text as one inline code span: Markdown is not read inside it, so nothing is
/// escaped (a backslash would show); only backticks, which would end the span, and line
/// breaks are replaced.
pub fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' => ' ',
            c => c,
        })
        .filter(|c| !c.is_control())
        .collect();
    format!("`{}`", text.trim())
}

fn cut(text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut end = MAX_TEXT - 40;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n\n(cut at {MAX_TEXT} characters)", &text[..end])
}

/// The pull request's title: the epic, or the brief's first line.
pub fn pull_title(view: &TaskView) -> String {
    let base = view
        .plan
        .as_ref()
        .map(|p| p.epic.clone())
        .unwrap_or_else(|| view.task.brief.lines().next().unwrap_or("").to_owned());
    let base: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    format!("Kiln: {}", base.trim())
}

/// The pull request's body: the plan, the stories, the test summary and the link to the task.
pub fn pull_body(view: &TaskView) -> String {
    let t = &view.task;
    let mut b = String::new();
    b.push_str(&format!("Kiln task `{}` ({}).", t.id, t.kind));
    if let Some(url) = &view.task_url {
        b.push_str(&format!(" [Open it in the dashboard]({url})."));
    }
    if let Some(n) = view.issue {
        b.push_str(&format!("\n\nResolves #{n}."));
    }
    if let Some(n) = view.plan_issue {
        b.push_str(&format!("\n\nCloses #{n} (the plan)."));
    }
    b.push_str("\n\n### Brief\n\n");
    b.push_str(&fenced(&t.brief));
    if let Some(plan) = &view.plan {
        b.push_str("\n\n### Plan\n\n");
        b.push_str(&inline(&plan.epic));
        b.push('\n');
        for (i, s) in plan.stories.iter().enumerate() {
            b.push_str(&format!("\n{}. **{}**", i + 1, inline(&s.title)));
            for a in &s.acceptance {
                b.push_str(&format!("\n   - {}", inline(a)));
            }
        }
    }
    b.push_str("\n\n### Tests\n\n");
    match view
        .test_runs
        .iter()
        .rev()
        .find(|r| r.commit_sha == view.head_sha)
    {
        Some(run) => b.push_str(&test_summary(run)),
        None => b.push_str("Not run on this commit yet."),
    }
    // No live status here: it would rewrite the body at every stage. The checks say it.
    b.push_str("\n\n---\nEach stage reports as a `kiln/...` check on the head commit.");
    cut(b)
}

fn test_summary(run: &TestRun) -> String {
    let mut s = match (&run.error, run.passed) {
        (Some(e), _) => format!("Could not run: {}", inline(e)),
        (None, true) => format!("Passed (round {}).", run.round),
        (None, false) => format!("Failed (round {}).", run.round),
    };
    for c in &run.commands {
        let outcome = match (c.timed_out, c.exit_code) {
            (true, _) => "timed out".to_owned(),
            (false, Some(0)) => "ok".to_owned(),
            (false, Some(code)) => format!("exit {code}"),
            (false, None) => "killed".to_owned(),
        };
        s.push_str(&format!(
            "\n- {} {}: {outcome} in {:.1} s",
            c.phase,
            code(&c.command),
            c.duration_ms as f64 / 1000.0
        ));
    }
    s
}

fn run(
    view: &TaskView,
    name: String,
    status: &'static str,
    conclusion: Option<&'static str>,
    output: CheckOutput,
) -> CheckRunWrite {
    CheckRunWrite {
        name,
        head_sha: view.head_sha.clone(),
        status,
        conclusion,
        details_url: view.task_url.clone(),
        external_id: Some(view.task.id.to_string()),
        output: CheckOutput {
            summary: cut(output.summary),
            text: output.text.map(cut),
            ..output
        },
    }
}

fn output(title: impl Into<String>, summary: impl Into<String>) -> CheckOutput {
    CheckOutput {
        title: title.into(),
        summary: summary.into(),
        text: None,
        annotations: Vec::new(),
    }
}

/// Where the task stands relative to a stage: not reached yet, running, or past it.
fn stage_reached(status: TaskStatus, stage: &[TaskStatus]) -> bool {
    stage.contains(&status)
}

/// The check runs the head commit should show now. A stage the task has not reached has no
/// check run yet; one it is in is `in_progress`; a finished one is `completed`. (A check left
/// `in_progress` by a task that ended meanwhile is completed as `cancelled` by
/// [`cancelled`].)
pub fn checks(view: &TaskView) -> Vec<CheckRunWrite> {
    use TaskStatus as S;
    let status = view.task.status;
    let mut out = Vec::new();

    // Tests.
    let test = view
        .test_runs
        .iter()
        .rev()
        .find(|r| r.commit_sha == view.head_sha);
    match test {
        Some(r) => {
            let (conclusion, title) = match (&r.error, r.passed) {
                (Some(_), _) => ("failure", "Tests could not run".to_owned()),
                (None, true) => ("success", "Tests passed".to_owned()),
                (None, false) => (
                    "failure",
                    format!("Tests failed: {} error(s) found", view.test_errors.len()),
                ),
            };
            let mut o = output(title, test_summary(r));
            if let Some(stop) = &r.stop_reason {
                o.summary
                    .push_str(&format!("\n\nFix loop stopped: {}", inline(stop)));
            }
            let tails: Vec<String> = r
                .commands
                .iter()
                .filter(|c| c.exit_code != Some(0))
                .map(|c| format!("{}:\n{}", c.command, fenced(&c.output_tail)))
                .collect();
            if !tails.is_empty() {
                o.text = Some(tails.join("\n\n"));
            }
            o.annotations = annotations(&view.test_errors);
            out.push(run(
                view,
                names::TESTS.into(),
                "completed",
                Some(conclusion),
                o,
            ));
        }
        None if stage_reached(status, &[S::Testing, S::Fixing]) => out.push(run(
            view,
            names::TESTS.into(),
            "in_progress",
            None,
            output("Testing", "The tests are running in the sandbox."),
        )),
        None => {}
    }

    // Reviews: one check per reviewer of the head round.
    for r in &view.reviews {
        let conclusion = match r.verdict.as_str() {
            "pass" => "success",
            "concerns" => "neutral",
            _ => "failure",
        };
        let mut o = output(format!("Review: {}", r.verdict), inline(&r.summary));
        let mut text = String::new();
        for f in &r.findings {
            let place = match (&f.file, f.line) {
                (Some(file), Some(line)) => format!(" ({}:{line})", inline(file)),
                (Some(file), None) => format!(" ({})", inline(file)),
                _ => String::new(),
            };
            text.push_str(&format!(
                "- [{}] {}{place}: {}\n",
                f.severity,
                inline(&f.rule),
                inline(&f.message)
            ));
        }
        if !text.is_empty() {
            o.text = Some(text);
        }
        o.annotations = r
            .findings
            .iter()
            .filter_map(|f| {
                let line = u32::try_from(f.line?).ok().filter(|l| *l > 0)?;
                Some(Annotation {
                    path: f.file.clone()?,
                    start_line: line,
                    end_line: line,
                    annotation_level: match f.severity.as_str() {
                        "high" | "critical" => "failure",
                        "medium" | "low" => "warning",
                        _ => "notice",
                    },
                    message: f.message.chars().take(4000).collect(),
                    title: Some(f.rule.chars().take(200).collect()),
                })
            })
            .take(MAX_ANNOTATIONS)
            .collect();
        out.push(run(
            view,
            names::review(&r.reviewer),
            "completed",
            Some(conclusion),
            o,
        ));
    }

    // The gate.
    let gate = view.gate.as_ref().filter(|g| g.round == view.round);
    match gate {
        Some(g) if status == S::AwaitingReleaseApproval => {
            out.push(run(
                view,
                names::GATE.into(),
                "in_progress",
                None,
                output("Waiting for a person to approve the release", reasons(g)),
            ));
        }
        Some(g) => {
            let conclusion = match g.decision.as_str() {
                "approved" => "success",
                "skipped" => "neutral",
                _ => "failure",
            };
            out.push(run(
                view,
                names::GATE.into(),
                "completed",
                Some(conclusion),
                output(format!("Release gate: {}", g.decision), reasons(g)),
            ));
        }
        None if status == S::Gating => out.push(run(
            view,
            names::GATE.into(),
            "in_progress",
            None,
            output(
                "Deciding",
                "The release gate is weighing tests and reviews.",
            ),
        )),
        None => {}
    }

    // The deployment (or the merge, for a change with nothing to deploy).
    // The head itself, or (on GitHub) the merge commit of the head.
    let deployed = view.deployments.last();
    match (deployed, status) {
        (Some(d), _) if d.status == "live" || d.status == "superseded" || d.status == "stopped" => {
            out.push(run(
                view,
                names::DEPLOYMENT.into(),
                "completed",
                Some("success"),
                output(
                    "Deployed and verified",
                    format!("Live at {} on target {}.", d.url, code(&d.target)),
                ),
            ))
        }
        (Some(d), _) => out.push(run(
            view,
            names::DEPLOYMENT.into(),
            "completed",
            Some("failure"),
            output(
                format!("Deployment {}", d.status),
                format!(
                    "Verification failed on target {}: {}",
                    code(&d.target),
                    fenced(&d.verification.to_string())
                ),
            ),
        )),
        (None, S::Deploying | S::Verifying) => out.push(run(
            view,
            names::DEPLOYMENT.into(),
            "in_progress",
            None,
            output(
                "Deploying",
                "The approved commit is being merged and deployed.",
            ),
        )),
        (None, S::Merged) => out.push(run(
            view,
            names::DEPLOYMENT.into(),
            "completed",
            Some("success"),
            output(
                "Merged",
                view.task
                    .status_reason
                    .as_deref()
                    .map(inline)
                    .unwrap_or_else(|| "Merged; the project has no deploy recipe.".into()),
            ),
        )),
        _ => {}
    }

    out
}

/// How a check that was left running is closed when its task ended without finishing it.
pub fn cancelled(view: &TaskView, name: &str) -> CheckRunWrite {
    let status = view.task.status;
    let why = view
        .task
        .status_reason
        .as_deref()
        .map(inline)
        .unwrap_or_else(|| format!("The task ended {status}."));
    run(
        view,
        name.to_owned(),
        "completed",
        Some("cancelled"),
        output(format!("Task {status}"), why),
    )
}

/// The marker that finds a task's tracking issue again on GitHub.
pub fn plan_marker(view: &TaskView) -> String {
    format!("<!-- kiln-plan:{} -->", view.task.id)
}

/// The tracking issue of a plan: its title and a body with one task-list item per story.
pub fn plan_issue(view: &TaskView, plan: &Plan) -> (String, String) {
    let title: String = format!("Plan: {}", plan.epic)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let mut b = format!("The plan of Kiln task `{}`.", view.task.id);
    if let Some(url) = &view.task_url {
        b.push_str(&format!(" [Open it in the dashboard]({url})."));
    }
    b.push_str("\n\n");
    for s in &plan.stories {
        b.push_str(&format!("- [ ] **{}**", inline(&s.title)));
        for a in &s.acceptance {
            b.push_str(&format!("\n  - {}", inline(a)));
        }
        b.push('\n');
    }
    b.push_str(&format!("\n{}\n", plan_marker(view)));
    (title, cut(b))
}

/// The comment on a merged pull request: what was deployed from the merge commit.
pub fn merged_comment(view: &TaskView, merge: &str, deployment: &CheckRunWrite) -> String {
    let mut text = format!(
        "Merged as {merge} by Kiln after the release gate approved {}.\n\n**{}**: {}",
        view.head_sha, deployment.output.title, deployment.output.summary
    );
    if let Some(url) = &view.task_url {
        text.push_str(&format!("\n\n[The task in the dashboard]({url})"));
    }
    cut(text)
}

fn reasons(g: &GateDecision) -> String {
    if g.reasons.is_empty() {
        return "No reasons recorded.".into();
    }
    g.reasons
        .iter()
        .map(|r| format!("- **{}** {}: {}", r.kind, code(&r.code), inline(&r.message)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Structured test errors with a file and line, as check-run annotations.
pub fn annotations(errors: &[TestError]) -> Vec<Annotation> {
    errors
        .iter()
        .filter_map(|e| {
            let path = e.file.clone()?;
            let line = u32::try_from(e.line?).ok().filter(|l| *l > 0)?;
            Some(Annotation {
                path,
                start_line: line,
                end_line: line,
                annotation_level: "failure",
                message: e.message.chars().take(4000).collect(),
                title: Some(
                    format!("{}: {}", e.tool, e.command)
                        .chars()
                        .take(200)
                        .collect(),
                ),
            })
        })
        .take(MAX_ANNOTATIONS)
        .collect()
}

#[cfg(test)]
mod tests {
    use kiln_store::records::{Finding, Reason, Story, TestCommand};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn view(status: TaskStatus) -> TaskView {
        let now = OffsetDateTime::now_utc();
        TaskView {
            task: Task {
                id: Uuid::nil(),
                project_id: Uuid::nil(),
                project: "shop".into(),
                kind: "change".into(),
                template: String::new(),
                brief: "Add a cart\n@everyone see ```".into(),
                options: serde_json::json!({}),
                status,
                status_reason: None,
                llm_mode: "offline".into(),
                branch: "kiln/x".into(),
                base_commit: None,
                created_at: now,
                updated_at: now,
                finished_at: None,
            },
            plan: Some(Plan {
                epic: "A cart [click](http://evil)".into(),
                planner: "offline".into(),
                stories: vec![Story {
                    title: "Cart".into(),
                    description: String::new(),
                    acceptance: vec!["@admin can add".into()],
                }],
            }),
            round: 1,
            head_sha: "b".repeat(40),
            test_runs: vec![TestRun {
                round: 1,
                commit_sha: "b".repeat(40),
                passed: false,
                error: None,
                stop_reason: None,
                fingerprint: None,
                started_at: now,
                finished_at: now,
                commands: vec![TestCommand {
                    phase: "test".into(),
                    command: "npm test".into(),
                    exit_code: Some(1),
                    timed_out: false,
                    duration_ms: 1500,
                    output_tail: "not ok 1\n```\nfake".into(),
                    limit_hit: None,
                }],
                isolation: None,
            }],
            test_errors: vec![
                TestError {
                    tool: "node-test".into(),
                    command: "npm test".into(),
                    file: Some("src/cart.js".into()),
                    line: Some(12),
                    column: None,
                    message: "expected 2".into(),
                },
                TestError {
                    tool: "node-test".into(),
                    command: "npm test".into(),
                    file: None,
                    line: None,
                    column: None,
                    message: "no place".into(),
                },
            ],
            reviews: vec![Review {
                round: 1,
                reviewer: "security".into(),
                verdict: "concerns".into(),
                summary: "one finding".into(),
                findings: vec![Finding {
                    rule: "xss".into(),
                    severity: "medium".into(),
                    file: Some("src/cart.js".into()),
                    line: Some(3),
                    message: "escape it".into(),
                }],
            }],
            gate: None,
            deployments: vec![],
            task_url: Some("https://kiln.example/tasks/x".into()),
            issue: Some(7),
            plan_issue: Some(8),
        }
    }

    #[test]
    fn untrusted_text_cannot_escape_its_fence_or_mention_anyone() {
        let v = view(TaskStatus::Reviewing);
        let body = pull_body(&v);
        assert!(
            body.contains("````text\nAdd a cart\n@everyone see ```\n````"),
            "{body}"
        );
        assert!(
            body.contains("A cart \\[click\\]\\(http://evil\\)"),
            "{body}"
        );
        assert!(body.contains("@\u{200b}admin can add"), "{body}");
        assert!(body.contains("[Open it in the dashboard](https://kiln.example/tasks/x)"));
        assert!(body.contains("Resolves #7."), "{body}");
        assert!(body.contains("Closes #8 (the plan)."), "{body}");
        let (title, issue) = plan_issue(&v, v.plan.as_ref().unwrap());
        assert_eq!(title, "Plan: A cart [click](http://evil)");
        assert!(
            issue.contains("- [ ] **Cart**\n  - @\u{200b}admin can add\n"),
            "{issue}"
        );
        assert!(issue.contains(&plan_marker(&v)), "{issue}");
        assert!(
            body.contains("- test `npm test`: exit 1 in 1.5 s"),
            "{body}"
        );
        assert_eq!(pull_title(&v), "Kiln: A cart [click](http://evil)");
    }

    #[test]
    fn each_stage_reports_its_own_check() {
        let v = view(TaskStatus::Reviewing);
        let c = checks(&v);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["kiln/tests", "kiln/review-security"]);
        assert_eq!(c[0].conclusion, Some("failure"));
        assert_eq!(c[0].output.annotations.len(), 1);
        assert_eq!(c[0].output.annotations[0].path, "src/cart.js");
        assert_eq!(c[0].output.annotations[0].start_line, 12);
        assert!(
            c[0].output
                .text
                .as_deref()
                .unwrap()
                .contains("````text\nnot ok 1")
        );
        assert_eq!(c[1].conclusion, Some("neutral"));
        assert_eq!(c[1].output.annotations[0].annotation_level, "warning");

        let mut v = view(TaskStatus::Deploying);
        v.gate = Some(GateDecision {
            round: 1,
            decision: "approved".into(),
            reasons: vec![Reason {
                code: "tests_passed".into(),
                kind: "info".into(),
                message: "all green".into(),
            }],
            decided_by: "gate".into(),
        });
        let c = checks(&v);
        let gate = c.iter().find(|c| c.name == names::GATE).unwrap();
        assert_eq!(gate.conclusion, Some("success"));
        assert!(
            gate.output
                .summary
                .contains("- **info** `tests_passed`: all green")
        );
        let deploy = c.iter().find(|c| c.name == names::DEPLOYMENT).unwrap();
        assert_eq!(deploy.status, "in_progress");

        // Ending mid-deploy: nothing runs any more, and a running check is cancelled.
        v.task.status = TaskStatus::Cancelled;
        v.task.status_reason = Some("closed by a person".into());
        let c = checks(&v);
        assert!(c.iter().all(|c| c.status == "completed"), "{c:?}");
        let closed = cancelled(&v, names::DEPLOYMENT);
        assert_eq!(closed.conclusion, Some("cancelled"));
        assert_eq!(closed.output.summary, "closed by a person");
        let mut v = view(TaskStatus::Testing);
        v.test_runs.clear();
        v.reviews.clear();
        assert_eq!(checks(&v)[0].status, "in_progress");
        v.task.status = TaskStatus::Failed;
        v.task.status_reason = Some("sandbox broke".into());
        let c = checks(&v);
        assert!(c.is_empty(), "a stage never reached reports nothing: {c:?}");
    }

    #[test]
    fn a_code_span_holds_any_text_without_escapes() {
        assert_eq!(
            code("cargo test --all_features"),
            "`cargo test --all_features`"
        );
        assert_eq!(code("a`b\nc"), "`a'b c`");
    }

    #[test]
    fn reviewer_names_map_to_check_names() {
        assert_eq!(names::review("story_alignment"), "kiln/review-story");
        assert_eq!(names::review("test_quality"), "kiln/review-tests");
        assert_eq!(names::review("architecture"), "kiln/review-architecture");
        assert_eq!(names::review("security"), "kiln/review-security");
        assert_eq!(names::review("deterministic"), "kiln/review-rules");
    }
}
