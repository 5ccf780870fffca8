//! Integration tests of the API against real NATS JetStream and Postgres: one binary, one
//! isolated database and subject prefix per test, the API served in-process on port 0.

mod common;
mod create;
mod dashboard;
mod diff;
mod idempotency;
mod logs;
mod reads;
mod service;
mod system;
