use std::time::Duration;

use axum::http::StatusCode;
use kiln_intake::Command;
use kiln_intake::Secret;
use kiln_intake::jira::{
    self, Client, DEFAULT_SUBTASK_TYPE, Error, Incoming, Link, NewSubtask, Route, WebhookEvent,
};
use kiln_testkit::fakes::{FakeJira, Mode};

use crate::{Endpoint, header, status};

fn client(fake: &FakeJira) -> Client {
    Client::new(fake.base_url(), fake.email(), Secret::new(fake.api_token()))
}

#[tokio::test]
async fn comments_are_adf_with_basic_auth() {
    let fake = FakeJira::start().await;
    let key = fake.add_issue("KILN", "Dark mode", "Add a dark mode");
    let link = Link {
        text: "Task 0193a4b2".into(),
        href: "https://kiln.example/tasks/0193a4b2".into(),
    };
    let id = client(&fake)
        .add_comment(&key, "Kiln started.\nPlan:\n1. toggle", Some(&link))
        .await
        .expect("commented");
    let request = &fake.requests_to("comment")[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/rest/api/3/issue/{key}/comment"));
    let auth = request.header("authorization").expect("auth header");
    assert!(auth.starts_with("Basic "), "{auth}");
    assert_eq!(request.body["body"]["type"], "doc");
    let comments = fake.issue(&key).expect("issue").comments;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["id"], id.as_str());
    let body = &comments[0]["body"];
    assert_eq!(body["content"][0]["content"][0]["text"], "Kiln started.");
    assert_eq!(
        body["content"][1]["content"][0]["marks"][0]["attrs"]["href"],
        link.href
    );
    assert_eq!(
        jira::plain_text(body),
        "Kiln started.\nPlan:\n1. toggle\nTask 0193a4b2"
    );
}

#[tokio::test]
async fn transitions_are_listed_and_taken_by_status_name() {
    let fake = FakeJira::start().await;
    let c = client(&fake);
    let key = fake.add_issue("KILN", "Dark mode", "");
    let transitions = c.transitions(&key).await.expect("transitions");
    assert!(
        transitions.iter().any(|t| t.to.name == "In Progress"),
        "{transitions:?}"
    );
    assert!(
        transitions.iter().all(|t| t.to.name != "To Do"),
        "not to the current status"
    );
    let taken = c.transition_to(&key, "in review").await.expect("moved");
    assert_eq!(taken.to.name, "In Review");
    assert_eq!(fake.issue(&key).expect("issue").status.name, "In Review");
    let posted = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/transitions"))
        .expect("posted transition");
    assert_eq!(posted.body, serde_json::json!({"transition": {"id": "41"}}));

    let e = c
        .transition_to(&key, "Shipped")
        .await
        .expect_err("no such status");
    assert!(
        matches!(&e, Error::NoTransition { status, .. } if status == "Shipped"),
        "{e:?}"
    );
    let e = c.transition(&key, "99").await.expect_err("invalid id");
    assert!(
        matches!(&e, Error::Api { status: 400, messages } if messages[0].contains("'99' is not valid")),
        "{e:?}"
    );
    let e = c.transitions("KILN-404").await.expect_err("no issue");
    assert!(matches!(e, Error::Api { status: 404, .. }), "{e:?}");
}

#[tokio::test]
async fn sub_tasks_are_created_under_the_issue() {
    let fake = FakeJira::start().await;
    let c = client(&fake);
    let parent = fake.add_issue("KILN", "Dark mode", "");
    let created = c
        .create_subtask(&NewSubtask {
            project_key: "KILN",
            parent_key: &parent,
            summary: "Review the\ngenerated theme",
            description: "Kiln found:\n- contrast",
            issue_type: DEFAULT_SUBTASK_TYPE,
        })
        .await
        .expect("created");
    assert_eq!(created.key, "KILN-2");
    let subtasks = fake.subtasks(&parent);
    assert_eq!(subtasks.len(), 1);
    assert_eq!(
        subtasks[0].summary, "Review the generated theme",
        "one line"
    );
    assert_eq!(subtasks[0].issue_type, "Subtask");
    let e = c
        .create_subtask(&NewSubtask {
            project_key: "KILN",
            parent_key: "KILN-99",
            summary: "x",
            description: "",
            issue_type: DEFAULT_SUBTASK_TYPE,
        })
        .await
        .expect_err("no parent");
    assert!(
        matches!(&e, Error::Api { status: 400, messages } if messages.iter().any(|m| m.starts_with("parent:"))),
        "{e:?}"
    );
}

