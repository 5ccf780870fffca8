//! Webhooks against real NATS JetStream and Postgres, with a local subscriber: events are
//! published on the events stream exactly as services publish them, and what reaches the
//! subscriber is checked with the subscriber's own tools (`verify`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use kiln_contracts::headers as h;
use kiln_contracts::{Stage, TaskEvent};
use kiln_store::delivery::OutboxMessage;
use kiln_store::tasks::{self, NewTask};
use kiln_testkit::TestEnv;
use kiln_webhooks::store::{self, DeliveryQuery, DeliveryStatus, NewSubscription};
use kiln_webhooks::{Config, Error, sign};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(60);

/// Small retry delays so retries come quickly; the timeout is generous enough that a loaded
/// machine never turns a quick answer into a timeout.
fn fast() -> Config {
    Config {
        first_retry_ms: 50,
        max_retry_secs: 1,
        poll_ms: 50,
        timeout_secs: 3,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// The subscriber

#[derive(Clone, Copy)]
enum Reply {
    Status(u16),
    /// Never answers.
    Hang,
}

#[derive(Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
    /// Whether the listing showed a failing subscription when this request arrived.
    failing_then: Option<bool>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("request without {name}"))
            .to_str()
            .unwrap()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("json body")
    }
}

#[derive(Clone)]
struct Subscriber {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: u16,
    /// When set, the listing is read as each request arrives.
    db: Option<PgPool>,
}

impl Subscriber {
    async fn start(script: Vec<Reply>, default: u16, db: Option<PgPool>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sub = Subscriber {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            script: Arc::new(Mutex::new(script.into())),
            default,
            db,
        };
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(sub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        sub
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn received_on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

async fn receive(
    State(sub): State<Subscriber>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let failing_then = match &sub.db {
        Some(db) => Some(store::list(db).await.unwrap().iter().any(|s| s.failing)),
        None => None,
    };
    sub.received.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body,
        failing_then,
    });
    let reply = sub
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(sub.default));
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code).unwrap(),
        Reply::Hang => std::future::pending().await,
    }
}

// ---------------------------------------------------------------------------------------
// Kiln's side

struct Running {
    shutdown: CancellationToken,
    handle: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(env: &TestEnv, config: Config) -> Self {
        let shutdown = CancellationToken::new();
        let (js, db, subjects) = (env.jetstream().await, env.pool.clone(), env.subjects());
        let stop = shutdown.clone();
        let handle = tokio::spawn(async move {
            kiln_webhooks::run(js, db, &subjects, config, stop)
                .await
                .expect("webhooks run");
        });
        Running { shutdown, handle }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.handle.await.expect("webhooks stop cleanly");
    }
}

async fn env() -> TestEnv {
    let env = TestEnv::new().await;
    kiln_runtime::nats::ensure_streams(&env.jetstream().await, &env.subjects())
        .await
        .expect("streams");
    env
}

