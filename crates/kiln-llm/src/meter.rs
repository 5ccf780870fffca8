//! Metering and budgets: a call is reserved against its task's budget before it is sent and
//! recorded with what it really cost afterwards, so no task spends past its limits however
//! many replicas call models for it at once.
//!
//! The reservation (`llm_calls` row with outcome `reserved`) holds the estimated prompt plus
//! the whole output allowance at the highest price of the chain's models. A process that
//! dies mid-call leaves its reservation standing: the budget errs on the side of spending
//! less.

use std::time::Duration;

use serde::Serialize;
use sqlx::{PgExecutor, PgPool, Row};
use tracing::{info, instrument, warn};
use uuid::Uuid;

use crate::{Attempt, Budget, BudgetExceeded, Chain, ChatRequest, ChatResponse, Error, Outcome};

/// Who is calling and what they may spend.
#[derive(Debug, Clone, PartialEq)]
pub struct CallContext {
    pub task_id: Uuid,
    /// The Kiln stage asking (`plan`, `codegen`, ...); usage is reported per stage.
    pub stage: String,
    pub budget: Budget,
}

/// The chain with every call reserved, limited and recorded in Postgres.
#[derive(Debug)]
pub struct Metered {
    chain: Chain,
    db: PgPool,
}

impl Metered {
    pub fn new(chain: Chain, db: PgPool) -> Self {
        Self { chain, db }
    }

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The configuration of the model called first (edit format, context window).
    pub fn primary(&self) -> &crate::ModelConfig {
        self.chain.primary()
    }

    /// Reserves, sends and records one call. Refused with nothing sent or written when the
    /// request exceeds the context window ([`Error::ContextTooLarge`]) or the task's budget
    /// ([`Error::Budget`]).
    #[instrument(skip_all, fields(task_id = %ctx.task_id, stage = %ctx.stage))]
    pub async fn chat(&self, ctx: &CallContext, req: &ChatRequest) -> Result<ChatResponse, Error> {
        self.chain.check_context(req)?;
        let call_id = reserve(&self.db, ctx, &self.chain, req).await?;
        let outcome = self.chain.run(req).await;
        // The answer has been paid for: a failed write must not throw it away. The
        // reservation then stays, which keeps the budget conservative.
        if let Err(e) = record(&self.db, ctx, call_id, &outcome).await {
            warn!(%call_id, error = %e, "llm call could not be recorded, its reservation stays");
        }
        outcome.result
    }
}

/// What a task has spent and reserved so far.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spent {
    tokens: u64,
    cost_usd: f64,
    calls: u64,
}

