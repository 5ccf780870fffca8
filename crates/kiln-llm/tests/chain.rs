//! The fallback chain: what is retried, what falls back, what is returned at once, and
//! the call records each attempt leaves.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{calls, model, task};
use kiln_llm::{
    Budget, CallContext, Chain, ChatRequest, Error, LlmClient, Metered, ModelConfig, Provider,
};
use kiln_testkit::TestEnv;
use kiln_testkit::fake_llm::{FakeLlm, Reply, closed_base};

fn ok() -> Reply {
    Reply::WithUsage {
        reply: Box::new(Reply::Text("fine".into())),
        input: 40,
        output: 10,
        cached: 0,
    }
}

/// `primary` (OpenAI wire) and `fallback` (Anthropic wire), both on the fake.
fn pair(fake: &FakeLlm) -> (ModelConfig, ModelConfig) {
    (
        model(Provider::OpenAi, fake.openai_base(), "primary-model"),
        model(Provider::Anthropic, fake.anthropic_base(), "fallback-model"),
    )
}

#[tokio::test]
async fn primary_failing_every_retry_falls_back_and_each_attempt_is_recorded() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|r| {
        if r.model == "primary-model" {
            Reply::Status {
                code: 500,
                retry_after: None,
            }
        } else {
            ok()
        }
    })
    .await;
    let (mut primary, mut fallback) = pair(&fake);
    primary.max_retries = 2;
    primary.price_input_per_mtok = 1.0;
    fallback.price_input_per_mtok = 3.0;
    fallback.price_output_per_mtok = 15.0;
    let metered = Metered::new(
        Chain::new(primary, Some(fallback)).expect("chain"),
        env.pool.clone(),
    );
    let ctx = CallContext {
        task_id,
        stage: "plan".into(),
        budget: Budget::default(),
    };
    let r = metered
        .chat(&ctx, &ChatRequest::new("system", "hello"))
        .await
        .expect("the fallback answers");
    assert_eq!(
        (r.provider.as_str(), r.model.as_str()),
        ("anthropic", "fallback-model")
    );

    let sent: Vec<String> = fake.requests().iter().map(|r| r.model.clone()).collect();
    assert_eq!(
        sent,
        [
            "primary-model",
            "primary-model",
            "primary-model",
            "fallback-model"
        ],
        "one try and two retries, then the fallback"
    );
    let rows = calls(&env, task_id).await;
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.outcome.as_str(), r.provider.as_str(), r.model.as_str()))
        .collect();
    assert_eq!(rows.len(), 4, "{rows:#?}");
    assert_eq!(
        summary
            .iter()
            .filter(|s| **s == ("error", "openai", "primary-model"))
            .count(),
        3,
        "{summary:?}"
    );
    let ok_row = rows.iter().find(|r| r.outcome == "ok").expect("an ok row");
    assert_eq!(
        (ok_row.provider.as_str(), ok_row.model.as_str()),
        ("anthropic", "fallback-model")
    );
    assert_eq!((ok_row.input_tokens, ok_row.output_tokens), (40, 10));
    let expected = (40.0 * 3.0 + 10.0 * 15.0) / 1e6;
    assert!(
        (ok_row.cost_usd - expected).abs() < 1e-12,
        "{}",
        ok_row.cost_usd
    );
    for row in rows.iter().filter(|r| r.outcome == "error") {
        assert_eq!(
            (row.input_tokens, row.output_tokens, row.cost_usd),
            (0, 0, 0.0)
        );
        let error = row.error.as_deref().unwrap_or_default();
        assert!(error.contains("status 500"), "{error}");
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let arrivals = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = arrivals.clone();
    let fake = FakeLlm::start(move |_| {
        let mut seen = seen.lock().expect("arrivals");
        seen.push(Instant::now());
        if seen.len() == 1 {
            Reply::Status {
                code: 429,
                retry_after: Some(1),
            }
        } else {
            ok()
        }
    })
    .await;
    let mut primary = model(Provider::OpenAi, fake.openai_base(), "primary-model");
    primary.max_retries = 1;
    let chain = Chain::new(primary, None).expect("chain");
    let r = chain
        .chat(&ChatRequest::new("s", "u"))
        .await
        .expect("the retry answers");
    assert_eq!(r.content, "fine");
    let arrivals = arrivals.lock().expect("arrivals").clone();
    assert_eq!(arrivals.len(), 2);
    let waited = arrivals[1] - arrivals[0];
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
}

