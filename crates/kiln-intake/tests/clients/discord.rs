use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use kiln_intake::discord::{self, Client, Error, Incoming, Interaction};
use kiln_intake::{Aliases, Button, Command};
use kiln_testkit::fakes::{FakeDiscord, Mode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{Endpoint, header, status};

fn client(fake: &FakeDiscord) -> Client {
    Client::with_base_url(fake.base_url(), fake.application_id())
}

#[tokio::test]
async fn follow_ups_are_escaped_mention_free_and_carry_buttons() {
    let fake = FakeDiscord::start().await;
    let token = fake.new_token();
    let task = Uuid::now_v7();
    let id = client(&fake)
        .followup(&token, "**Tadwerak** @everyone <@123>", &Button::pair(task))
        .await
        .expect("sent");
    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].path,
        format!("/api/v10/webhooks/{}/{token}", fake.application_id())
    );
    let body = &sent[0].body;
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    assert_eq!(
        body["components"][0]["components"][0]["custom_id"],
        Button::Approve(task).data()
    );
    let messages = fake.messages_for(&token);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].id, id);
    assert_eq!(
        messages[0].content,
        "\\*\\*Tadwerak\\*\\* \\@everyone \\<\\@123\\>"
    );
    assert_eq!(messages[0].allowed_mentions, json!({"parse": []}));
}

#[tokio::test]
async fn a_deferred_reply_is_edited_in_place() {
    let fake = FakeDiscord::start().await;
    let c = client(&fake);
    let token = fake.new_token();
    let task = Uuid::now_v7();
    c.edit_original(&token, "planning", &[])
        .await
        .expect("edited");
    c.edit_original(&token, "waiting for approval", &Button::pair(task))
        .await
        .expect("edited");
    let original = fake.original(&token).expect("original");
    assert_eq!(original.content, "waiting for approval");
    assert_eq!(original.edits, 1);
    assert_eq!(original.components[0]["components"][1]["label"], "Reject");
    c.edit_original(&token, "deployed", &[])
        .await
        .expect("edited");
    let original = fake.original(&token).expect("original");
    assert_eq!(original.components, json!([]), "buttons removed");
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.method == "PATCH" && r.path.ends_with("/messages/@original"))
    );
    assert_eq!(fake.messages_for(&token).len(), 1);
}

#[tokio::test]
async fn rate_limits_surface_retry_after_and_scope() {
    let fake = FakeDiscord::start().await;
    let c = client(&fake);
    let token = fake.new_token();
    fake.fail_next(Mode::RateLimited {
        retry_after_secs: 1.5,
    });
    let e = c.followup(&token, "hi", &[]).await.expect_err("limited");
    assert!(
        matches!(e, Error::RateLimited { global: false, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_millis(1500)),
        "the body's float wins"
    );
    fake.fail_next(Mode::GloballyRateLimited {
        retry_after_secs: 0.25,
    });
    let e = c
        .edit_original(&token, "hi", &[])
        .await
        .expect_err("limited");
    assert!(
        matches!(e, Error::RateLimited { global: true, .. }),
        "{e:?}"
    );
    assert_eq!(e.retry_after(), Some(Duration::from_millis(250)));
    c.followup(&token, "hi", &[]).await.expect("limit over");
}

#[tokio::test]
async fn unknown_tokens_outages_and_bad_bodies_are_errors() {
    let fake = FakeDiscord::start().await;
    let c = client(&fake);
    let e = c
        .followup("not-a-token", "hi", &[])
        .await
        .expect_err("unknown token");
    assert!(
        matches!(
            e,
            Error::Api {
                status: 401,
                code: 50027,
                ..
            }
        ),
        "{e:?}"
    );
    let token = fake.new_token();
    fake.set_mode(Mode::Down);
    let e = c.followup(&token, "hi", &[]).await.expect_err("down");
    assert!(matches!(e, Error::Api { status: 500, .. }), "{e:?}");
    fake.set_mode(Mode::Normal);
    let e = c.followup(&token, "", &[]).await.expect_err("empty");
    assert!(
        matches!(
            e,
            Error::Api {
                status: 400,
                code: 50006,
                ..
            }
        ),
        "{e:?}"
    );
    // Long text is cut to Discord's limit after escaping, so it is accepted.
    c.followup(&token, &"*".repeat(3000), &[])
        .await
        .expect("cut to fit");
    let content = &fake.messages_for(&token)[0].content;
    assert!(content.chars().count() <= discord::MAX_CONTENT_CHARS);
}

/// An interactions endpoint as the API would run it, driven by the fake's signed requests.
#[tokio::test]
async fn signed_interactions_verify_and_parse() {
    let fake = FakeDiscord::start().await;
    let key = fake.public_key_hex();
    let endpoint = Endpoint::start(move |headers, body| {
        let (Some(sig), Some(ts)) = (
            header(headers, discord::SIGNATURE_HEADER),
            header(headers, discord::TIMESTAMP_HEADER),
        ) else {
            return status(StatusCode::UNAUTHORIZED);
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if discord::verify(&key, sig, ts, body, now, discord::DEFAULT_MAX_SKEW_SECS).is_err() {
            return status(StatusCode::UNAUTHORIZED);
        }
        let Ok(interaction) = serde_json::from_slice::<Interaction>(body) else {
            return status(StatusCode::BAD_REQUEST);
        };
        let aliases = Aliases::new([("expo", "expo")]).expect("aliases");
        let reply: Value = match interaction.incoming(&aliases) {
            Ok(Incoming::Ping) => discord::pong(),
            Ok(Incoming::Command(Command::New { template, .. })) => {
                discord::message(&format!("new {template}"), &[], false)
            }
            Ok(_) => discord::deferred(true),
            Err(usage) => discord::message(&usage.to_string(), &[], true),
        };
        axum::Json(reply).into_response()
    })
    .await;

    let (code, reply) = fake.post_interaction(&endpoint.url, &fake.ping()).await;
    assert_eq!((code, reply), (StatusCode::OK, json!({"type": 1})));

    let new = fake.slash_command(
        "new",
        &[
            ("template", "expo"),
            ("name", "Tadwerak"),
            ("brief", "Recycling"),
        ],
        "u1",
        &["r1"],
    );
    let (code, reply) = fake.post_interaction(&endpoint.url, &new).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(reply["data"]["content"], "new expo");

    let press = fake.button_press(&Button::Approve(Uuid::now_v7()).data(), "u1", &["r1"]);
    let (_, reply) = fake.post_interaction(&endpoint.url, &press).await;
    assert_eq!(reply, json!({"type": 5, "data": {"flags": 64}}));

    // A body signed by someone else is refused.
    let other = FakeDiscord::start().await;
    let (code, _) = other.post_interaction(&endpoint.url, &fake.ping()).await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);

    // The fake's signature is the same scheme the verifier expects, stale ones fail.
    let body = br#"{"type":1}"#;
    let (sig, ts) = fake.sign(1_000, body);
    let e = discord::verify(&fake.public_key_hex(), &sig, &ts, body, 1_000 + 301, 300)
        .expect_err("stale");
    assert!(matches!(e, Error::Stale { .. }), "{e:?}");
    discord::verify(&fake.public_key_hex(), &sig, &ts, body, 1_000, 300).expect("fresh");
}
