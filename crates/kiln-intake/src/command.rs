//! The one command model every intake adapter produces, and the chat grammar that reads it,
//! so Telegram, Discord and anything added later steer Kiln with the same verbs, the same
//! checks and the same role rules.
//!
//! # Chat grammar
//!
//! A command is the first word of a message, starting with `/` (Telegram, also as
//! `/cmd@BotName`) or `!` (Discord text). Words are separated by whitespace; the last argument
//! of a command that takes free text is the rest of the message.
//!
//! ```text
//! /new <template> <Name> <brief...>     a new app; <template> is a name or an alias
//! /<alias> <Name> <brief...>            the same, e.g. /expo Tadwerak Build a recycling app
//! /revise <project> <brief...>
//! /status [task]
//! /answer <task> <text...>
//! /approve <task> [reason...]
//! /reject <task> <feedback...>
//! /cancel <task>
//! /pause [project] [-- reason...]       everything, or one project; the reason follows `--`
//! /resume [project]
//! /projects
//! /help                                  (/start, which Telegram sends first, means help)
//! ```
//!
//! `<task>` is a task id or a prefix of one (at least 8 hex digits); the API resolves it.
//! `<Name>` and `<project>` follow the API's project-name rules after ASCII lowercasing, so a
//! chat can say `Tadwerak` for the project `tadwerak`.

use std::collections::BTreeMap;

use kiln_store::auth::Role;
use uuid::Uuid;

/// Longest message looked at; anything longer is refused before it is parsed.
pub const MAX_INPUT_CHARS: usize = 8_000;
/// Longest brief accepted from chat (Telegram messages stop at 4096 characters anyway).
pub const MAX_BRIEF_CHARS: usize = 4_000;
/// Longest answer, reason or feedback.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Shortest task-id prefix accepted: shorter ones collide too often to be worth resolving.
pub const MIN_TASK_PREFIX: usize = 8;

/// What a person asked Kiln to do, whichever adapter it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A new app. `template` is the template's name (aliases resolved); `name` is as typed,
    /// see [`project_name`].
    New {
        template: String,
        name: String,
        brief: String,
    },
    Revise {
        project: String,
        brief: String,
    },
    /// One task, or an overview when `task` is none.
    Status {
        task: Option<String>,
    },
    Answer {
        task: String,
        text: String,
    },
    Approve {
        task: String,
        reason: Option<String>,
    },
    Reject {
        task: String,
        feedback: String,
    },
    Cancel {
        task: String,
    },
    /// Every project, or one when `project` is given.
    Pause {
        project: Option<String>,
        reason: Option<String>,
    },
    Resume {
        project: Option<String>,
    },
    Projects,
    Help,
}

impl Command {
    /// The least role the sender needs for the command to be considered at all.
    ///
    /// Approving and rejecting need only operator here because plan approvals are an
    /// operator's call; the API checks approver itself when the task awaits a release.
    pub fn required_role(&self) -> Role {
        match self {
            Command::Status { .. } | Command::Projects | Command::Help => Role::Viewer,
            Command::New { .. }
            | Command::Revise { .. }
            | Command::Answer { .. }
            | Command::Cancel { .. }
            | Command::Approve { .. }
            | Command::Reject { .. } => Role::Operator,
            Command::Pause { .. } | Command::Resume { .. } => Role::Admin,
        }
    }

    /// The command's verb, for logs and audit records.
    pub fn name(&self) -> &'static str {
        match self {
            Command::New { .. } => "new",
            Command::Revise { .. } => "revise",
            Command::Status { .. } => "status",
            Command::Answer { .. } => "answer",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::Cancel { .. } => "cancel",
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
            Command::Projects => "projects",
            Command::Help => "help",
        }
    }
}