#[tokio::test]
async fn bad_credentials_rate_limits_outages_and_keys() {
    let fake = FakeJira::start().await;
    let key = fake.add_issue("KILN", "s", "");
    let wrong = Client::new(fake.base_url(), fake.email(), Secret::new("wrong"));
    let e = wrong
        .add_comment(&key, "x", None)
        .await
        .expect_err("unauthorised");
    assert!(matches!(e, Error::Api { status: 401, .. }), "{e:?}");
    assert!(!format!("{wrong:?}").contains("wrong\""), "token redacted");

    let c = client(&fake);
    fake.fail_next(Mode::RateLimited {
        retry_after_secs: 2.0,
    });
    let e = c.add_comment(&key, "x", None).await.expect_err("limited");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    fake.set_mode(Mode::Down);
    let e = c.transitions(&key).await.expect_err("down");
    assert!(matches!(e, Error::Api { status: 500, .. }), "{e:?}");
    fake.set_mode(Mode::Normal);

    let before = fake.requests().len();
    let e = c
        .add_comment("KILN-1/../../admin", "x", None)
        .await
        .expect_err("bad key");
    assert!(matches!(e, Error::InvalidKey(_)), "{e:?}");
    assert_eq!(fake.requests().len(), before, "nothing sent");
}

/// Jira's webhooks as the API would receive them: signed, a transition to the trigger status
/// starts a task, a person's comment answers it.
#[tokio::test]
async fn signed_webhooks_become_commands() {
    let fake = FakeJira::start().await;
    let secret = "jira-shared-secret";
    let endpoint = Endpoint::start(move |headers, body| {
        match jira::verify_signature(header(headers, jira::SIGNATURE_HEADER), secret, body) {
            Ok(()) => status(StatusCode::NO_CONTENT),
            Err(_) => status(StatusCode::UNAUTHORIZED),
        }
    })
    .await;
    let key = fake.add_issue("KILN", "Add a dark mode", "Follow the system setting.");
    let event = fake.move_issue(&key, "Ready for Kiln");
    assert_eq!(
        fake.deliver_webhook(&endpoint.url, Some(secret), &event)
            .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        fake.deliver_webhook(&endpoint.url, Some("forged"), &event)
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        fake.deliver_webhook(&endpoint.url, None, &event).await,
        StatusCode::UNAUTHORIZED
    );

    let received = endpoint.received.lock().expect("lock")[0].1.clone();
    let event = WebhookEvent::from_slice(&received).expect("event");
    let Incoming::Triggered(request) = event.incoming("Ready for Kiln") else {
        panic!("not triggered")
    };
    assert_eq!(request.key, key);
    let command = request
        .command(&Route::Revise {
            project: "shop".into(),
        })
        .expect("command");
    assert_eq!(
        command,
        Command::Revise {
            project: "shop".into(),
            brief: "Add a dark mode\n\nFollow the system setting.".into()
        }
    );

    let comment = fake.person_comments(&key, "557058:person-1", "Use the brand blue.");
    let event: WebhookEvent = serde_json::from_value(comment).expect("comment event");
    let Incoming::Commented(comment) = event.incoming("Ready for Kiln") else {
        panic!("not a comment")
    };
    assert!(!comment.is_by(kiln_testkit::fakes::jira::ACCOUNT_ID));
    let task = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        comment.answer(&task),
        Ok(Command::Answer {
            task,
            text: "Use the brand blue.".into()
        })
    );
}
