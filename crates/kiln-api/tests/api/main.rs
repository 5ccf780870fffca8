//! Integration tests of the API against real NATS JetStream and Postgres: one binary, one
//! isolated database and subject prefix per test, the API served in-process on port 0.

mod access;
mod common;
mod create;
mod dashboard;
mod diff;
mod idempotency;
mod intake_discord;
mod intake_jira;
mod intake_telegram;
mod logs;
mod reads;
mod schemathesis;
mod service;
mod subscriptions;
mod system;
