//! Metering against a real database: reservations hold budgets before anything is sent,
//! across concurrent callers, and usage adds up per stage.

mod common;

use std::sync::Arc;

use common::{calls, model, task};
use kiln_llm::{Budget, CallContext, Chain, ChatRequest, Error, Metered, Provider};
use kiln_testkit::TestEnv;
use kiln_testkit::fake_llm::{FakeLlm, Reply};
use uuid::Uuid;

fn answer(input: u64, output: u64, cached: u64) -> Reply {
    Reply::WithUsage {
        reply: Box::new(Reply::Text("fine".into())),
        input,
        output,
        cached,
    }
}

fn ctx(task_id: Uuid, stage: &str, budget: Budget) -> CallContext {
    CallContext {
        task_id,
        stage: stage.into(),
        budget,
    }
}

fn small() -> ChatRequest {
    ChatRequest::new("system", "hello").with_max_output_tokens(100)
}

#[tokio::test]
async fn the_call_past_max_calls_is_refused_and_not_sent() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|_| answer(10, 5, 0)).await;
    let metered = Metered::new(
        Chain::new(model(Provider::OpenAi, fake.openai_base(), "m"), None).expect("chain"),
        env.pool.clone(),
    );
    let budget = Budget {
        max_calls: 2,
        ..Budget::default()
    };
    let cx = ctx(task_id, "plan", budget);
    metered.chat(&cx, &small()).await.expect("first call");
    metered.chat(&cx, &small()).await.expect("second call");
    match metered.chat(&cx, &small()).await {
        Err(Error::Budget(b)) => {
            assert_eq!(b.limit, "calls");
            assert_eq!((b.used, b.needed, b.max), (2.0, 1.0, 2.0));
        }
        other => panic!("expected a calls refusal, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 2, "the refused call was not sent");
    let rows = calls(&env, task_id).await;
    assert_eq!(rows.len(), 2, "the refused call wrote nothing: {rows:#?}");
    assert!(rows.iter().all(|r| r.outcome == "ok"));
}

#[tokio::test]
async fn failed_attempts_do_not_count_as_calls() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|r| {
        if r.last_user == "fail" {
            Reply::Status {
                code: 400,
                retry_after: None,
            }
        } else {
            answer(10, 5, 0)
        }
    })
    .await;
    let metered = Metered::new(
        Chain::new(model(Provider::OpenAi, fake.openai_base(), "m"), None).expect("chain"),
        env.pool.clone(),
    );
    let cx = ctx(
        task_id,
        "plan",
        Budget {
            max_calls: 1,
            ..Budget::default()
        },
    );
    let err = metered
        .chat(&cx, &ChatRequest::new("s", "fail"))
        .await
        .expect_err("400");
    assert!(matches!(err, Error::Status { status: 400, .. }), "{err:?}");
    metered.chat(&cx, &small()).await.expect("the one call");
    let rows = calls(&env, task_id).await;
    let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    assert_eq!(outcomes, ["error", "ok"]);
    assert!(
        rows[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("status 400")
    );
}

#[tokio::test]
async fn the_reservation_enforces_the_cost_limit_before_sending() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|_| answer(10, 10, 0)).await;
    let mut m = model(Provider::OpenAi, fake.openai_base(), "m");
    m.price_input_per_mtok = 2.0;
    m.price_output_per_mtok = 10.0;
    let metered = Metered::new(Chain::new(m, None).expect("chain"), env.pool.clone());
    let cx = ctx(
        task_id,
        "codegen",
        Budget {
            max_cost_usd: 0.5,
            ..Budget::default()
        },
    );
    // Reserves 1 000 output tokens ($0.01) and spends $0.00012.
    metered
        .chat(
            &cx,
            &ChatRequest::new("s", "u").with_max_output_tokens(1_000),
        )
        .await
        .expect("a cheap call");
    // 100 000 output tokens would reserve $1.00: refused though only $0.00012 is spent.
    let big = ChatRequest::new("s", "u").with_max_output_tokens(100_000);
    match metered.chat(&cx, &big).await {
        Err(Error::Budget(b)) => {
            assert_eq!(b.limit, "cost_usd");
            assert!(b.used > 0.0 && b.used < 0.5, "{b:?}");
            assert!(
                (b.needed - (2.0 + 100_000.0 * 10.0) / 1e6).abs() < 1e-9,
                "{b:?}"
            );
            assert_eq!(b.max, 0.5);
        }
        other => panic!("expected a cost refusal, got {other:?}"),
    }
    assert_eq!(fake.requests().len(), 1, "the refused call was not sent");
    let rows = calls(&env, task_id).await;
    assert_eq!(rows.len(), 1);
    let expected = (10.0 * 2.0 + 10.0 * 10.0) / 1e6;
    assert!(
        (rows[0].cost_usd - expected).abs() < 1e-12,
        "{}",
        rows[0].cost_usd
    );
}