#[tokio::test]
async fn a_bad_request_is_neither_retried_nor_fallen_back() {
    let fake = FakeLlm::start(|_| Reply::Status {
        code: 400,
        retry_after: None,
    })
    .await;
    let (mut primary, fallback) = pair(&fake);
    primary.max_retries = 2;
    let chain = Chain::new(primary, Some(fallback)).expect("chain");
    let outcome = chain.run(&ChatRequest::new("s", "u")).await;
    match outcome.result {
        Err(Error::Status { status: 400, .. }) => {}
        other => panic!("expected the 400, got {other:?}"),
    }
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn connection_refused_falls_back() {
    let fake = FakeLlm::start(|_| ok()).await;
    let mut primary = model(
        Provider::OpenAi,
        format!("{}/v1", closed_base()),
        "primary-model",
    );
    primary.max_retries = 1;
    let fallback = model(Provider::Gemini, fake.gemini_base(), "fallback-model");
    let chain = Chain::new(primary, Some(fallback)).expect("chain");
    let outcome = chain.run(&ChatRequest::new("s", "u")).await;
    let r = outcome.result.expect("the fallback answers");
    assert_eq!(
        (r.provider.as_str(), r.model.as_str()),
        ("gemini", "fallback-model")
    );
    let errors: Vec<&str> = outcome
        .attempts
        .iter()
        .filter_map(|a| a.error.as_deref())
        .collect();
    assert_eq!(errors.len(), 2, "one try, one retry: {errors:?}");
    assert!(
        errors
            .iter()
            .all(|e| e.starts_with("cannot reach openai model primary-model")),
        "{errors:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_a_timeout_then_fallback() {
    let fake = FakeLlm::start(|r| {
        if r.model == "primary-model" {
            Reply::Hang(Duration::from_secs(10))
        } else {
            ok()
        }
    })
    .await;
    let (mut primary, fallback) = pair(&fake);
    primary.timeout_secs = 1;
    let direct = kiln_llm::Adapter::new(primary.clone()).expect("adapter");
    let started = Instant::now();
    let err = direct
        .chat(&ChatRequest::new("s", "u"))
        .await
        .expect_err("times out");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "gave up before the hang ended"
    );

    let chain = Chain::new(primary, Some(fallback)).expect("chain");
    let outcome = chain.run(&ChatRequest::new("s", "u")).await;
    let r = outcome.result.expect("the fallback answers");
    assert_eq!(r.model, "fallback-model");
    let first = outcome.attempts[0].error.as_deref().unwrap_or_default();
    assert!(first.contains("did not answer within"), "{first}");
}

#[tokio::test]
async fn a_malformed_answer_is_returned_at_once() {
    let fake = FakeLlm::start(|_| Reply::Malformed).await;
    let (mut primary, fallback) = pair(&fake);
    primary.max_retries = 2;
    let chain = Chain::new(primary, Some(fallback)).expect("chain");
    let err = chain
        .chat(&ChatRequest::new("s", "u"))
        .await
        .expect_err("malformed");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_prompt_too_large_for_the_window_is_refused_before_sending() {
    let env = TestEnv::new().await;
    let task_id = task(&env).await;
    let fake = FakeLlm::start(|_| ok()).await;
    let (mut primary, fallback) = pair(&fake);
    primary.context_window = 1_000;
    let metered = Metered::new(
        Chain::new(primary, Some(fallback)).expect("chain"),
        env.pool.clone(),
    );
    // 3 600 chars ≈ 900 tokens, plus 200 of output allowance > 1 000.
    let req = ChatRequest::new("s".repeat(600), "u".repeat(3_000)).with_max_output_tokens(200);
    let ctx = CallContext {
        task_id,
        stage: "codegen".into(),
        budget: Budget::default(),
    };
    match metered.chat(&ctx, &req).await {
        Err(Error::ContextTooLarge { estimated, window }) => {
            assert_eq!((estimated, window), (900 + 200, 1_000));
        }
        other => panic!("expected a context refusal, got {other:?}"),
    }
    match metered.chain().chat(&req).await {
        Err(Error::ContextTooLarge { .. }) => {}
        other => panic!("expected a context refusal, got {other:?}"),
    }
    assert!(fake.requests().is_empty(), "nothing reached the provider");
    assert!(
        calls(&env, task_id).await.is_empty(),
        "nothing was recorded"
    );

    // The same request with a smaller allowance fits.
    let req = req.with_max_output_tokens(100);
    metered.chat(&ctx, &req).await.expect("fits");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn the_counter_of_a_scenario_can_drive_recovery() {
    // Two transient failures then success, within the primary's retries: no fallback.
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let fake = FakeLlm::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::Status {
                code: 503,
                retry_after: None,
            }
        } else {
            ok()
        }
    })
    .await;
    let (mut primary, fallback) = pair(&fake);
    primary.max_retries = 2;
    let chain = Chain::new(primary, Some(fallback)).expect("chain");
    let outcome = chain.run(&ChatRequest::new("s", "u")).await;
    assert_eq!(outcome.result.expect("answer").model, "primary-model");
    assert_eq!(outcome.attempts.len(), 3);
    assert_eq!(n.load(Ordering::SeqCst), 3);
}
