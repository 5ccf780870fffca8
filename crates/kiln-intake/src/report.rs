//! What a chat thread or an issue shows for a task: one progress text, re-rendered from a
//! [`TaskSnapshot`] whenever the task moves and edited into the same message, listing the
//! stages that ran, what the task waits for, and the live URL at the end.
//!
//! The text is plain: every field that came from a person or a model (project names,
//! summaries, questions, reasons) is cleaned of control and bidirectional-override
//! characters, cut to a line's length, and the whole text is fitted to the surface's limit,
//! dropping the oldest stage lines first so the waiting block and the URL always survive.

use std::time::Duration;

use kiln_store::TaskStatus;
use kiln_store::people::WaitKind;
use kiln_store::records::StageRun;
use uuid::Uuid;

use crate::command::{Button, MIN_TASK_PREFIX};
use crate::{discord, http, jira, telegram};

/// Longest stage summary, question, reason or detail shown.
pub const MAX_FIELD_CHARS: usize = 300;
/// Most questions listed; the rest are counted.
pub const MAX_QUESTIONS: usize = 10;

/// One stage run as the chat shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageLine {
    /// `plan`, `codegen`, `test`, `review`, `gate`, `deploy`, ...
    pub stage: String,
    /// The self-correction round, from 1 (shown from round 2 on).
    pub round: i32,
    /// `running`, `succeeded`, `failed`, `skipped`, `paused` or `interrupted`.
    pub status: String,
    pub summary: Option<String>,
    pub duration_ms: Option<i64>,
}

impl From<&StageRun> for StageLine {
    fn from(run: &StageRun) -> Self {
        Self {
            stage: run.stage.clone(),
            round: run.round,
            status: run.status.clone(),
            summary: run.summary.clone(),
            duration_ms: run.duration_ms,
        }
    }
}

/// Everything the progress text is rendered from; the API fills it from the task's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub id: Uuid,
    pub project: String,
    pub template: String,
    /// `new` or `revise`.
    pub kind: String,
    pub status: TaskStatus,
    pub status_reason: Option<String>,
    /// Stage runs in the order they started.
    pub stages: Vec<StageLine>,
    /// Unanswered clarifying questions, while the task awaits answers.
    pub questions: Vec<String>,
    /// What a waiting task needs decided (the plan's outline, the gate's figures), one or a
    /// few lines.
    pub awaiting_detail: Option<String>,
    /// The live deployment, once there is one.
    pub live_url: Option<String>,
    /// The task in the dashboard.
    pub task_url: Option<String>,
}

impl TaskSnapshot {
    /// A snapshot with nothing recorded yet, for a task just created.
    pub fn new(id: Uuid, project: &str, template: &str, kind: &str, status: TaskStatus) -> Self {
        Self {
            id,
            project: project.to_owned(),
            template: template.to_owned(),
            kind: kind.to_owned(),
            status,
            status_reason: None,
            stages: Vec::new(),
            questions: Vec::new(),
            awaiting_detail: None,
            live_url: None,
            task_url: None,
        }
    }

    /// What the task waits for from a person, if anything.
    pub fn waiting(&self) -> Option<WaitKind> {
        WaitKind::of_status(self.status)
    }
}

/// Where the text is shown, which sets its length limit and how commands are suggested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Plain text up to 4096 characters; commands as `/approve <task>`.
    Telegram,
    /// Up to 2000 characters after Markdown escaping; commands as `/kiln approve`.
    Discord,
    /// A Jira comment; answers are comments on the issue.
    Jira,
}

impl Surface {
    pub fn max_chars(self) -> usize {
        match self {
            Surface::Telegram => telegram::MAX_MESSAGE_CHARS,
            Surface::Discord => discord::MAX_CONTENT_CHARS,
            Surface::Jira => jira::MAX_COMMENT_CHARS,
        }
    }

    /// The length the service will count: Discord counts the escaped text.
    fn measure(self, text: &str) -> usize {
        match self {
            Surface::Discord => discord::escape_markdown(text).chars().count(),
            Surface::Telegram | Surface::Jira => text.chars().count(),
        }
    }

