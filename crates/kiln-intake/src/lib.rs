//! Chat and tracker intake, so people can steer Kiln from Telegram, Discord and Jira without
//! each adapter growing its own idea of what a command is.
//!
//! Everything here is a library the API calls: [`command`] is the one command model and its
//! chat grammar, [`telegram`], [`discord`] and [`jira`] hold each service's wire types, request
//! verification and an HTTP client, and [`report`] renders what a chat thread shows for a
//! task. Nothing here touches the database or decides who may do what beyond naming the role a
//! command needs; the API checks it, resolves task references and records every decision.
//!
//! All incoming text is untrusted: it is parsed against the command grammar and nothing else,
//! capped in length, and sent back only as plain text.

pub mod command;
pub mod discord;
mod http;
pub mod jira;
pub mod report;
pub mod telegram;

pub use command::{Aliases, Button, Command, Usage, help_text, parse};
pub use kiln_runtime::Secret;
pub use report::{StageLine, Surface, TaskSnapshot, buttons, progress_text, summary_line};