async fn task(env: &TestEnv, project: &str) -> Uuid {
    let mut conn = env.pool.acquire().await.unwrap();
    let id = Uuid::now_v7();
    tasks::insert_task(
        &mut conn,
        &NewTask {
            id,
            project: project.into(),
            kind: "new_app".into(),
            template: "static-site".into(),
            brief: "a page".into(),
            options: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    id
}

async fn subscribe(env: &TestEnv, url: String, kinds: &[&str]) -> store::Created {
    store::create(
        &env.pool,
        &NewSubscription {
            url,
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            description: "test".into(),
            created_by: "tester".into(),
            ..Default::default()
        },
    )
    .await
    .expect("subscription created")
}

/// A task event as the runtime's `event_message` builds it.
fn event(env: &TestEnv, task_id: Uuid, kind: &str) -> OutboxMessage {
    let task = task_id.to_string();
    let event = TaskEvent {
        task_id: task.clone(),
        kind: kind.to_owned(),
        status: "generating".into(),
        stage: Stage::Codegen as i32,
        summary: format!("{kind} happened"),
        time_unix_ms: (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        round: 1,
    };
    kiln_runtime::envelope::envelope(
        env.subjects().event(&task, kind),
        h::types::EVENT,
        "codegen",
        Some(&task),
        &event,
    )
}

async fn publish(env: &TestEnv, msg: &OutboxMessage) {
    env.jetstream()
        .await
        .publish_with_headers(
            msg.subject.clone(),
            kiln_runtime::envelope::nats_headers(msg),
            msg.payload.clone().into(),
        )
        .await
        .expect("publish")
        .await
        .expect("publish acknowledged");
}

async fn all_deliveries(db: &PgPool, subscription: Uuid) -> Vec<store::Delivery> {
    store::deliveries(
        db,
        subscription,
        &DeliveryQuery {
            limit: 1000,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .0
}

async fn status(db: &PgPool, id: Uuid) -> store::SubscriptionStatus {
    store::get(db, id).await.unwrap().expect("subscription")
}

async fn pause(db: &PgPool, name: &str) {
    sqlx::query("INSERT INTO control_flags (name, value) VALUES ($1, $2)")
        .bind(name)
        .bind(serde_json::json!({
            "reason": "test", "actor": "tester", "at": "2025-01-01T00:00:00Z",
        }))
        .execute(db)
        .await
        .unwrap();
}

async fn resume(db: &PgPool, name: &str) {
    sqlx::query("DELETE FROM control_flags WHERE name = $1")
        .bind(name)
        .execute(db)
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn matching_events_reach_subscribers_signed_and_filtered_by_kind() {
    let env = env().await;
    let sub = Subscriber::start(vec![], 200, None).await;
    let every = subscribe(&env, sub.url("/every"), &[]).await;
    let deployed_only = subscribe(&env, sub.url("/deployed"), &["deployed"]).await;
    let task_id = task(&env, "pizzadash").await;
    let running = Running::start(&env, fast()).await;

    let started = event(&env, task_id, "stage_started");
    let deployed = event(&env, task_id, "deployed");
    publish(&env, &started).await;
    publish(&env, &deployed).await;

    TestEnv::eventually("both subscribers served", DEADLINE, || async {
        (sub.received_on("/every").len() == 2 && !sub.received_on("/deployed").is_empty())
            .then_some(())
    })
    .await;
    // Events are dispatched in order, so `stage_started` was handled before `deployed`
    // reached anyone: the filtered subscription has nothing else coming.
    let filtered = all_deliveries(&env.pool, deployed_only.subscription.id).await;
    assert_eq!(
        filtered.iter().map(|d| d.kind.as_str()).collect::<Vec<_>>(),
        ["deployed"]
    );
    assert_eq!(sub.received_on("/deployed").len(), 1);

    let deliveries = all_deliveries(&env.pool, every.subscription.id).await;
    for (path, secret) in [
        ("/every", &every.secret),
        ("/deployed", &deployed_only.secret),
    ] {
        for r in sub.received_on(path) {
            kiln_webhooks::verify(
                secret,
                r.header(sign::SIGNATURE),
                &r.body,
                OffsetDateTime::now_utc(),
                Duration::from_secs(300),
            )
            .unwrap_or_else(|e| panic!("signature of {path} refused: {e}"));
            assert_eq!(r.header("content-type"), "application/json");
            assert_eq!(r.header(sign::ATTEMPT), "1");
        }
    }
    // The other subscriber's secret does not verify this one's requests.
    let first = &sub.received_on("/every")[0];
    assert!(matches!(
        kiln_webhooks::verify(
            &deployed_only.secret,
            first.header(sign::SIGNATURE),
            &first.body,
            OffsetDateTime::now_utc(),
            Duration::from_secs(300),
        ),
        Err(Error::SignatureMismatch)
    ));

    let mut seen: Vec<_> = sub.received_on("/every");
    seen.sort_by_key(|r| r.header(sign::EVENT_KIND).to_owned());
    let (deployed_req, started_req) = (&seen[0], &seen[1]);
    assert_eq!(deployed_req.header(sign::EVENT_KIND), "deployed");
    assert_eq!(started_req.header(sign::EVENT_KIND), "stage_started");
    assert_eq!(
        started_req.header(sign::EVENT_ID),
        started.id.to_string(),
        "the event id is the CloudEvents id"
    );
    let delivery = deliveries
        .iter()
        .find(|d| d.kind == "stage_started")
        .expect("stage_started delivery");
    assert_eq!(
        started_req.header(sign::DELIVERY_ID),
        delivery.id.to_string()
    );
    let body = started_req.json();
    assert_eq!(body["id"], started.id.to_string());
    assert_eq!(body["kind"], "stage_started");
    assert_eq!(body["task_id"], task_id.to_string());
    assert_eq!(body["status"], "generating");
    assert_eq!(body["stage"], "codegen");
    assert_eq!(body["round"], 1);
    assert_eq!(body["message"], "stage_started happened");
    assert_eq!(body["project"], "pizzadash");
    assert!(body["time"].as_str().is_some_and(|t| t.contains('T')));

    TestEnv::eventually("deliveries recorded as delivered", DEADLINE, || async {
        let s = status(&env.pool, every.subscription.id).await;
        (s.delivered == 2).then_some(s)
    })
    .await;
    let s = status(&env.pool, every.subscription.id).await;
    assert_eq!((s.pending, s.failed, s.failing), (0, 0, false));
    assert!(s.last_attempt_at.is_some());
    assert_eq!(s.last_error, None);
    running.stop().await;
}

#[tokio::test]
async fn a_failing_subscriber_is_retried_until_it_answers() {
    let env = env().await;
    let sub = Subscriber::start(
        vec![Reply::Status(500), Reply::Hang, Reply::Status(500)],
        200,
        Some(env.pool.clone()),
    )
    .await;
    let created = subscribe(&env, sub.url("/hook"), &[]).await;
    let id = created.subscription.id;
    let task_id = task(&env, "flaky").await;
    let running = Running::start(&env, fast()).await;
    publish(&env, &event(&env, task_id, "created")).await;

    let delivered = TestEnv::eventually("the delivery to succeed", DEADLINE, || async {
        let ds = all_deliveries(&env.pool, id).await;
        ds.first()
            .filter(|d| d.status == DeliveryStatus::Delivered)
            .cloned()
    })
    .await;
    assert_eq!(all_deliveries(&env.pool, id).await.len(), 1);
    assert_eq!(delivered.attempts, 4);
    let log = &delivered.attempt_log;
    assert_eq!(
        log.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert_eq!(
        log.iter().map(|a| a.status_code).collect::<Vec<_>>(),
        [Some(500), None, Some(500), Some(200)]
    );
    assert_eq!(
        log.iter().map(|a| a.error.as_deref()).collect::<Vec<_>>(),
        [
            Some("unexpected status 500 Internal Server Error"),
            Some("timed out after 3 s"),
            Some("unexpected status 500 Internal Server Error"),
            None,
        ]
    );
    assert_eq!(
        delivered.last_error.as_deref(),
        Some("unexpected status 500 Internal Server Error")
    );

    let requests = sub.received();
    assert_eq!(requests.len(), 4);
    for (n, r) in requests.iter().enumerate() {
        assert_eq!(r.header(sign::ATTEMPT), (n + 1).to_string());
        assert_eq!(r.header(sign::DELIVERY_ID), delivered.id.to_string());
    }
    assert_eq!(requests[0].failing_then, Some(false));
    assert_eq!(
        requests[3].failing_then,
        Some(true),
        "the listing shows the subscription failing before it succeeds"
    );
    let s = status(&env.pool, id).await;
    assert!(!s.failing, "a success after failures is no longer failing");
    assert_eq!((s.delivered, s.pending, s.failed), (1, 0, 0));
    assert_eq!(
        s.last_error.as_deref(),
        Some("unexpected status 500 Internal Server Error")
    );
    running.stop().await;
}

#[tokio::test]
async fn a_delivery_is_given_up_once_it_is_older_than_the_maximum_age() {
    let env = env().await;
    let sub = Subscriber::start(vec![], 500, None).await;
    let id = subscribe(&env, sub.url("/down"), &[]).await.subscription.id;
    let task_id = task(&env, "down").await;
    let running = Running::start(&env, fast()).await;
    publish(&env, &event(&env, task_id, "created")).await;

    TestEnv::eventually("a failed attempt", DEADLINE, || async {
        let s = status(&env.pool, id).await;
        s.failing.then_some(())
    })
    .await;
    // A day and more later, as far as the delivery knows.
    sqlx::query(
        "UPDATE webhook_deliveries SET created_at = now() - interval '25 hours' \
         WHERE subscription_id = $1",
    )
    .bind(id)
    .execute(&env.pool)
    .await
    .unwrap();
    let failed = TestEnv::eventually("the delivery given up", DEADLINE, || async {
        all_deliveries(&env.pool, id)
            .await
            .into_iter()
            .find(|d| d.status == DeliveryStatus::Failed)
    })
    .await;
    assert_eq!(
        failed.last_error.as_deref(),
        Some("unexpected status 500 Internal Server Error")
    );
    assert!(failed.attempts >= 2);
    assert_eq!(failed.attempt_log.len() as i32, failed.attempts);
    let s = status(&env.pool, id).await;
    assert_eq!((s.failed, s.pending), (1, 0));
    assert!(s.failing);
    // Nothing more is sent for a delivery given up.
    let sent = sub.received().len();
    running.stop().await;
    assert_eq!(sub.received().len(), sent);
    assert_eq!(sent as i32, failed.attempts);
}

#[tokio::test]
async fn nothing_is_sent_while_paused() {
    let env = env().await;
    let sub = Subscriber::start(vec![], 200, None).await;
    let id = subscribe(&env, sub.url("/hook"), &[]).await.subscription.id;
    let held_task = task(&env, "held").await;
    let live_task = task(&env, "live").await;
    pause(&env.pool, "pause:held").await;
    let running = Running::start(&env, fast()).await;

    // A paused project holds its deliveries while another project's go out.
    let held = event(&env, held_task, "created");
    publish(&env, &held).await;
    publish(&env, &event(&env, live_task, "created")).await;
    TestEnv::eventually("the live project's event", DEADLINE, || async {
        (!sub.received().is_empty()).then_some(())
    })
    .await;
    let ds = all_deliveries(&env.pool, id).await;
    assert_eq!(ds.len(), 2);
    let held_delivery = ds.iter().find(|d| d.task_id == Some(held_task)).unwrap();
    assert_eq!(held_delivery.status, DeliveryStatus::Pending);
    assert_eq!(held_delivery.attempts, 0);
    let live_delivery = ds.iter().find(|d| d.task_id == Some(live_task)).unwrap();
    // The held delivery was due before the live one existed: the sender passed it over.
    assert!(held_delivery.next_attempt_at <= live_delivery.created_at);
    assert_eq!(sub.received().len(), 1);
    assert_eq!(
        sub.received()[0].header(sign::EVENT_ID),
        live_delivery.event_id
    );

    // A global pause holds every project.
    pause(&env.pool, "pause").await;
    publish(&env, &event(&env, live_task, "deployed")).await;
    TestEnv::eventually("the new event's delivery recorded", DEADLINE, || async {
        (all_deliveries(&env.pool, id).await.len() == 3).then_some(())
    })
    .await;
    // Many polls of the sender; a send in this window would be a paused external write.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sub.received().len(), 1, "sent while paused");
    resume(&env.pool, "pause:held").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sub.received().len(), 1, "sent while globally paused");
    let s = status(&env.pool, id).await;
    assert_eq!(s.pending, 2);

    resume(&env.pool, "pause").await;
    TestEnv::eventually("held deliveries sent after the pause", DEADLINE, || async {
        (sub.received().len() == 3).then_some(())
    })
    .await;
    TestEnv::eventually("every delivery delivered", DEADLINE, || async {
        (status(&env.pool, id).await.delivered == 3).then_some(())
    })
    .await;
    assert!(
        sub.received()
            .iter()
            .any(|r| r.header(sign::EVENT_ID) == held.id.to_string())
    );
    running.stop().await;
}

#[tokio::test]
async fn a_redelivered_or_replayed_event_creates_no_second_delivery() {
    let env = env().await;
    let sub = Subscriber::start(vec![], 200, None).await;
    let id = subscribe(&env, sub.url("/hook"), &[]).await.subscription.id;
    let task_id = task(&env, "once").await;
    let running = Running::start(&env, fast()).await;

    // The same event twice in the stream: a relay that published it, died before marking
    // it sent, and published it again after JetStream's duplicate window.
    let first = event(&env, task_id, "created");
    let again = OutboxMessage {
        id: Uuid::now_v7(),
        ..first.clone()
    };
    publish(&env, &first).await;
    publish(&env, &again).await;
    publish(&env, &event(&env, task_id, "status")).await;
    TestEnv::eventually("both events delivered", DEADLINE, || async {
        (status(&env.pool, id).await.delivered == 2).then_some(())
    })
    .await;

    // A recreated consumer replays the whole stream.
    running.stop().await;
    let js = env.jetstream().await;
    js.get_stream(env.subjects().events_stream().name)
        .await
        .unwrap()
        .delete_consumer(kiln_webhooks::dispatch::CONSUMER)
        .await
        .expect("consumer deleted");
    let running = Running::start(&env, fast()).await;
    let barrier = event(&env, task_id, "deployed");
    publish(&env, &barrier).await;
    TestEnv::eventually("the event after the replay", DEADLINE, || async {
        sub.received()
            .iter()
            .any(|r| r.header(sign::EVENT_ID) == barrier.id.to_string())
            .then_some(())
    })
    .await;

    let ds = all_deliveries(&env.pool, id).await;
    assert_eq!(ds.len(), 3, "one delivery per event");
    let firsts = sub
        .received()
        .iter()
        .filter(|r| r.header(sign::EVENT_ID) == first.id.to_string())
        .count();
    assert_eq!(firsts, 1, "the duplicated event was sent once");
    running.stop().await;
}

#[tokio::test]
async fn an_invalid_url_is_refused_with_a_precise_error() {
    let env = TestEnv::new().await;
    let refused = |url: &str, kinds: &[&str]| {
        let db = env.pool.clone();
        let new = NewSubscription {
            url: url.to_owned(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            description: String::new(),
            created_by: "tester".into(),
            ..Default::default()
        };
        async move { store::create(&db, &new).await.expect_err("refused") }
    };
    let e = refused("ftp://example.com/in", &[]).await;
    assert!(matches!(&e, Error::UrlScheme { scheme } if scheme == "ftp"));
    assert_eq!(
        e.to_string(),
        "webhook url must use http or https, not \"ftp\""
    );
    let e = refused("https://ops:s3cret@example.com/in", &[]).await;
    assert!(matches!(e, Error::UrlCredentials));
    assert!(!e.to_string().contains("s3cret"));
    let e = refused("/relative/path", &[]).await;
    assert_eq!(
        e.to_string(),
        "webhook url does not parse: relative URL without a base"
    );
    let long = format!("https://example.com/{}", "x".repeat(store::MAX_URL_LEN));
    let e = refused(&long, &[]).await;
    assert_eq!(
        e.to_string(),
        format!(
            "webhook url is {} bytes long; at most 2048 are allowed",
            long.len()
        )
    );
    let e = refused("https://example.com/in", &["deployed", "Bad Kind"]).await;
    assert!(matches!(&e, Error::InvalidKind { kind } if kind == "Bad Kind"));
    assert!(e.is_invalid_input());
    assert!(store::list(&env.pool).await.unwrap().is_empty());
}

#[tokio::test]
async fn deliveries_are_paged_newest_first_and_go_with_their_subscription() {
    let env = env().await;
    let sub = Subscriber::start(vec![], 200, None).await;
    let id = subscribe(&env, sub.url("/hook"), &[]).await.subscription.id;
    let task_id = task(&env, "paged").await;
    let running = Running::start(&env, fast()).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let msg = event(&env, task_id, &format!("step_{n}"));
        ids.push(msg.id.to_string());
        publish(&env, &msg).await;
    }
    TestEnv::eventually("five deliveries", DEADLINE, || async {
        (status(&env.pool, id).await.delivered == 5).then_some(())
    })
    .await;

    let mut pages = Vec::new();
    let mut q = DeliveryQuery {
        limit: 2,
        ..Default::default()
    };
    loop {
        let (page, more) = store::deliveries(&env.pool, id, &q).await.unwrap();
        assert!(page.iter().all(|d| d.attempt_log.len() == 1));
        let last = page.last().map(|d| (d.created_at, d.id));
        pages.push(page);
        if !more {
            break;
        }
        q.after = last;
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let order: Vec<String> = pages.concat().into_iter().map(|d| d.event_id).collect();
    ids.reverse();
    assert_eq!(order, ids, "newest first");
    let (pending, _) = store::deliveries(
        &env.pool,
        id,
        &DeliveryQuery {
            status: Some(DeliveryStatus::Pending),
            limit: 10,
            after: None,
        },
    )
    .await
    .unwrap();
    assert!(pending.is_empty());

    // A disabled subscription gets no new deliveries.
    assert!(store::disable(&env.pool, id).await.unwrap());
    assert!(!store::disable(&env.pool, id).await.unwrap());
    let other = subscribe(&env, sub.url("/other"), &[])
        .await
        .subscription
        .id;
    publish(&env, &event(&env, task_id, "after_disable")).await;
    TestEnv::eventually("the enabled subscription served", DEADLINE, || async {
        (status(&env.pool, other).await.delivered == 1).then_some(())
    })
    .await;
    assert_eq!(all_deliveries(&env.pool, id).await.len(), 5);
    assert!(
        status(&env.pool, id)
            .await
            .subscription
            .disabled_at
            .is_some()
    );

    assert!(store::delete(&env.pool, id).await.unwrap());
    assert!(store::get(&env.pool, id).await.unwrap().is_none());
    assert!(all_deliveries(&env.pool, id).await.is_empty());
    assert!(!store::delete(&env.pool, id).await.unwrap());
    assert_eq!(store::list(&env.pool).await.unwrap().len(), 1);
    running.stop().await;
}