    fn approve_hint(self, task: &str) -> Option<String> {
        match self {
            Surface::Telegram => Some(format!(
                "Use the buttons, or /approve {task} [reason] or /reject {task} <feedback>."
            )),
            Surface::Discord => Some(format!(
                "Use the buttons, or /kiln approve task:{task} or /kiln reject task:{task} feedback:<what to change>."
            )),
            Surface::Jira => None,
        }
    }

    fn answer_hint(self, task: &str) -> String {
        match self {
            Surface::Telegram => format!("Reply with /answer {task} <your answers>."),
            Surface::Discord => format!("Reply with /kiln answer task:{task} text:<your answers>."),
            Surface::Jira => "Reply with a comment on this issue.".to_owned(),
        }
    }
}

/// The buttons the progress message carries: approve and reject while the task waits for a
/// decision, none otherwise (an edit with none removes them).
pub fn buttons(snapshot: &TaskSnapshot) -> Vec<Button> {
    match snapshot.waiting() {
        Some(WaitKind::PlanApproval | WaitKind::ReleaseApproval | WaitKind::BudgetApproval) => {
            Button::pair(snapshot.id).to_vec()
        }
        _ => Vec::new(),
    }
}

/// The short task reference chats show and accept back: the id's first 8 characters.
pub fn short_id(id: Uuid) -> String {
    id.hyphenated().to_string()[..MIN_TASK_PREFIX].to_owned()
}

/// One line for lists (`/status` without a task, `/projects`): `0193a4b2 shop: testing`.
pub fn summary_line(snapshot: &TaskSnapshot) -> String {
    let mut line = format!(
        "{} {}: {}",
        short_id(snapshot.id),
        clean(&snapshot.project, 64),
        status_label(snapshot.status)
    );
    if let Some(url) = snapshot.live_url.as_deref().and_then(web_address) {
        line.push_str(" - ");
        line.push_str(&url);
    }
    line
}

/// The progress text for `surface`, within its length limit.
pub fn progress_text(snapshot: &TaskSnapshot, surface: Surface) -> String {
    let task = short_id(snapshot.id);
    let kind = match snapshot.kind.as_str() {
        "revise" => "change",
        _ => "new app",
    };
    let head = vec![
        format!(
            "Kiln: {} ({}, {kind})",
            clean(&snapshot.project, 64),
            clean(&snapshot.template, 64)
        ),
        format!("Task {task}: {}", status_label(snapshot.status)),
    ];

    let stages: Vec<String> = snapshot.stages.iter().map(stage_line).collect();

    let mut tail = Vec::new();
    match snapshot.waiting() {
        Some(WaitKind::Clarification) => {
            tail.push("Waiting for your answers:".to_owned());
            for (i, q) in snapshot.questions.iter().take(MAX_QUESTIONS).enumerate() {
                tail.push(format!("{}. {}", i + 1, clean(q, MAX_FIELD_CHARS)));
            }
            if snapshot.questions.len() > MAX_QUESTIONS {
                tail.push(format!(
                    "(and {} more in the dashboard)",
                    snapshot.questions.len() - MAX_QUESTIONS
                ));
            }
            tail.push(surface.answer_hint(&task));
        }
        Some(
            kind @ (WaitKind::PlanApproval | WaitKind::ReleaseApproval | WaitKind::BudgetApproval),
        ) => {
            tail.push(
                match kind {
                    WaitKind::PlanApproval => "Waiting for approval of the plan.",
                    WaitKind::ReleaseApproval => {
                        "Waiting for approval to release (an approver decides)."
                    }
                    _ => "Waiting for approval to go over the budget.",
                }
                .to_owned(),
            );
            if let Some(detail) = &snapshot.awaiting_detail {
                tail.extend(clean_lines(detail, 6));
            }
            tail.extend(surface.approve_hint(&task));
        }
        Some(WaitKind::Paused) => {
            tail.push(
                "Paused; it carries on where it stopped when the pause is lifted.".to_owned(),
            );
        }
        None => {}
    }
    if snapshot.status.is_terminal() && snapshot.status != TaskStatus::Deployed {
        let reason = snapshot
            .status_reason
            .as_deref()
            .map(|r| clean(r, MAX_FIELD_CHARS))
            .filter(|r| !r.is_empty());
        tail.push(match reason {
            Some(reason) => format!("Stopped: {reason}"),
            None => "Stopped.".to_owned(),
        });
    }
    if let Some(url) = snapshot.task_url.as_deref().and_then(web_address) {
        tail.push(format!("Details: {url}"));
    }
    if let Some(url) = snapshot.live_url.as_deref().and_then(web_address) {
        let label = if snapshot.status == TaskStatus::Deployed {
            "Live"
        } else {
            "Preview"
        };
        tail.push(format!("{label}: {url}"));
    }

    fit(&head, &stages, &tail, surface)
}