/// The project name the API stores for a name typed in chat. Only ASCII is lowered, so the
/// result is what [`parse`] already checked against the project-name rules.
pub fn project_name(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// What went wrong building the tables the grammar needs, or reading button data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An alias would shadow one of the built-in commands.
    #[error("alias {alias:?} of template {template} is a built-in command")]
    ReservedAlias { alias: String, template: String },
    /// Two templates claim one alias.
    #[error("alias {alias:?} is claimed by templates {first} and {second}")]
    DuplicateAlias {
        alias: String,
        first: String,
        second: String,
    },
    /// An alias chat cannot type as a command word.
    #[error("alias {alias:?} of template {template} is not a command word")]
    InvalidAlias { alias: String, template: String },
    /// Callback data or a custom id that no button of ours produced.
    #[error("unrecognised button data")]
    UnknownButton,
}

/// Verbs of the built-in commands, which no alias may take.
const BUILT_IN: [&str; 12] = [
    "new", "revise", "status", "answer", "approve", "reject", "cancel", "pause", "resume",
    "projects", "help", "start",
];

/// Per-template chat aliases (`expo` -> `expo`, `web` -> `static-site`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    /// Alias -> template name.
    by_alias: BTreeMap<String, String>,
}

impl Aliases {
    /// Builds the table from `(template name, alias)` pairs, e.g. from
    /// `kiln_templates::Catalog::aliases`.
    pub fn new<T, A>(pairs: impl IntoIterator<Item = (T, A)>) -> Result<Self, Error>
    where
        T: Into<String>,
        A: Into<String>,
    {
        let mut by_alias = BTreeMap::new();
        for (template, alias) in pairs {
            let (template, alias) = (template.into(), alias.into());
            let word_ok = !alias.is_empty()
                && alias.len() <= 32
                && alias.starts_with(|c: char| c.is_ascii_lowercase())
                && alias
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !word_ok {
                return Err(Error::InvalidAlias { alias, template });
            }
            if BUILT_IN.contains(&alias.as_str()) {
                return Err(Error::ReservedAlias { alias, template });
            }
            if let Some(first) = by_alias.get(&alias) {
                return Err(Error::DuplicateAlias {
                    first: String::clone(first),
                    second: template,
                    alias,
                });
            }
            by_alias.insert(alias, template);
        }
        Ok(Self { by_alias })
    }

    /// The template an alias stands for.
    pub fn template(&self, alias: &str) -> Option<&str> {
        self.by_alias.get(alias).map(String::as_str)
    }

    /// `(alias, template)` pairs, sorted by alias.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_alias.iter().map(|(a, t)| (a.as_str(), t.as_str()))
    }

    /// A template word as typed after `/new`: an alias becomes its template, any other word
    /// is taken as a template name for the API to look up.
    pub(crate) fn resolve(&self, word: &str) -> Result<String, String> {
        let word = word.to_ascii_lowercase();
        if let Some(template) = self.template(&word) {
            return Ok(template.to_owned());
        }
        let ok = !word.is_empty()
            && word.len() <= 63
            && word
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(word)
        } else {
            Err("the template must be a template name or alias (see /help)".to_owned())
        }
    }
}

/// Why a message is not a command Kiln can run. `Display` is the reply to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Usage {
    /// No command word: ordinary chat, which adapters usually ignore.
    #[error("send /help to see what I can do")]
    NotACommand,
    /// A command word nobody knows; carries the whole help text to reply with.
    #[error("unknown command /{name}\n\n{help}")]
    Unknown { name: String, help: String },
    /// A known command used wrongly: what is wrong and how it is used.
    #[error("{problem}\nusage: {syntax}")]
    Malformed {
        command: &'static str,
        problem: String,
        syntax: &'static str,
    },
    /// The message is longer than anything worth parsing.
    #[error("that message is too long ({chars} characters, the limit is {limit})")]
    TooLong { chars: usize, limit: usize },
}

/// How each command is written, shown when it is used wrongly and in the help text.
pub(crate) fn syntax(command: &str) -> &'static str {
    match command {
        "new" => "/new <template> <Name> <brief>",
        "revise" => "/revise <project> <brief>",
        "status" => "/status [task]",
        "answer" => "/answer <task> <text>",
        "approve" => "/approve <task> [reason]",
        "reject" => "/reject <task> <feedback>",
        "cancel" => "/cancel <task>",
        "pause" => "/pause [project] [-- reason]",
        "resume" => "/resume [project]",
        "projects" => "/projects",
        _ => "/help",
    }
}

