//! Kiln steered from Telegram, whole stack: a chat message through the fake Bot API's
//! webhook delivery becomes a task, the one progress message is edited in place as the task
//! moves, and its final text carries the live URL, which answers.

mod common;

use std::time::Duration;

use common::fetch;
use kiln_testkit::TestEnv;
use kiln_testkit::fakes::FakeTelegram;
use kiln_testkit::stack::Stack;
use serde_json::{Value, json};

const SECRET: &str = "tg-stack-secret-7";
const CHAT: i64 = 7_700_001;
const SARA: i64 = 4_242;
const FINISH: Duration = Duration::from_secs(1500);

async fn start(tg: &FakeTelegram) -> Stack {
    let env = TestEnv::new().await;
    let extra = vec![
        (
            "KILN_API__TELEGRAM__BOT_TOKEN".into(),
            tg.token().to_owned(),
        ),
        ("KILN_API__TELEGRAM__WEBHOOK_SECRET".into(), SECRET.into()),
        ("KILN_API__TELEGRAM__API_BASE".into(), tg.base_url()),
        (
            format!("KILN_API__TELEGRAM__USERS__{SARA}"),
            "operator".into(),
        ),
        // Cold installs and builds of the expo web export on a busy 2-core machine.
        ("KILN_DEPLOYER__READINESS_TIMEOUT_SECS".into(), "90".into()),
    ];
    let stack = Stack::start_with(env, env!("CARGO_BIN_EXE_kiln"), extra).await;
    // What `kiln` asks the operator to do once: point Telegram at the webhook.
    let set: Value = reqwest::Client::new()
        .post(format!("{}/bot{}/setWebhook", tg.base_url(), tg.token()))
        .json(&json!({
            "url": format!("{}/api/v1/webhooks/telegram", stack.api),
            "secret_token": SECRET,
        }))
        .send()
        .await
        .expect("setWebhook answered")
        .json()
        .await
        .expect("setWebhook json");
    assert_eq!(set["ok"], true, "{set}");
    stack
}

async fn tasks(stack: &Stack) -> Vec<Value> {
    let list: Value = stack
        .http
        .get(format!("{}/api/v1/tasks", stack.api))
        .send()
        .await
        .expect("list answered")
        .json()
        .await
        .expect("list json");
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_expo_app_from_telegram_reports_in_one_message_up_to_its_live_url() {
    let tg = FakeTelegram::start().await;
    let stack = start(&tg).await;

    // A forged delivery is refused and leaves nothing behind.
    let forged = reqwest::Client::new()
        .post(format!("{}/api/v1/webhooks/telegram", stack.api))
        .header("X-Telegram-Bot-Api-Secret-Token", "not-the-secret")
        .json(&tg.message_update(CHAT, SARA, "/expo Forged Build something"))
        .send()
        .await
        .expect("answered");
    assert_eq!(forged.status(), 401);
    assert!(tasks(&stack).await.is_empty());

    let mut update = tg.message_update(
        CHAT,
        SARA,
        "/expo Tadwerak Build a recycling app with wallet and e-commerce",
    );
    update["update_id"] = json!(31_337);
    assert_eq!(tg.deliver_webhook(update.clone()).await, 200);
    assert_eq!(tg.deliver_webhook(update).await, 200, "a replay is taken");
    let created = tasks(&stack).await;
    assert_eq!(
        created.len(),
        1,
        "the replay made no second task: {created:#?}"
    );
    assert_eq!(created[0]["project"], "tadwerak");
    assert_eq!(created[0]["template"], "expo");
    let id = created[0]["id"].as_str().expect("id").to_owned();

    let task = stack.wait_finished(&id, FINISH).await;
    if task["status"] != "deployed" {
        stack.dump_logs();
        panic!("expected deployed: {task:#}");
    }
    let url = task["deployment"]["url"]
        .as_str()
        .expect("live url")
        .to_owned();
    assert!(
        url.starts_with(&stack.apps),
        "{url} is served by the apps proxy"
    );

    // The reporter catches up with the end within a few seconds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let message = loop {
        let messages = tg.messages_in(CHAT);
        assert_eq!(messages.len(), 1, "one progress message: {messages:#?}");
        if messages[0].text.contains(&format!("Live: {url}")) {
            break messages[0].clone();
        }
        if tokio::time::Instant::now() > deadline {
            stack.dump_logs();
            panic!("the progress message never showed the live URL: {messages:#?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(message.text.contains("Task "), "{message:#?}");
    assert!(message.text.contains("deployed"), "{message:#?}");
    assert!(
        message.edits >= 2,
        "edited in place as it moved: {message:#?}"
    );
    assert_eq!(tg.requests_to("sendMessage").len(), 1);
    assert!(tg.requests_to("editMessageText").len() >= 2);
    assert!(
        message.reply_markup.is_null(),
        "no buttons on a finished task"
    );

    let (code, page) = fetch(&url).await;
    assert_eq!(code, 200, "{url} answers: {page}");
}
