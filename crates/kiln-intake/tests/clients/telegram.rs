use std::time::{Duration, Instant};

use axum::http::StatusCode;
use kiln_intake::telegram::{self, Client, Error, Update};
use kiln_intake::{Aliases, Button, Command, Secret, parse};
use kiln_testkit::fakes::{FakeTelegram, Mode};
use serde_json::json;
use uuid::Uuid;

use crate::{Endpoint, header, status};

const CHAT: i64 = 4242;

fn client(fake: &FakeTelegram) -> Client {
    Client::with_base_url(fake.base_url(), Secret::new(fake.token()))
}

#[tokio::test]
async fn sends_plain_text_with_buttons() {
    let fake = FakeTelegram::start().await;
    let task = Uuid::now_v7();
    let id = client(&fake)
        .send_message(CHAT, "**Tadwerak** <b>planning</b>", &Button::pair(task))
        .await
        .expect("sent");
    let sent = fake.requests_to("sendMessage");
    assert_eq!(sent.len(), 1);
    let body = &sent[0].body;
    assert_eq!(sent[0].method, "POST");
    assert_eq!(sent[0].path, format!("/bot{}/sendMessage", fake.token()));
    assert_eq!(body["chat_id"], CHAT);
    assert!(
        body.get("parse_mode").is_none(),
        "sent without parse_mode: {body}"
    );
    assert_eq!(
        body["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        Button::Approve(task).data()
    );
    let stored = fake.message(CHAT, id).expect("stored");
    assert_eq!(stored.text, "**Tadwerak** <b>planning</b>");
    assert_eq!(stored.parse_mode, None);
}

#[tokio::test]
async fn long_text_is_cut_to_telegrams_limit() {
    let fake = FakeTelegram::start().await;
    let id = client(&fake)
        .send_message(CHAT, &"é".repeat(5000), &[])
        .await
        .expect("sent");
    let text = fake.message(CHAT, id).expect("stored").text;
    assert_eq!(text.chars().count(), telegram::MAX_MESSAGE_CHARS);
    assert!(text.ends_with('…'));
}

#[tokio::test]
async fn edits_the_progress_message_in_place() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    let task = Uuid::now_v7();
    let id = c.send_message(CHAT, "planning", &[]).await.expect("sent");
    c.edit_message_text(CHAT, id, "waiting for plan approval", &Button::pair(task))
        .await
        .expect("edited");
    let m = fake.message(CHAT, id).expect("stored");
    assert_eq!(m.text, "waiting for plan approval");
    assert_eq!(m.edits, 1);
    assert_eq!(m.reply_markup["inline_keyboard"][0][1]["text"], "Reject");

    // Re-rendering the same text succeeds although Telegram answers "not modified".
    c.edit_message_text(CHAT, id, "waiting for plan approval", &Button::pair(task))
        .await
        .expect("an identical edit is fine");
    assert_eq!(fake.requests_to("editMessageText").len(), 2);
    assert_eq!(fake.message(CHAT, id).expect("stored").edits, 1);

    // No buttons removes the keyboard.
    c.edit_message_text(CHAT, id, "deployed", &[])
        .await
        .expect("edited");
    let m = fake.message(CHAT, id).expect("stored");
    assert_eq!(
        (m.text.as_str(), m.reply_markup.is_null()),
        ("deployed", true)
    );
    assert!(fake.messages_in(CHAT).len() == 1, "one message per task");

    let e = c
        .edit_message_text(CHAT, 999, "x", &[])
        .await
        .expect_err("no such message");
    assert!(
        matches!(&e, Error::Api { code: 400, description, .. } if description.contains("not found")),
        "{e:?}"
    );
}

#[tokio::test]
async fn answers_button_presses() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    let task = Uuid::now_v7();
    let message = c
        .send_message(CHAT, "approve?", &Button::pair(task))
        .await
        .expect("sent");
    let callback = fake.push_callback(CHAT, 77, message, &Button::Approve(task).data());
    let updates = c.get_updates(None, 0).await.expect("updates");
    let query = updates[0].callback_query.as_ref().expect("callback");
    assert_eq!(query.id, callback);
    assert_eq!(updates[0].chat_id(), Some(CHAT));
    let pressed = Button::parse(query.data.as_deref().unwrap_or_default()).expect("our button");
    assert_eq!(
        pressed.command(),
        Command::Approve {
            task: task.to_string(),
            reason: None
        }
    );

    c.answer_callback_query(&query.id, Some("Approved"))
        .await
        .expect("answered");
    assert_eq!(
        fake.answered_callbacks(),
        vec![(callback.clone(), Some("Approved".into()))]
    );
    let e = c
        .answer_callback_query(&callback, None)
        .await
        .expect_err("answered twice");
    assert!(matches!(e, Error::Api { code: 400, .. }), "{e:?}");
}