pub(crate) fn malformed(command: &'static str, problem: impl Into<String>) -> Usage {
    Usage::Malformed {
        command,
        problem: problem.into(),
        syntax: syntax(command),
    }
}

/// The reply to `/help`: every command and every alias.
pub fn help_text(aliases: &Aliases) -> String {
    let lines = [
        ("new", "start a new app from a template"),
        ("revise", "change an existing project"),
        ("status", "one task, or what is running"),
        ("answer", "answer a task's questions"),
        ("approve", "approve a plan or a release"),
        ("reject", "reject it, saying why"),
        ("cancel", "stop a task"),
        ("pause", "pause everything or one project (admin)"),
        ("resume", "lift a pause (admin)"),
        ("projects", "list projects"),
        ("help", "this text"),
    ];
    let mut out = String::from("Kiln commands:\n");
    for (command, what) in lines {
        out.push_str(&format!("{} - {what}\n", syntax(command)));
    }
    let mut shortcuts = aliases.iter().peekable();
    if shortcuts.peek().is_some() {
        out.push_str("\nShortcuts for /new:\n");
        for (alias, template) in shortcuts {
            out.push_str(&format!("/{alias} <Name> <brief> - {template}\n"));
        }
    }
    out.push_str("\nA task is its id or its first 8 characters.");
    out
}

/// Reads one chat message against the grammar in the module docs.
pub fn parse(text: &str, aliases: &Aliases) -> Result<Command, Usage> {
    let chars = text.chars().count();
    if chars > MAX_INPUT_CHARS {
        return Err(Usage::TooLong {
            chars,
            limit: MAX_INPUT_CHARS,
        });
    }
    let text = text.trim();
    let Some(body) = text.strip_prefix('/').or_else(|| text.strip_prefix('!')) else {
        return Err(Usage::NotACommand);
    };
    let (word, rest) = split_word(body);
    // Telegram addresses commands in groups as /cmd@BotName; which bot is meant is the
    // adapter's concern (see `telegram::addressed_elsewhere`).
    let verb = word
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if verb.is_empty() {
        return Err(Usage::NotACommand);
    }
    let mut args = Args { rest };
    let command = match verb.as_str() {
        "new" => {
            let template = args.word("new", "say which template")?;
            let template = aliases.resolve(template).map_err(|p| malformed("new", p))?;
            new_app(template, &mut args, "new")?
        }
        "revise" => {
            let project = check_project(args.word("revise", "say which project")?)
                .map_err(|p| malformed("revise", p))?;
            let brief = args.text("revise", "describe the change", MAX_BRIEF_CHARS)?;
            Command::Revise { project, brief }
        }
        "status" => {
            let task = args.optional_word().map(check_task).transpose();
            let task = task.map_err(|p| malformed("status", p))?;
            args.end("status")?;
            Command::Status { task }
        }
        "answer" => {
            let task = args.task("answer")?;
            let text = args.text("answer", "write the answer", MAX_TEXT_CHARS)?;
            Command::Answer { task, text }
        }
        "approve" => {
            let task = args.task("approve")?;
            let reason = args.optional_text("approve", MAX_TEXT_CHARS)?;
            Command::Approve { task, reason }
        }
        "reject" => {
            let task = args.task("reject")?;
            let feedback = args.text("reject", "say what should change", MAX_TEXT_CHARS)?;
            Command::Reject { task, feedback }
        }
        "cancel" => {
            let task = args.task("cancel")?;
            args.end("cancel")?;
            Command::Cancel { task }
        }
        "pause" => pause(&mut args)?,
        "resume" => {
            let project = args.optional_word().map(check_project).transpose();
            let project = project.map_err(|p| malformed("resume", p))?;
            args.end("resume")?;
            Command::Resume { project }
        }
        "projects" => {
            args.end("projects")?;
            Command::Projects
        }
        "help" | "start" => Command::Help,
        other => match aliases.template(other) {
            Some(template) => new_app(template.to_owned(), &mut args, "new")?,
            None => {
                return Err(Usage::Unknown {
                    name: crate::http::truncate(other, 32),
                    help: help_text(aliases),
                });
            }
        },
    };
    Ok(command)
}