/// Joins the three blocks, dropping the oldest stage lines (counted in a marker line) until
/// the text fits; if the head and tail alone do not fit, the text is cut.
fn fit(head: &[String], stages: &[String], tail: &[String], surface: Surface) -> String {
    let max = surface.max_chars();
    let render = |skipped: usize| {
        let mut blocks = vec![head.join("\n")];
        let mut lines = Vec::new();
        if skipped > 0 {
            lines.push(format!("… {skipped} earlier stage runs"));
        }
        lines.extend(stages[skipped..].iter().cloned());
        if !lines.is_empty() {
            blocks.push(lines.join("\n"));
        }
        if !tail.is_empty() {
            blocks.push(tail.join("\n"));
        }
        blocks.join("\n\n")
    };
    for skipped in 0..=stages.len() {
        let text = render(skipped);
        if surface.measure(&text) <= max {
            return text;
        }
    }
    let full = render(stages.len());
    // Cut in steps until it fits; the measure can grow faster than the character count.
    let mut keep = max;
    loop {
        let text = http::truncate(&full, keep);
        let over = surface.measure(&text).saturating_sub(max);
        if over == 0 || keep == 0 {
            return text;
        }
        keep = keep.saturating_sub(over);
    }
}

fn stage_line(line: &StageLine) -> String {
    let (mark, verb) = match line.status.as_str() {
        "succeeded" => ("✓", ""),
        "failed" => ("✗", " failed"),
        "running" => ("…", " running"),
        "skipped" => ("-", " skipped"),
        "paused" => ("‖", " paused"),
        "interrupted" => ("!", " interrupted"),
        _ => ("?", ""),
    };
    let mut out = format!("{mark} {}", clean(&line.stage, 32));
    if line.round > 1 {
        out.push_str(&format!(" (round {})", line.round));
    }
    out.push_str(verb);
    if let Some(summary) = line.summary.as_deref().map(|s| clean(s, MAX_FIELD_CHARS))
        && !summary.is_empty()
    {
        out.push_str(": ");
        out.push_str(&summary);
    }
    if let Some(ms) = line.duration_ms.filter(|ms| *ms >= 0)
        && line.status != "running"
    {
        out.push_str(&format!(
            " ({})",
            duration(Duration::from_millis(ms.unsigned_abs()))
        ));
    }
    out
}

/// `12s`, `1m 03s`, `2h 05m`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// How a status reads in a sentence.
pub fn status_label(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Queued => "queued",
        TaskStatus::Planning => "planning",
        TaskStatus::AwaitingClarification => "waiting for answers",
        TaskStatus::AwaitingPlanApproval => "waiting for plan approval",
        TaskStatus::Generating => "writing code",
        TaskStatus::Testing => "testing",
        TaskStatus::Fixing => "fixing failed tests",
        TaskStatus::Reviewing => "reviewing",
        TaskStatus::Gating => "checking the release gate",
        TaskStatus::AwaitingReleaseApproval => "waiting for release approval",
        TaskStatus::AwaitingBudgetApproval => "waiting for budget approval",
        TaskStatus::Deploying => "deploying",
        TaskStatus::Verifying => "verifying the deployment",
        TaskStatus::Paused => "paused",
        TaskStatus::Deployed => "deployed",
        TaskStatus::Merged => "merged (nothing to deploy)",
        TaskStatus::Blocked => "blocked",
        TaskStatus::Failed => "failed",
        TaskStatus::Cancelled => "cancelled",
        TaskStatus::RolledBack => "rolled back",
    }
}

