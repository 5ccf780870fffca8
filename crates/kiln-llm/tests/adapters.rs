//! Each wire adapter against the fake provider: what it sends and how it reads the answer.

mod common;

use common::{KEY, model};
use kiln_llm::{
    Anthropic, ChatRequest, Error, FinishReason, Gemini, JsonSchema, LlmClient, Message,
    OpenAiCompat, Provider, Usage,
};
use kiln_testkit::fake_llm::{FakeLlm, Reply};
use serde_json::{Value, json};

fn with_usage(reply: Reply) -> Reply {
    Reply::WithUsage {
        reply: Box::new(reply),
        input: 100,
        output: 20,
        cached: 30,
    }
}

const REPORTED: Usage = Usage {
    input_tokens: 100,
    output_tokens: 20,
    cached_tokens: 30,
};

fn schema() -> JsonSchema {
    JsonSchema::new(
        "verdict",
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ok": {"type": "boolean"},
                "notes": {
                    "type": "array",
                    "items": {"type": "object", "additionalProperties": false,
                              "properties": {"text": {"type": "string"}}, "required": ["text"]}
                }
            },
            "required": ["ok", "notes"]
        }),
    )
}

fn request() -> ChatRequest {
    let mut req = ChatRequest::new("You are Kiln's reviewer.", "first question");
    req.messages.push(Message::assistant("an answer"));
    req.messages.push(Message::user("Review this diff."));
    req.max_output_tokens = 500;
    req
}

fn contains_key(value: &Value, key: &str) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == key || contains_key(v, key)),
        Value::Array(items) => items.iter().any(|v| contains_key(v, key)),
        _ => false,
    }
}

// ---------- OpenAI-compatible ----------

#[tokio::test]
async fn openai_plain_text() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Text("Looks good.".into()))).await;
    let client =
        OpenAiCompat::new(model(Provider::OpenAi, fake.openai_base(), "gpt-test")).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.content, "Looks good.");
    assert_eq!(r.usage, REPORTED);
    assert_eq!(r.finish, FinishReason::Stop);
    assert_eq!(
        (r.provider.as_str(), r.model.as_str()),
        ("openai", "gpt-test")
    );

    let sent = &fake.requests()[0];
    assert_eq!(sent.provider, "openai");
    assert_eq!(sent.model, "gpt-test");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.system, "You are Kiln's reviewer.");
    assert_eq!(sent.last_user, "Review this diff.");
    assert!(!sent.stream);
    assert_eq!(
        sent.body["messages"],
        json!([
            {"role": "system", "content": "You are Kiln's reviewer."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "Review this diff."},
        ])
    );
    assert_eq!(sent.body["max_tokens"], 500);
    assert!(sent.body.get("response_format").is_none());
}

#[tokio::test]
async fn openai_usage_defaults_to_the_fakes_estimate() {
    let fake = FakeLlm::start(|_| Reply::Text("12345".into())).await;
    let client =
        OpenAiCompat::new(model(Provider::OpenAi, fake.openai_base(), "gpt-test")).expect("client");
    let req = ChatRequest::new("abcd", "efgh");
    let r = client.chat(&req).await.expect("answer");
    assert_eq!(r.usage.input_tokens, 2, "8 prompt chars / 4");
    assert_eq!(r.usage.output_tokens, 2, "5 chars / 4 rounded up");
}

#[tokio::test]
async fn openai_structured_output() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Json(json!({"ok": true, "notes": []})))).await;
    let client =
        OpenAiCompat::new(model(Provider::OpenAi, fake.openai_base(), "gpt-test")).expect("client");
    let r = client
        .chat(&request().with_schema(schema()))
        .await
        .expect("answer");
    let answer: Value = r.json().expect("json answer");
    assert_eq!(answer, json!({"ok": true, "notes": []}));
    assert_eq!(r.usage, REPORTED);

    let body = &fake.requests()[0].body;
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {
            "name": "verdict", "schema": schema().schema, "strict": true
        }})
    );
}

#[tokio::test]
async fn openai_length_finish() {
    let fake = FakeLlm::start(|_| Reply::Truncated("Looks go".into())).await;
    let client =
        OpenAiCompat::new(model(Provider::OpenAi, fake.openai_base(), "gpt-test")).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.finish, FinishReason::Length);
    assert_eq!(r.content, "Looks go");
}

