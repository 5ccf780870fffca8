//! Helpers shared by the integration tests: model configs pointing at the fake provider,
//! a task row to meter against, and the recorded calls.

#![allow(dead_code)]

use kiln_llm::{ModelConfig, Provider};
use kiln_runtime::Secret;
use kiln_testkit::TestEnv;
use sqlx::Row;
use uuid::Uuid;

pub const KEY: &str = "sk-kiln-test-key-0123456789";

/// A model at `base` with the test key, short timeouts and no retries unless a test asks.
pub fn model(provider: Provider, base: String, name: &str) -> ModelConfig {
    let mut m = ModelConfig::new(provider, base, name);
    m.api_key = Some(Secret::new(KEY));
    m.timeout_secs = 5;
    m.max_retries = 0;
    m
}

pub async fn task(env: &TestEnv) -> Uuid {
    let id = Uuid::new_v4();
    let mut conn = env.pool.acquire().await.expect("connection");
    kiln_store::tasks::insert_task(
        &mut conn,
        &kiln_store::tasks::NewTask {
            id,
            project: format!("llm-{}", &id.simple().to_string()[..8]),
            kind: "new_app".into(),
            template: "static".into(),
            brief: "a page".into(),
            options: serde_json::json!({}),
        },
    )
    .await
    .expect("insert task");
    id
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub stage: String,
    pub provider: String,
    pub model: String,
    pub outcome: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_usd: f64,
    pub error: Option<String>,
}

/// The task's `llm_calls`, oldest first.
pub async fn calls(env: &TestEnv, task_id: Uuid) -> Vec<CallRow> {
    sqlx::query(
        "SELECT stage, provider, model, outcome, input_tokens, output_tokens, cached_tokens, \
                cost_usd, error \
         FROM llm_calls WHERE task_id = $1 ORDER BY created_at, id",
    )
    .bind(task_id)
    .fetch_all(&env.pool)
    .await
    .expect("read llm_calls")
    .iter()
    .map(|r| CallRow {
        stage: r.get("stage"),
        provider: r.get("provider"),
        model: r.get("model"),
        outcome: r.get("outcome"),
        input_tokens: r.get("input_tokens"),
        output_tokens: r.get("output_tokens"),
        cached_tokens: r.get("cached_tokens"),
        cost_usd: r.get("cost_usd"),
        error: r.get("error"),
    })
    .collect()
}