fn new_app(template: String, args: &mut Args<'_>, command: &'static str) -> Result<Command, Usage> {
    let name = args.word(command, "name the new app")?;
    let name = check_name(name).map_err(|p| malformed(command, p))?;
    let brief = args.text(command, "describe the app to build", MAX_BRIEF_CHARS)?;
    Ok(Command::New {
        template,
        name,
        brief,
    })
}

/// `/pause`, `/pause shop`, `/pause -- reason` or `/pause shop -- reason`: the `--` keeps a
/// reason from ever being read as a project name.
fn pause(args: &mut Args<'_>) -> Result<Command, Usage> {
    let project = match args.peek_word() {
        Some(w) if w != "--" => {
            let w = args.optional_word().unwrap_or(w);
            Some(check_project(w).map_err(|p| malformed("pause", p))?)
        }
        _ => None,
    };
    let reason = match args.optional_word() {
        None => None,
        Some("--") => Some(args.text("pause", "write the reason after --", MAX_TEXT_CHARS)?),
        Some(_) => {
            return Err(malformed(
                "pause",
                "put the reason after --, e.g. /pause shop -- deploys are broken",
            ));
        }
    };
    Ok(Command::Pause { project, reason })
}

/// The unread part of a message.
struct Args<'a> {
    rest: &'a str,
}

impl<'a> Args<'a> {
    fn peek_word(&self) -> Option<&'a str> {
        let (word, _) = split_word(self.rest);
        (!word.is_empty()).then_some(word)
    }

    fn optional_word(&mut self) -> Option<&'a str> {
        let (word, rest) = split_word(self.rest);
        self.rest = rest;
        (!word.is_empty()).then_some(word)
    }

    fn word(&mut self, command: &'static str, missing: &str) -> Result<&'a str, Usage> {
        self.optional_word()
            .ok_or_else(|| malformed(command, missing))
    }

    fn task(&mut self, command: &'static str) -> Result<String, Usage> {
        let word = self.word(command, "say which task")?;
        check_task(word).map_err(|p| malformed(command, p))
    }

    fn optional_text(
        &mut self,
        command: &'static str,
        limit: usize,
    ) -> Result<Option<String>, Usage> {
        let text = std::mem::take(&mut self.rest).trim();
        if text.is_empty() {
            return Ok(None);
        }
        check_text(text, limit)
            .map(Some)
            .map_err(|p| malformed(command, p))
    }

    fn text(
        &mut self,
        command: &'static str,
        missing: &str,
        limit: usize,
    ) -> Result<String, Usage> {
        self.optional_text(command, limit)?
            .ok_or_else(|| malformed(command, missing))
    }

    fn end(&self, command: &'static str) -> Result<(), Usage> {
        if self.rest.trim().is_empty() {
            Ok(())
        } else {
            Err(malformed(command, "too many words"))
        }
    }
}

/// The first whitespace-separated word and what follows it (leading whitespace removed).
fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim_start()),
        None => (text, ""),
    }
}

/// A task reference: a whole id (normalised to the hyphenated form) or a lowercase prefix of
/// the hyphenated form with at least [`MIN_TASK_PREFIX`] hex digits.
pub(crate) fn check_task(word: &str) -> Result<String, String> {
    if let Ok(id) = Uuid::parse_str(word) {
        return Ok(id.hyphenated().to_string());
    }
    let word = word.to_ascii_lowercase();
    let shaped = word.len() <= 36
        && word.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    let digits = word.bytes().filter(u8::is_ascii_hexdigit).count();
    // A prefix ends on a digit: a trailing `-` adds nothing and reads like a typo.
    if shaped && digits >= MIN_TASK_PREFIX && !word.ends_with('-') {
        Ok(word)
    } else {
        Err(format!(
            "a task is its id or at least its first {MIN_TASK_PREFIX} characters, e.g. 0193a4b2"
        ))
    }
}