/// The first limit this call would cross: calls, then tokens, then cost.
fn check(budget: &Budget, spent: Spent, tokens: u64, cost_usd: f64) -> Result<(), BudgetExceeded> {
    if spent.calls + 1 > u64::from(budget.max_calls) {
        return Err(BudgetExceeded {
            limit: "calls",
            used: spent.calls as f64,
            needed: 1.0,
            max: f64::from(budget.max_calls),
        });
    }
    if spent.tokens + tokens > budget.max_tokens {
        return Err(BudgetExceeded {
            limit: "tokens",
            used: spent.tokens as f64,
            needed: tokens as f64,
            max: budget.max_tokens as f64,
        });
    }
    if spent.cost_usd + cost_usd > budget.max_cost_usd {
        return Err(BudgetExceeded {
            limit: "cost_usd",
            used: spent.cost_usd,
            needed: cost_usd,
            max: budget.max_cost_usd,
        });
    }
    Ok(())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Checks the budget and writes the reservation in one transaction under the task's row
/// lock, which serializes the checks of one task across connections and replicas.
async fn reserve(
    db: &PgPool,
    ctx: &CallContext,
    chain: &Chain,
    req: &ChatRequest,
) -> Result<Uuid, Error> {
    let input = req.estimated_input_tokens();
    let output = u64::from(req.max_output_tokens);
    let tokens = input + output;
    // The fallback may answer instead, so reserve at the dearer of the two.
    let cost_usd = std::iter::once(chain.primary())
        .chain(chain.fallback())
        .map(|m| m.cost_usd(input, output))
        .fold(0.0, f64::max);

    let mut tx = db.begin().await?;
    let locked = sqlx::query("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE")
        .bind(ctx.task_id)
        .fetch_optional(&mut *tx)
        .await?;
    if locked.is_none() {
        return Err(Error::UnknownTask {
            task_id: ctx.task_id,
        });
    }
    // The kill switch, read under the same lock: a pause set before this point stops the call.
    let paused = sqlx::query(
        "SELECT f.value->>'actor' AS actor, f.value->>'reason' AS reason FROM tasks t \
         JOIN projects p ON p.id = t.project_id JOIN control_flags f \
           ON f.name = 'pause' OR f.name = 'pause:' || p.name \
         WHERE t.id = $1 ORDER BY f.name = 'pause' DESC LIMIT 1",
    )
    .bind(ctx.task_id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(p) = paused {
        info!("llm call refused: kiln is paused");
        return Err(Error::Paused {
            actor: p.try_get::<Option<String>, _>("actor")?.unwrap_or_default(),
            reason: p
                .try_get::<Option<String>, _>("reason")?
                .unwrap_or_default(),
        });
    }
    let row = sqlx::query(
        "SELECT coalesce(sum(input_tokens + output_tokens), 0)::bigint AS tokens, \
                coalesce(sum(cost_usd), 0)::float8 AS cost_usd, \
                count(*) AS calls \
         FROM llm_calls WHERE task_id = $1 AND outcome <> 'error'",
    )
    .bind(ctx.task_id)
    .fetch_one(&mut *tx)
    .await?;
    let spent = Spent {
        tokens: to_u64(row.try_get("tokens")?),
        cost_usd: row.try_get("cost_usd")?,
        calls: to_u64(row.try_get("calls")?),
    };
    if let Err(exceeded) = check(&ctx.budget, spent, tokens, cost_usd) {
        info!(
            limit = exceeded.limit,
            used = exceeded.used,
            needed = exceeded.needed,
            max = exceeded.max,
            "llm call refused by the task budget"
        );
        return Err(exceeded.into());
    }
    let id = Uuid::now_v7();
    let primary = chain.primary();
    sqlx::query(
        "INSERT INTO llm_calls \
           (id, task_id, stage, provider, model, input_tokens, output_tokens, cost_usd, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved')",
    )
    .bind(id)
    .bind(ctx.task_id)
    .bind(&ctx.stage)
    .bind(primary.provider.as_str())
    .bind(&primary.model)
    .bind(to_i64(input))
    .bind(to_i64(output))
    .bind(cost_usd)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Completes the reservation with the last attempt and adds a row per earlier failed one.
async fn record(
    db: &PgPool,
    ctx: &CallContext,
    call_id: Uuid,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let (last, earlier) = match outcome.attempts.split_last() {
        Some((last, earlier)) => (Some(last), earlier),
        None => (None, &[][..]),
    };
    for attempt in earlier {
        insert_failed(&mut tx, ctx, attempt).await?;
    }
    let error = match &outcome.result {
        Ok(_) => None,
        Err(e) => Some(
            last.and_then(|a| a.error.clone())
                .unwrap_or_else(|| e.summary()),
        ),
    };
    let (usage, cost_usd, latency) = match (last, &outcome.result) {
        (Some(a), Ok(_)) => (a.usage, a.cost_usd, a.latency),
        (Some(a), Err(_)) => (Default::default(), 0.0, a.latency),
        (None, _) => (Default::default(), 0.0, Duration::ZERO),
    };
    let outcome_name = if error.is_none() { "ok" } else { "error" };
    sqlx::query(
        "UPDATE llm_calls SET \
           provider = coalesce($2, provider), model = coalesce($3, model), \
           input_tokens = $4, output_tokens = $5, cached_tokens = $6, cost_usd = $7, \
           latency_ms = $8, outcome = $9, error = $10 \
         WHERE id = $1",
    )
    .bind(call_id)
    .bind(last.map(|a| a.provider.as_str()))
    .bind(last.map(|a| a.model.as_str()))
    .bind(to_i64(usage.input_tokens))
    .bind(to_i64(usage.output_tokens))
    .bind(to_i64(usage.cached_tokens))
    .bind(cost_usd)
    .bind(millis(latency))
    .bind(outcome_name)
    .bind(&error)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if let Some(a) = last {
        info!(
            provider = %a.provider,
            model = %a.model,
            outcome = outcome_name,
            input_tokens = a.usage.input_tokens,
            output_tokens = a.usage.output_tokens,
            cached_tokens = a.usage.cached_tokens,
            cost_usd = a.cost_usd,
            latency_ms = millis(a.latency),
            attempts = outcome.attempts.len(),
            "llm call finished"
        );
    }
    Ok(())
}

async fn insert_failed(
    tx: &mut sqlx::PgConnection,
    ctx: &CallContext,
    attempt: &Attempt,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO llm_calls \
           (id, task_id, stage, provider, model, latency_ms, outcome, error, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'error', $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(ctx.task_id)
    .bind(&ctx.stage)
    .bind(attempt.provider.as_str())
    .bind(&attempt.model)
    .bind(millis(attempt.latency))
    .bind(attempt.error.as_deref().unwrap_or("failed"))
    .bind(attempt.started_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// A task's model usage: answered calls only (reservations and failures excluded).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskUsage {
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: u64,
    pub cost_usd: f64,
    /// In the order the stages first called a model.
    pub by_stage: Vec<StageUsage>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StageUsage {
    pub stage: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// What `task_id` has used, in total and per stage.
pub async fn usage<'e>(db: impl PgExecutor<'e>, task_id: Uuid) -> Result<TaskUsage, Error> {
    let rows = sqlx::query(
        "SELECT stage, count(*) AS calls, \
                coalesce(sum(input_tokens), 0)::bigint AS input_tokens, \
                coalesce(sum(output_tokens), 0)::bigint AS output_tokens, \
                coalesce(sum(cached_tokens), 0)::bigint AS cached_tokens, \
                coalesce(sum(cost_usd), 0)::float8 AS cost_usd \
         FROM llm_calls \
         WHERE task_id = $1 AND outcome NOT IN ('reserved', 'error') \
         GROUP BY stage ORDER BY min(created_at), stage",
    )
    .bind(task_id)
    .fetch_all(db)
    .await?;
    let mut total = TaskUsage::default();
    for row in rows {
        let stage = StageUsage {
            stage: row.try_get("stage")?,
            calls: to_u64(row.try_get("calls")?),
            input_tokens: to_u64(row.try_get("input_tokens")?),
            output_tokens: to_u64(row.try_get("output_tokens")?),
            cost_usd: row.try_get("cost_usd")?,
        };
        total.calls += stage.calls;
        total.input_tokens += stage.input_tokens;
        total.output_tokens += stage.output_tokens;
        total.cached_tokens += to_u64(row.try_get("cached_tokens")?);
        total.cost_usd += stage.cost_usd;
        total.by_stage.push(stage);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(tokens: u64, cost_usd: f64, calls: u64) -> Spent {
        Spent {
            tokens,
            cost_usd,
            calls,
        }
    }

    #[test]
    fn limits_are_checked_calls_then_tokens_then_cost() {
        let budget = Budget {
            max_tokens: 100,
            max_cost_usd: 1.0,
            max_calls: 2,
        };
        assert!(
            check(&budget, spent(0, 0.0, 0), 100, 1.0).is_ok(),
            "exactly at the limits"
        );
        let e = check(&budget, spent(0, 0.0, 2), 1, 0.0).expect_err("calls");
        assert_eq!((e.limit, e.used, e.max), ("calls", 2.0, 2.0));
        let e = check(&budget, spent(60, 0.0, 0), 41, 0.0).expect_err("tokens");
        assert_eq!((e.limit, e.used, e.needed), ("tokens", 60.0, 41.0));
        let e = check(&budget, spent(0, 0.25, 0), 1, 0.8).expect_err("cost");
        assert_eq!(
            (e.limit, e.used, e.needed, e.max),
            ("cost_usd", 0.25, 0.8, 1.0)
        );
    }
}