#[tokio::test]
async fn openai_streaming_assembles_the_answer_and_usage() {
    let text = "A streamed answer, long enough to arrive in several chunks: ünïcödé too.";
    let fake = FakeLlm::start(move |_| with_usage(Reply::Text(text.into()))).await;
    let mut config = model(Provider::OpenAi, fake.openai_base(), "gpt-test");
    config.stream = true;
    let client = OpenAiCompat::new(config).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.content, text);
    assert_eq!(r.usage, REPORTED);
    assert_eq!(r.finish, FinishReason::Stop);

    let sent = &fake.requests()[0];
    assert!(sent.stream);
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn openai_streaming_reports_length_and_structured_output() {
    let fake = FakeLlm::start(|r| {
        if r.body.get("response_format").is_some() {
            Reply::Json(json!({"ok": false, "notes": [{"text": "x"}]}))
        } else {
            Reply::Truncated("cut".into())
        }
    })
    .await;
    let mut config = model(Provider::OpenAi, fake.openai_base(), "gpt-test");
    config.stream = true;
    let client = OpenAiCompat::new(config).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.finish, FinishReason::Length);
    let r = client
        .chat(&request().with_schema(schema()))
        .await
        .expect("structured");
    assert_eq!(
        r.json::<Value>().expect("json"),
        json!({"ok": false, "notes": [{"text": "x"}]})
    );
}

#[tokio::test]
async fn openai_malformed_answers() {
    for stream in [false, true] {
        let fake = FakeLlm::start(|_| Reply::Malformed).await;
        let mut config = model(Provider::OpenAi, fake.openai_base(), "gpt-test");
        config.stream = stream;
        let client = OpenAiCompat::new(config).expect("client");
        let err = client.chat(&request()).await.expect_err("malformed");
        assert!(
            matches!(err, Error::Malformed { .. }),
            "stream {stream}: {err:?}"
        );
    }
    // Text where JSON was asked for is malformed too.
    let fake = FakeLlm::start(|_| Reply::Text("sure, here it is".into())).await;
    let client =
        OpenAiCompat::new(model(Provider::OpenAi, fake.openai_base(), "gpt-test")).expect("client");
    let err = client
        .chat(&request().with_schema(schema()))
        .await
        .expect_err("not json");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

// ---------- Anthropic ----------

#[tokio::test]
async fn anthropic_plain_text_with_a_cached_system_prefix() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Text("Looks good.".into()))).await;
    let client = Anthropic::new(model(
        Provider::Anthropic,
        fake.anthropic_base(),
        "claude-test",
    ))
    .expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.content, "Looks good.");
    assert_eq!(r.usage, REPORTED, "input counts cached reads too");
    assert_eq!(r.finish, FinishReason::Stop);
    assert_eq!(
        (r.provider.as_str(), r.model.as_str()),
        ("anthropic", "claude-test")
    );

    let sent = &fake.requests()[0];
    assert_eq!(sent.provider, "anthropic");
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.system, "You are Kiln's reviewer.");
    assert_eq!(sent.last_user, "Review this diff.");
    assert_eq!(
        sent.body["system"],
        json!([{"type": "text", "text": "You are Kiln's reviewer.",
                "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(sent.body["messages"].as_array().map(Vec::len), Some(3));
    assert_eq!(sent.body["max_tokens"], 500);
    assert!(sent.body.get("tools").is_none());
}

#[tokio::test]
async fn anthropic_structured_output_is_a_forced_tool() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Json(json!({"ok": true, "notes": []})))).await;
    let client = Anthropic::new(model(
        Provider::Anthropic,
        fake.anthropic_base(),
        "claude-test",
    ))
    .expect("client");
    let r = client
        .chat(&request().with_schema(schema()))
        .await
        .expect("answer");
    assert_eq!(
        r.json::<Value>().expect("json"),
        json!({"ok": true, "notes": []})
    );
    assert_eq!(r.usage, REPORTED);
    assert_eq!(r.finish, FinishReason::Stop);

    let body = &fake.requests()[0].body;
    assert_eq!(body["tools"][0]["name"], "verdict");
    assert_eq!(body["tools"][0]["input_schema"], schema().schema);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "verdict"})
    );
    assert_eq!(
        body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
}

#[tokio::test]
async fn anthropic_length_and_malformed() {
    let fake = FakeLlm::start(|r| {
        if r.last_user == "broken" {
            Reply::Malformed
        } else {
            Reply::Truncated("Looks go".into())
        }
    })
    .await;
    let client = Anthropic::new(model(
        Provider::Anthropic,
        fake.anthropic_base(),
        "claude-test",
    ))
    .expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.finish, FinishReason::Length);
    assert_eq!(r.content, "Looks go");
    let err = client
        .chat(&ChatRequest::new("s", "broken"))
        .await
        .expect_err("malformed");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