/// A project that exists already, named the way the API names projects.
pub(crate) fn check_project(word: &str) -> Result<String, String> {
    let name = project_name(word);
    match kiln_templates::validate_project_name(&name) {
        Ok(()) => Ok(name),
        Err(kiln_templates::Error::InvalidProject { reason, .. }) => Err(format!(
            "project {:?}: {reason}",
            crate::http::truncate(word, 64)
        )),
        Err(other) => Err(other.to_string()),
    }
}

/// A new app's name as typed; its lowercase form must be a valid project name.
pub(crate) fn check_name(word: &str) -> Result<String, String> {
    check_project(word)
        .map(|_| word.to_owned())
        .map_err(|p| p.replacen("project", "name", 1))
}

/// Free text: trimmed, not empty, within `limit` characters and free of control characters
/// other than line breaks and tabs, which no reader of a brief or reason needs.
pub(crate) fn check_text(text: &str, limit: usize) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the text is empty".to_owned());
    }
    let chars = text.chars().count();
    if chars > limit {
        return Err(format!(
            "the text is too long ({chars} characters, the limit is {limit})"
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("the text contains control characters".to_owned());
    }
    Ok(text.to_owned())
}

/// An approve or reject button under a task's progress message. Its data (Telegram
/// `callback_data`, Discord `custom_id`) is `approve:<task id>` or `reject:<task id>`, well
/// under both services' 64- and 100-byte limits, and carries nothing a person typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Button {
    Approve(Uuid),
    Reject(Uuid),
}

/// The feedback a reject button records: a button cannot carry what should change, so the
/// chat reply asks for it with `/reject <task> <feedback>`.
pub const BUTTON_REJECT_FEEDBACK: &str = "rejected with the chat button";

impl Button {
    /// Both buttons for a task awaiting a decision, approve first.
    pub fn pair(task: Uuid) -> [Button; 2] {
        [Button::Approve(task), Button::Reject(task)]
    }

