//! API keys leave the process only in the provider's auth header, and never print.

mod common;

use common::{KEY, model};
use kiln_llm::{Chain, ChatRequest, Error, LlmClient, LlmConfig, Provider};
use kiln_testkit::fake_llm::{FakeLlm, Reply};
use serde_json::json;

#[tokio::test]
async fn the_key_travels_only_in_the_auth_header() {
    let fake = FakeLlm::start(|r| {
        if r.body.get("response_format").is_some()
            || r.body.get("tools").is_some()
            || r.body["generationConfig"].get("responseSchema").is_some()
        {
            Reply::Json(json!({"ok": true}))
        } else {
            Reply::Text("fine".into())
        }
    })
    .await;
    let providers = [
        (
            Provider::OpenAi,
            fake.openai_base(),
            "authorization",
            format!("Bearer {KEY}"),
        ),
        (
            Provider::Anthropic,
            fake.anthropic_base(),
            "x-api-key",
            KEY.to_string(),
        ),
        (
            Provider::Gemini,
            fake.gemini_base(),
            "x-goog-api-key",
            KEY.to_string(),
        ),
    ];
    let schema = kiln_llm::JsonSchema::new(
        "answer",
        json!({"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}),
    );
    for (provider, base, _, _) in &providers {
        for stream in [false, true] {
            let mut config = model(*provider, base.clone(), "m");
            config.stream = stream && *provider == Provider::OpenAi;
            let client = kiln_llm::Adapter::new(config).expect("adapter");
            client
                .chat(&ChatRequest::new("system", "user"))
                .await
                .expect("text");
            client
                .chat(&ChatRequest::new("system", "user").with_schema(schema.clone()))
                .await
                .expect("json");
        }
    }
    // Values the environment holds for Kiln (database URLs and the like) must not leak either.
    let env_values: Vec<String> = std::env::vars()
        .filter(|(k, v)| k.starts_with("KILN_") && v.len() >= 6)
        .map(|(_, v)| v)
        .collect();
    let requests = fake.requests();
    assert_eq!(requests.len(), 12);
    for r in &requests {
        let (_, _, header, value) = providers
            .iter()
            .find(|(p, ..)| p.as_str() == r.provider)
            .expect("known provider");
        let carrying: Vec<&str> = r
            .headers
            .iter()
            .filter(|(_, v)| v.contains(KEY))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(carrying, [*header], "{}: key only in {header}", r.provider);
        assert_eq!(r.header(header), Some(value.as_str()));
        let body = r.body.to_string();
        assert!(!body.contains(KEY), "{}: key in the body", r.provider);
        for v in &env_values {
            assert!(
                !body.contains(v.as_str()),
                "{}: an environment value in the body",
                r.provider
            );
        }
    }
}

#[tokio::test]
async fn keys_never_print() {
    let fake = FakeLlm::start(|_| Reply::Status {
        code: 401,
        retry_after: None,
    })
    .await;
    let config = model(Provider::OpenAi, fake.openai_base(), "m");
    assert!(!format!("{config:?}").contains(KEY));
    let llm = LlmConfig {
        primary: Some(config.clone()),
        fallback: Some(config.clone()),
        ..LlmConfig::default()
    };
    assert!(!format!("{llm:?}").contains(KEY));
    let chain = Chain::new(config, None).expect("chain");
    assert!(!format!("{chain:?}").contains(KEY));
    let err = chain
        .chat(&ChatRequest::new("s", "u"))
        .await
        .expect_err("401");
    assert!(matches!(err, Error::Status { status: 401, .. }), "{err:?}");
    assert!(!format!("{err:?}").contains(KEY));
    assert!(!err.summary().contains(KEY));
}

#[test]
fn an_unresolved_key_file_is_refused_rather_than_sent_without_a_key() {
    let mut config = model(Provider::OpenAi, "http://127.0.0.1:1/v1".into(), "m");
    config.api_key = None;
    config.api_key_file = Some("/nonexistent/key".into());
    match Chain::new(config, None) {
        Err(Error::InvalidConfig { reason, .. }) => assert!(reason.contains("resolve_key")),
        other => panic!("expected an invalid config, got {other:?}"),
    }
}