#[tokio::test]
async fn anthropic_structured_answer_without_the_tool_is_malformed() {
    // A scenario that answers prose although the tool was forced.
    let fake = FakeLlm::start(|_| Reply::Text("I would rather chat".into())).await;
    let client = Anthropic::new(model(
        Provider::Anthropic,
        fake.anthropic_base(),
        "claude-test",
    ))
    .expect("client");
    let err = client
        .chat(&request().with_schema(schema()))
        .await
        .expect_err("no tool_use");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

// ---------- Gemini ----------

#[tokio::test]
async fn gemini_plain_text() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Text("Looks good.".into()))).await;
    let client =
        Gemini::new(model(Provider::Gemini, fake.gemini_base(), "gemini-test")).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.content, "Looks good.");
    assert_eq!(r.usage, REPORTED);
    assert_eq!(r.finish, FinishReason::Stop);
    assert_eq!(
        (r.provider.as_str(), r.model.as_str()),
        ("gemini", "gemini-test")
    );

    let sent = &fake.requests()[0];
    assert_eq!(sent.provider, "gemini");
    assert_eq!(sent.model, "gemini-test");
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    assert_eq!(sent.system, "You are Kiln's reviewer.");
    assert_eq!(sent.last_user, "Review this diff.");
    assert_eq!(
        sent.body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "first question"}]},
            {"role": "model", "parts": [{"text": "an answer"}]},
            {"role": "user", "parts": [{"text": "Review this diff."}]},
        ])
    );
    assert_eq!(sent.body["generationConfig"]["maxOutputTokens"], 500);
    assert!(
        sent.body["generationConfig"]
            .get("responseSchema")
            .is_none()
    );
}

#[tokio::test]
async fn gemini_structured_output_strips_unsupported_keywords() {
    let fake = FakeLlm::start(|_| with_usage(Reply::Json(json!({"ok": true, "notes": []})))).await;
    let client =
        Gemini::new(model(Provider::Gemini, fake.gemini_base(), "gemini-test")).expect("client");
    let r = client
        .chat(&request().with_schema(schema()))
        .await
        .expect("answer");
    assert_eq!(
        r.json::<Value>().expect("json"),
        json!({"ok": true, "notes": []})
    );
    assert_eq!(r.usage, REPORTED);

    let config = &fake.requests()[0].body["generationConfig"];
    assert_eq!(config["responseMimeType"], "application/json");
    let sent = &config["responseSchema"];
    assert!(!contains_key(sent, "additionalProperties"), "{sent}");
    assert!(!contains_key(sent, "$schema"), "{sent}");
    assert_eq!(sent["type"], "object");
    assert_eq!(sent["required"], json!(["ok", "notes"]));
    assert_eq!(
        sent["properties"]["notes"]["items"]["properties"]["text"]["type"],
        "string"
    );
}

#[tokio::test]
async fn gemini_length_and_malformed() {
    let fake = FakeLlm::start(|r| {
        if r.last_user == "broken" {
            Reply::Malformed
        } else {
            Reply::Truncated("Looks go".into())
        }
    })
    .await;
    let client =
        Gemini::new(model(Provider::Gemini, fake.gemini_base(), "gemini-test")).expect("client");
    let r = client.chat(&request()).await.expect("answer");
    assert_eq!(r.finish, FinishReason::Length);
    let err = client
        .chat(&ChatRequest::new("s", "broken"))
        .await
        .expect_err("malformed");
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
}

// ---------- statuses, for every provider ----------

#[tokio::test]
async fn statuses_carry_retry_after_and_a_short_body() {
    let fake = FakeLlm::start(|_| Reply::Status {
        code: 429,
        retry_after: Some(7),
    })
    .await;
    let clients: Vec<kiln_llm::Adapter> = vec![
        kiln_llm::Adapter::new(model(Provider::OpenAi, fake.openai_base(), "m")).expect("openai"),
        kiln_llm::Adapter::new(model(Provider::Anthropic, fake.anthropic_base(), "m"))
            .expect("anthropic"),
        kiln_llm::Adapter::new(model(Provider::Gemini, fake.gemini_base(), "m")).expect("gemini"),
    ];
    for client in &clients {
        let err = client.chat(&request()).await.expect_err("429");
        match &err {
            Error::Status {
                status,
                retry_after,
                body_excerpt,
            } => {
                assert_eq!(*status, 429);
                assert_eq!(*retry_after, Some(std::time::Duration::from_secs(7)));
                assert!(body_excerpt.contains("fake status 429"), "{body_excerpt}");
                assert!(body_excerpt.chars().count() <= 500);
            }
            other => panic!(
                "{:?}: expected a status, got {other:?}",
                client.model().provider
            ),
        }
        assert!(err.is_retryable());
    }
}