    pub fn label(self) -> &'static str {
        match self {
            Button::Approve(_) => "Approve",
            Button::Reject(_) => "Reject",
        }
    }

    pub fn task(self) -> Uuid {
        match self {
            Button::Approve(t) | Button::Reject(t) => t,
        }
    }

    /// The data sent back when the button is pressed.
    pub fn data(self) -> String {
        match self {
            Button::Approve(t) => format!("approve:{}", t.hyphenated()),
            Button::Reject(t) => format!("reject:{}", t.hyphenated()),
        }
    }

    /// Reads data produced by [`Button::data`]; anything else is refused.
    pub fn parse(data: &str) -> Result<Button, Error> {
        let (action, task) = data.split_once(':').ok_or(Error::UnknownButton)?;
        // Only the hyphenated form is ever sent, so nothing else is accepted back.
        if task.len() != 36 {
            return Err(Error::UnknownButton);
        }
        let task = Uuid::parse_str(task).map_err(|_| Error::UnknownButton)?;
        match action {
            "approve" => Ok(Button::Approve(task)),
            "reject" => Ok(Button::Reject(task)),
            _ => Err(Error::UnknownButton),
        }
    }

    /// The command pressing the button means.
    pub fn command(self) -> Command {
        let task = self.task().hyphenated().to_string();
        match self {
            Button::Approve(_) => Command::Approve { task, reason: None },
            Button::Reject(_) => Command::Reject {
                task,
                feedback: BUTTON_REJECT_FEEDBACK.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASK: &str = "0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b";

    fn aliases() -> Aliases {
        Aliases::new([
            ("expo", "expo"),
            ("static-site", "web"),
            ("rest-api", "api"),
        ])
        .expect("valid aliases")
    }

    fn ok(text: &str) -> Command {
        parse(text, &aliases()).unwrap_or_else(|e| panic!("{text:?} refused: {e}"))
    }

    fn err(text: &str) -> Usage {
        match parse(text, &aliases()) {
            Ok(c) => panic!("{text:?} accepted as {c:?}"),
            Err(e) => e,
        }
    }

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn parses_every_command() {
        let cases = [
            (
                "/new expo Tadwerak Build a recycling app",
                Command::New {
                    template: s("expo"),
                    name: s("Tadwerak"),
                    brief: s("Build a recycling app"),
                },
            ),
            (
                "/revise shop  add a  cart\nand checkout ",
                Command::Revise {
                    project: s("shop"),
                    brief: s("add a  cart\nand checkout"),
                },
            ),
            ("/status", Command::Status { task: None }),
            (
                "/status 0193A4B2",
                Command::Status {
                    task: Some(s("0193a4b2")),
                },
            ),
            (
                "/answer 0193a4b2-7c use euros",
                Command::Answer {
                    task: s("0193a4b2-7c"),
                    text: s("use euros"),
                },
            ),
            (
                &format!("/approve {TASK}"),
                Command::Approve {
                    task: s(TASK),
                    reason: None,
                },
            ),
            (
                "/approve 0193a4b2 looks right",
                Command::Approve {
                    task: s("0193a4b2"),
                    reason: Some(s("looks right")),
                },
            ),
            (
                "/reject 0193a4b2 needs a dark mode",
                Command::Reject {
                    task: s("0193a4b2"),
                    feedback: s("needs a dark mode"),
                },
            ),
            (
                "/cancel 0193a4b2",
                Command::Cancel {
                    task: s("0193a4b2"),
                },
            ),
            (
                "/pause",
                Command::Pause {
                    project: None,
                    reason: None,
                },
            ),
            (
                "/pause shop",
                Command::Pause {
                    project: Some(s("shop")),
                    reason: None,
                },
            ),
            (
                "/pause -- deploys are broken",
                Command::Pause {
                    project: None,
                    reason: Some(s("deploys are broken")),
                },
            ),
            (
                "/pause Shop -- disk full",
                Command::Pause {
                    project: Some(s("shop")),
                    reason: Some(s("disk full")),
                },
            ),
            ("/resume", Command::Resume { project: None }),
            (
                "/resume shop",
                Command::Resume {
                    project: Some(s("shop")),
                },
            ),
            ("/projects", Command::Projects),
            ("/help", Command::Help),
            ("/start", Command::Help),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text:?}");
        }
    }

    #[test]
    fn aliases_start_new_apps_and_new_accepts_aliases_too() {
        let want = Command::New {
            template: s("expo"),
            name: s("Tadwerak"),
            brief: s("Build a recycling app with wallet"),
        };
        assert_eq!(ok("/expo Tadwerak Build a recycling app with wallet"), want);
        let web = Command::New {
            template: s("static-site"),
            name: s("landing"),
            brief: s("A page"),
        };
        assert_eq!(ok("/web landing A page"), web);
        assert_eq!(ok("/new web landing A page"), web);
        assert_eq!(ok("/new static-site landing A page"), web);
        assert_eq!(
            ok("/api todo A todo API"),
            Command::New {
                template: s("rest-api"),
                name: s("todo"),
                brief: s("A todo API")
            }
        );
    }

    #[test]
    fn telegram_bot_suffix_and_discord_prefix_are_accepted() {
        assert_eq!(ok("/status@KilnBot"), Command::Status { task: None });
        assert_eq!(
            ok("/expo@KilnBot Tadwerak Build it"),
            ok("/expo Tadwerak Build it")
        );
        assert_eq!(
            ok("!new expo Tadwerak Build it"),
            ok("/expo Tadwerak Build it")
        );
        assert_eq!(ok("  /HELP  "), Command::Help);
    }

    #[test]
    fn malformed_commands_reply_with_their_usage() {
        let cases = [
            (
                "/new",
                "say which template",
                "/new <template> <Name> <brief>",
            ),
            (
                "/new expo",
                "name the new app",
                "/new <template> <Name> <brief>",
            ),
            (
                "/new expo Tadwerak",
                "describe the app",
                "/new <template> <Name> <brief>",
            ),
            (
                "/new Ex$po x y",
                "template name or alias",
                "/new <template>",
            ),
            (
                "/expo 1shop build",
                "must start with a letter",
                "/new <template>",
            ),
            (
                "/expo shop_x build",
                "lowercase ASCII letters",
                "/new <template>",
            ),
            (
                "/revise shop",
                "describe the change",
                "/revise <project> <brief>",
            ),
            (
                "/revise ../etc x",
                "lowercase ASCII letters",
                "/revise <project> <brief>",
            ),
            ("/status 0193", "first 8 characters", "/status [task]"),
            ("/status 0193a4b2 extra", "too many words", "/status [task]"),
            (
                "/answer 0193a4b2",
                "write the answer",
                "/answer <task> <text>",
            ),
            ("/answer", "say which task", "/answer <task> <text>"),
            (
                "/approve not-a-task",
                "first 8 characters",
                "/approve <task> [reason]",
            ),
            (
                "/reject 0193a4b2",
                "say what should change",
                "/reject <task> <feedback>",
            ),
            ("/cancel", "say which task", "/cancel <task>"),
            ("/cancel 0193a4b2 now", "too many words", "/cancel <task>"),
            (
                "/pause shop because",
                "after --",
                "/pause [project] [-- reason]",
            ),
            (
                "/pause --",
                "write the reason",
                "/pause [project] [-- reason]",
            ),
            ("/resume shop now", "too many words", "/resume [project]"),
            ("/projects all", "too many words", "/projects"),
        ];
        for (text, problem, usage) in cases {
            let e = err(text);
            assert!(matches!(e, Usage::Malformed { .. }), "{text:?}: {e:?}");
            let reply = e.to_string();
            assert!(
                reply.contains(problem),
                "{text:?}: {reply:?} lacks {problem:?}"
            );
            assert!(
                reply.contains(&format!("usage: {usage}")),
                "{text:?}: {reply:?}"
            );
        }
    }

    #[test]
    fn unknown_commands_list_every_command_and_alias() {
        let e = err("/deploy now");
        let reply = e.to_string();
        assert!(reply.starts_with("unknown command /deploy"), "{reply}");
        for needle in [
            "/new <template>",
            "/pause [project] [-- reason]",
            "/web <Name>",
            "static-site",
        ] {
            assert!(reply.contains(needle), "{reply} lacks {needle}");
        }
        assert_eq!(err("hello there"), Usage::NotACommand);
        assert_eq!(err("/"), Usage::NotACommand);
        assert_eq!(err(""), Usage::NotACommand);
    }

    #[test]
    fn text_is_capped_and_control_characters_refused() {
        let long = format!("/expo shop {}", "b".repeat(MAX_BRIEF_CHARS + 1));
        assert!(err(&long).to_string().contains("too long"), "brief cap");
        let ok_len = format!("/expo shop {}", "é".repeat(MAX_BRIEF_CHARS));
        assert!(
            parse(&ok_len, &aliases()).is_ok(),
            "limit counts characters"
        );
        let huge = "/help ".repeat(MAX_INPUT_CHARS);
        assert!(matches!(err(&huge), Usage::TooLong { .. }));
        let e = err("/answer 0193a4b2 yes\u{0}no");
        assert!(e.to_string().contains("control characters"), "{e}");
        let reason = format!("/approve 0193a4b2 {}", "r".repeat(MAX_TEXT_CHARS + 1));
        assert!(err(&reason).to_string().contains("too long"));
    }

    #[test]
    fn task_references_are_ids_or_long_enough_prefixes() {
        assert_eq!(check_task(TASK).as_deref(), Ok(TASK));
        assert_eq!(
            check_task("0193A4B27C1D7E3F8A9B0C1D2E3F4A5B").as_deref(),
            Ok(TASK),
            "the simple form normalises to hyphenated"
        );
        assert_eq!(check_task("0193a4b2-7c1d").as_deref(), Ok("0193a4b2-7c1d"));
        for bad in [
            "0193a4b",
            "0193a4b2x",
            "0193a4b27c",
            "zzzzzzzz",
            "0193a4b2-",
            &format!("{TASK}0"),
        ] {
            assert!(check_task(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn roles_follow_the_command() {
        let role = |t: &str| ok(t).required_role();
        assert_eq!(role("/status"), Role::Viewer);
        assert_eq!(role("/projects"), Role::Viewer);
        assert_eq!(role("/help"), Role::Viewer);
        assert_eq!(role("/expo shop x"), Role::Operator);
        assert_eq!(role("/revise shop x"), Role::Operator);
        assert_eq!(role("/answer 0193a4b2 x"), Role::Operator);
        assert_eq!(role("/cancel 0193a4b2"), Role::Operator);
        assert_eq!(role("/approve 0193a4b2"), Role::Operator);
        assert_eq!(role("/reject 0193a4b2 x"), Role::Operator);
        assert_eq!(role("/pause"), Role::Admin);
        assert_eq!(role("/resume"), Role::Admin);
        assert!(!Role::Operator.allows(role("/pause")));
    }

    #[test]
    fn aliases_may_not_shadow_commands_or_repeat() {
        assert_eq!(
            Aliases::new([("x", "status")]),
            Err(Error::ReservedAlias {
                alias: s("status"),
                template: s("x")
            })
        );
        assert!(matches!(
            Aliases::new([("a", "web"), ("b", "web")]),
            Err(Error::DuplicateAlias { .. })
        ));
        assert!(matches!(
            Aliases::new([("a", "We b")]),
            Err(Error::InvalidAlias { .. })
        ));
    }

    #[test]
    fn button_data_round_trips_and_fits_telegram() {
        let id = Uuid::parse_str(TASK).expect("uuid");
        for button in Button::pair(id) {
            let data = button.data();
            assert!(data.len() <= 64, "{data} is over telegram's 64 bytes");
            assert_eq!(Button::parse(&data), Ok(button));
        }
        assert_eq!(
            Button::Approve(id).command(),
            Command::Approve {
                task: s(TASK),
                reason: None
            }
        );
        assert!(
            matches!(Button::Reject(id).command(), Command::Reject { feedback, .. } if feedback == BUTTON_REJECT_FEEDBACK)
        );
        for bad in [
            "approve",
            "approve:",
            "deploy:0193a4b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b",
            "approve:0193a4b27c1d7e3f8a9b0c1d2e3f4a5b",
            "approve:0193a4b2",
        ] {
            assert_eq!(Button::parse(bad), Err(Error::UnknownButton), "{bad}");
        }
    }

    #[test]
    fn the_shipped_catalog_aliases_all_work() {
        let catalog = kiln_templates::Catalog::embedded().expect("embedded catalog");
        let aliases = Aliases::new(catalog.aliases()).expect("catalog aliases are valid commands");
        for (alias, template) in [
            ("web", "static-site"),
            ("node", "node-express"),
            ("next", "nextjs"),
            ("expo", "expo"),
            ("flutter", "flutter"),
            ("api", "rest-api"),
            ("desktop", "electron"),
            ("php", "php"),
            ("laravel", "laravel"),
        ] {
            let text = format!("/{alias} Tadwerak Build a recycling app with wallet");
            assert_eq!(
                parse(&text, &aliases),
                Ok(Command::New {
                    template: s(template),
                    name: s("Tadwerak"),
                    brief: s("Build a recycling app with wallet"),
                }),
                "{text}"
            );
        }
        for (alias, template) in aliases.iter() {
            assert!(catalog.get(template).is_some(), "{alias} -> {template}");
        }
    }

    #[test]
    fn help_lists_commands_and_shortcuts() {
        let help = help_text(&aliases());
        assert!(help.contains("/approve <task> [reason]"), "{help}");
        assert!(help.contains("/expo <Name> <brief> - expo"), "{help}");
        assert!(!help_text(&Aliases::default()).contains("Shortcuts"));
    }
}