/// Characters that reorder or hide text without showing themselves.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Untrusted text on one line: control characters (line breaks too) become spaces, runs of
/// whitespace one space, invisible formatting characters go, and the result is cut to `max`.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    for c in text.chars().filter(|c| !invisible(*c)) {
        let c = if c.is_control() { ' ' } else { c };
        if c.is_whitespace() && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(if c.is_whitespace() { ' ' } else { c });
    }
    http::truncate(out.trim_end(), max)
}

/// Untrusted text kept as at most `max_lines` cleaned, non-empty lines.
fn clean_lines(text: &str, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| clean(l, MAX_FIELD_CHARS))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() > max_lines {
        let more = lines.len() - max_lines;
        lines.truncate(max_lines);
        lines.push(format!("(and {more} more lines in the dashboard)"));
    }
    lines
}

/// An `http(s)` address without spaces or control characters, or nothing: a URL is the only
/// thing a reader may click, so nothing else is let through as one.
fn web_address(url: &str) -> Option<String> {
    let url = url.trim();
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || invisible(c));
    ok.then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b";

    fn snapshot(status: TaskStatus) -> TaskSnapshot {
        let mut s = TaskSnapshot::new(
            Uuid::parse_str(ID).unwrap(),
            "tadwerak",
            "expo",
            "new",
            status,
        );
        s.stages = vec![
            StageLine {
                stage: "plan".into(),
                round: 1,
                status: "succeeded".into(),
                summary: Some("4 stories planned".into()),
                duration_ms: Some(12_400),
            },
            StageLine {
                stage: "codegen".into(),
                round: 1,
                status: "succeeded".into(),
                summary: None,
                duration_ms: Some(63_000),
            },
            StageLine {
                stage: "test".into(),
                round: 2,
                status: "running".into(),
                summary: None,
                duration_ms: None,
            },
        ];
        s
    }

    #[test]
    fn progress_lists_stages_and_ends_with_the_live_url() {
        let mut s = snapshot(TaskStatus::Deployed);
        s.live_url = Some("https://tadwerak.apps.example".into());
        s.task_url = Some("https://kiln.example/tasks/0193a4b2".into());
        let text = progress_text(&s, Surface::Telegram);
        assert_eq!(
            text,
            "Kiln: tadwerak (expo, new app)\nTask 0193a4b2: deployed\n\n\
             ✓ plan: 4 stories planned (12s)\n✓ codegen (1m 03s)\n… test (round 2) running\n\n\
             Details: https://kiln.example/tasks/0193a4b2\nLive: https://tadwerak.apps.example"
        );
        assert!(text.ends_with("Live: https://tadwerak.apps.example"));
        assert!(buttons(&s).is_empty());
        assert_eq!(
            summary_line(&s),
            "0193a4b2 tadwerak: deployed - https://tadwerak.apps.example"
        );
    }

    #[test]
    fn waiting_for_approval_offers_buttons_and_commands() {
        let mut s = snapshot(TaskStatus::AwaitingPlanApproval);
        s.awaiting_detail = Some("1. Sign-in screen\n2. Wallet\n".into());
        let text = progress_text(&s, Surface::Telegram);
        assert!(
            text.contains("Waiting for approval of the plan.\n1. Sign-in screen\n2. Wallet\n"),
            "{text}"
        );
        assert!(
            text.contains("/approve 0193a4b2 [reason] or /reject 0193a4b2 <feedback>"),
            "{text}"
        );
        let id = s.id;
        assert_eq!(buttons(&s), vec![Button::Approve(id), Button::Reject(id)]);
        let discord = progress_text(&s, Surface::Discord);
        assert!(discord.contains("/kiln approve task:0193a4b2"), "{discord}");
        assert!(!progress_text(&s, Surface::Jira).contains("/approve"));
        for status in [
            TaskStatus::AwaitingReleaseApproval,
            TaskStatus::AwaitingBudgetApproval,
        ] {
            assert_eq!(buttons(&snapshot(status)).len(), 2);
        }
    }

    #[test]
    fn waiting_for_answers_lists_the_questions() {
        let mut s = snapshot(TaskStatus::AwaitingClarification);
        s.questions = (1..=12).map(|i| format!("Question {i}?")).collect();
        let text = progress_text(&s, Surface::Telegram);
        assert!(
            text.contains("Waiting for your answers:\n1. Question 1?\n"),
            "{text}"
        );
        assert!(
            text.contains("10. Question 10?\n(and 2 more in the dashboard)"),
            "{text}"
        );
        assert!(
            text.ends_with("Reply with /answer 0193a4b2 <your answers>."),
            "{text}"
        );
        assert!(buttons(&s).is_empty(), "answers are typed, not pressed");
        assert!(progress_text(&s, Surface::Jira).contains("comment on this issue"));
    }

    #[test]
    fn failures_say_why_and_pauses_say_so() {
        let mut s = snapshot(TaskStatus::Failed);
        s.status_reason = Some("tests kept failing\nafter 3 rounds".into());
        assert!(
            progress_text(&s, Surface::Telegram)
                .ends_with("Stopped: tests kept failing after 3 rounds")
        );
        let p = progress_text(&snapshot(TaskStatus::Paused), Surface::Telegram);
        assert!(
            p.contains("Task 0193a4b2: paused") && p.contains("carries on where it stopped"),
            "{p}"
        );
    }

    #[test]
    fn untrusted_fields_are_cleaned_and_only_web_addresses_shown() {
        let mut s = snapshot(TaskStatus::Testing);
        s.project = "shop\u{202E}evil\n/approve".into();
        s.stages[0].summary = Some(format!("{}\u{0}", "x".repeat(1_000)));
        s.live_url = Some("javascript:alert(1)".into());
        let text = progress_text(&s, Surface::Telegram);
        assert!(text.starts_with("Kiln: shopevil /approve (expo"), "{text}");
        assert!(!text.contains('\u{0}') && !text.contains('\u{202E}'));
        assert!(!text.contains("javascript:"), "{text}");
        let long_line = text.lines().find(|l| l.starts_with("✓ plan")).unwrap();
        assert!(
            long_line.chars().count() < MAX_FIELD_CHARS + 20,
            "{long_line}"
        );
    }

    #[test]
    fn long_histories_drop_old_stages_but_keep_the_end() {
        let mut s = snapshot(TaskStatus::Deployed);
        s.stages = (0..400)
            .map(|i| StageLine {
                stage: "test".into(),
                round: i,
                status: "failed".into(),
                summary: Some("**".repeat(40)),
                duration_ms: Some(1000),
            })
            .collect();
        s.live_url = Some("https://shop.example".into());
        for surface in [Surface::Telegram, Surface::Discord] {
            let text = progress_text(&s, surface);
            assert!(surface.measure(&text) <= surface.max_chars(), "{surface:?}");
            assert!(text.ends_with("Live: https://shop.example"), "{surface:?}");
            assert!(text.contains("earlier stage runs"), "{surface:?}");
            assert!(text.starts_with("Kiln: tadwerak"), "{surface:?}");
            let escaped = discord::escape_markdown(&text);
            if surface == Surface::Discord {
                assert!(escaped.chars().count() <= discord::MAX_CONTENT_CHARS);
            }
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(Duration::from_millis(999)), "0s");
        assert_eq!(duration(Duration::from_secs(59)), "59s");
        assert_eq!(duration(Duration::from_secs(61)), "1m 01s");
        assert_eq!(duration(Duration::from_secs(7_500)), "2h 05m");
        for status in TaskStatus::ALL {
            assert!(!status_label(status).contains('_'), "{status}");
        }
    }
}