#[tokio::test]
async fn long_polling_waits_for_updates_and_offsets_confirm_them() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    let started = Instant::now();
    let poll = tokio::spawn({
        let c = c.clone();
        async move { c.get_updates(None, 10).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = fake.push_message(CHAT, 77, "/expo Tadwerak Build a recycling app with wallet");
    let updates = poll.await.expect("join").expect("updates");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered when the update came"
    );
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].update_id, id);
    let text = updates[0]
        .message
        .as_ref()
        .and_then(|m| m.text.as_deref())
        .expect("text");
    let aliases = Aliases::new([("expo", "expo")]).expect("aliases");
    assert_eq!(
        parse(text, &aliases),
        Ok(Command::New {
            template: "expo".into(),
            name: "Tadwerak".into(),
            brief: "Build a recycling app with wallet".into()
        })
    );
    let request = &fake.requests_to("getUpdates")[0];
    assert_eq!(request.body["timeout"], 10);

    // Unconfirmed updates come again; the next offset confirms them.
    assert_eq!(c.get_updates(None, 0).await.expect("again").len(), 1);
    let started = Instant::now();
    let none = c.get_updates(Some(id + 1), 1).await.expect("confirmed");
    assert!(none.is_empty());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "held the poll open"
    );
    assert_eq!(fake.pending_updates(), 0);
}

#[tokio::test]
async fn rate_limits_surface_retry_after() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    fake.fail_next(Mode::RateLimited {
        retry_after_secs: 3.0,
    });
    let e = c
        .send_message(CHAT, "hi", &[])
        .await
        .expect_err("rate limited");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)), "{e:?}");
    c.send_message(CHAT, "hi", &[])
        .await
        .expect("the limit was for one request");
}

#[tokio::test]
async fn a_broken_or_absent_server_is_an_error_without_the_token() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    fake.set_mode(Mode::Down);
    let e = c.send_message(CHAT, "hi", &[]).await.expect_err("down");
    assert!(matches!(e, Error::Api { code: 500, .. }), "{e:?}");
    assert!(e.retry_after().is_none());
    fake.set_mode(Mode::Normal);
    c.send_message(CHAT, "hi", &[]).await.expect("back up");

    let closed = kiln_testkit::fake_llm::closed_base();
    let token = fake.token().to_owned();
    let e = Client::with_base_url(closed, Secret::new(token.clone()))
        .send_message(CHAT, "hi", &[])
        .await
        .expect_err("nothing listens");
    assert!(matches!(e, Error::Http(_)), "{e:?}");
    let printed = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
    assert!(!printed.contains("fake-telegram-token"), "{printed}");

    let wrong = Client::with_base_url(fake.base_url(), Secret::new("1:wrong"));
    let e = wrong
        .send_message(CHAT, "hi", &[])
        .await
        .expect_err("wrong token");
    assert!(matches!(e, Error::Api { code: 401, .. }), "{e:?}");
}

#[tokio::test]
async fn webhooks_carry_the_secret_and_block_long_polling() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    let secret = "s3cret_webhook-token";
    let endpoint = Endpoint::start(move |headers, body| {
        if !telegram::verify_secret(header(headers, telegram::SECRET_HEADER), secret) {
            return status(StatusCode::UNAUTHORIZED);
        }
        match serde_json::from_slice::<Update>(body) {
            Ok(_) => status(StatusCode::OK),
            Err(_) => status(StatusCode::BAD_REQUEST),
        }
    })
    .await;
    c.set_webhook(&endpoint.url, &Secret::new(secret))
        .await
        .expect("webhook set");
    assert_eq!(
        fake.webhook(),
        Some((endpoint.url.clone(), Some(secret.to_owned())))
    );
    let recorded = &fake.requests_to("setWebhook")[0];
    assert_eq!(
        recorded.body["allowed_updates"],
        json!(["message", "callback_query"])
    );

    let update = fake.message_update(CHAT, 77, "/status");
    assert_eq!(fake.deliver_webhook(update).await, StatusCode::OK);
    assert_eq!(endpoint.received.lock().expect("lock").len(), 1);

    let e = c.get_updates(None, 0).await.expect_err("webhook is active");
    assert!(matches!(e, Error::Api { code: 409, .. }), "{e:?}");
    let e = c
        .set_webhook(&endpoint.url, &Secret::new("bad secret!"))
        .await
        .expect_err("refused");
    assert!(matches!(e, Error::Api { code: 400, .. }), "{e:?}");
}

#[tokio::test]
async fn the_bot_introduces_itself_sets_its_menu_and_leaves_webhooks_for_polling() {
    let fake = FakeTelegram::start().await;
    let c = client(&fake);
    let me = c.get_me().await.expect("getMe");
    assert_eq!(me.id, kiln_testkit::fakes::telegram::BOT_ID);
    assert_eq!(
        me.username.as_deref(),
        Some(kiln_testkit::fakes::telegram::BOT_USERNAME)
    );

    let aliases = Aliases::new([("expo", "expo"), ("static-site", "web")]).expect("aliases");
    c.set_my_commands(&aliases).await.expect("menu set");
    let commands = fake.commands();
    assert!(
        commands.iter().any(|c| c["command"] == "expo"),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c["command"] == "approve"),
        "{commands:?}"
    );

    c.set_webhook(
        "https://kiln.example/api/v1/webhooks/telegram",
        &Secret::new("s"),
    )
    .await
    .expect("set");
    assert!(
        c.get_updates(None, 0).await.is_err(),
        "refused while the webhook is set"
    );
    c.delete_webhook().await.expect("deleted");
    assert_eq!(fake.webhook(), None);
    assert!(
        c.get_updates(None, 0)
            .await
            .expect("polling works")
            .is_empty()
    );
}