#[tokio::test]
async fn the_token_limit_counts_the_output_allowance() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|_| answer(10, 10, 0)).await;
    let metered = Metered::new(
        Chain::new(model(Provider::OpenAi, fake.openai_base(), "m"), None).expect("chain"),
        env.pool.clone(),
    );
    let cx = ctx(
        task_id,
        "plan",
        Budget {
            max_tokens: 1_000,
            ..Budget::default()
        },
    );
    match metered
        .chat(
            &cx,
            &ChatRequest::new("s", "u").with_max_output_tokens(1_000),
        )
        .await
    {
        Err(Error::Budget(b)) => {
            assert_eq!(b.limit, "tokens");
            assert_eq!((b.used, b.needed, b.max), (0.0, 1_001.0, 1_000.0));
        }
        other => panic!("expected a tokens refusal, got {other:?}"),
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn concurrent_calls_never_exceed_the_budget() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|_| answer(10, 5, 0)).await;
    let metered = Arc::new(Metered::new(
        Chain::new(model(Provider::OpenAi, fake.openai_base(), "m"), None).expect("chain"),
        env.pool.clone(),
    ));
    let budget = Budget {
        max_calls: 5,
        ..Budget::default()
    };
    let mut set = tokio::task::JoinSet::new();
    for i in 0..8 {
        let metered = metered.clone();
        let cx = ctx(task_id, "codegen", budget.clone());
        set.spawn(async move {
            metered
                .chat(
                    &cx,
                    &ChatRequest::new("s", format!("call {i}")).with_max_output_tokens(100),
                )
                .await
        });
    }
    let (mut answered, mut refused) = (0, 0);
    while let Some(result) = set.join_next().await {
        match result.expect("task") {
            Ok(_) => answered += 1,
            Err(Error::Budget(b)) if b.limit == "calls" => refused += 1,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!((answered, refused), (5, 3));
    assert_eq!(
        fake.requests().len(),
        5,
        "exactly the budget reached the provider"
    );
    assert_eq!(calls(&env, task_id).await.len(), 5);
}

#[tokio::test]
async fn usage_adds_up_per_stage() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|r| match r.last_user.as_str() {
        "plan" => answer(100, 10, 50),
        "code" => answer(200, 20, 0),
        _ => Reply::Status {
            code: 400,
            retry_after: None,
        },
    })
    .await;
    let mut m = model(Provider::OpenAi, fake.openai_base(), "m");
    m.price_input_per_mtok = 1.0;
    m.price_output_per_mtok = 4.0;
    let metered = Metered::new(Chain::new(m, None).expect("chain"), env.pool.clone());
    let budget = Budget::default();
    for (stage, user) in [("plan", "plan"), ("codegen", "code"), ("plan", "plan")] {
        metered
            .chat(
                &ctx(task_id, stage, budget.clone()),
                &ChatRequest::new("s", user),
            )
            .await
            .expect("answer");
    }
    metered
        .chat(
            &ctx(task_id, "review", budget.clone()),
            &ChatRequest::new("s", "bad"),
        )
        .await
        .expect_err("400");

    let usage = kiln_llm::usage(&env.pool, task_id).await.expect("usage");
    assert_eq!(usage.calls, 3);
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.cached_tokens),
        (400, 40, 100)
    );
    let cost = (400.0 * 1.0 + 40.0 * 4.0) / 1e6;
    assert!((usage.cost_usd - cost).abs() < 1e-12, "{}", usage.cost_usd);
    let stages: Vec<(&str, u64, u64, u64)> = usage
        .by_stage
        .iter()
        .map(|s| (s.stage.as_str(), s.calls, s.input_tokens, s.output_tokens))
        .collect();
    assert_eq!(stages, [("plan", 2, 200, 20), ("codegen", 1, 200, 20)]);

    let empty = kiln_llm::usage(&env.pool, Uuid::new_v4())
        .await
        .expect("usage");
    assert_eq!(empty, kiln_llm::TaskUsage::default());
}

#[tokio::test]
async fn an_unknown_task_is_refused() {
    let env = TestEnv::new().await;
    let fake = FakeLlm::start(|_| answer(1, 1, 0)).await;
    let metered = Metered::new(
        Chain::new(model(Provider::OpenAi, fake.openai_base(), "m"), None).expect("chain"),
        env.pool.clone(),
    );
    let missing = Uuid::new_v4();
    match metered
        .chat(&ctx(missing, "plan", Budget::default()), &small())
        .await
    {
        Err(Error::UnknownTask { task_id }) => assert_eq!(task_id, missing),
        other => panic!("expected an unknown task, got {other:?}"),
    }
    assert!(fake.requests().is_empty());
}
