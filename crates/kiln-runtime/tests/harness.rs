//! The delivery discipline against real NATS JetStream and Postgres: outbox relay,
//! inbox de-duplication, in-progress acks, error classification and dead letters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use kiln_contracts::{DeadLetter, Stage, WorkItem};
use kiln_runtime::harness::WorkMessage;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Runtime};
use kiln_store::TaskStatus;
use kiln_store::tasks::{self, NewTask};
use kiln_testkit::TestEnv;
use prost::Message;
use sqlx::{PgConnection, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What the scripted handler does on each delivery (1-based attempt).
#[derive(Clone, Copy)]
enum Script {
    Succeed,
    SleepThenSucceed(Duration),
    FailRetryableUntil(i32),
    AlwaysRetryable,
    Permanent,
}

struct Scripted {
    script: Script,
    calls: Arc<AtomicUsize>,
}

impl Handler for Scripted {
    type Input = WorkItem;
    type Output = i32;

    fn binding(&self) -> Binding {
        Binding {
            name: "codegen",
            stage: Stage::Codegen,
            active_status: Some(TaskStatus::Generating),
            skip_finished: true,
        }
    }

    async fn work(&self, _cx: &Ctx, job: &Job<WorkItem>) -> Result<i32, HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.script {
            Script::Succeed => Ok(job.attempt),
            Script::SleepThenSucceed(d) => {
                tokio::time::sleep(d).await;
                Ok(job.attempt)
            }
            Script::FailRetryableUntil(n) if job.attempt < n => Err(HandlerError::Retryable(
                format!("flaky dependency on attempt {}", job.attempt),
            )),
            Script::FailRetryableUntil(_) => Ok(job.attempt),
            Script::AlwaysRetryable => Err(HandlerError::Retryable("dependency is down".into())),
            Script::Permanent => Err(HandlerError::Permanent(
                "brief asks for the impossible".into(),
            )),
        }
    }

    async fn commit(
        &self,
        _tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        attempt: i32,
    ) -> Result<Next, HandlerError> {
        let next = WorkItem {
            stage: Stage::Test as i32,
            ..job.input.clone()
        };
        Ok(Next::advance(
            format!("done on attempt {attempt}"),
            vec![cx.work_message(&next)],
        ))
    }
}

struct Harness {
    env: TestEnv,
    runtime: Runtime,
    shutdown: CancellationToken,
    calls: Arc<AtomicUsize>,
    run: tokio::task::JoinHandle<()>,
}

async fn start(script: Script) -> Harness {
    // As in every service process: spans get trace ids that travel in `traceparent`.
    let telemetry =
        kiln_runtime::telemetry::init("test", kiln_runtime::config::LogFormat::Pretty, "warn");
    std::mem::forget(telemetry);
    let env = TestEnv::new().await;
    let shutdown = CancellationToken::new();
    let runtime = Runtime::start(env.config(), "codegen", &shutdown)
        .await
        .expect("runtime starts");
    let calls = Arc::new(AtomicUsize::new(0));
    let handler = Scripted {
        script,
        calls: calls.clone(),
    };
    let cx = runtime.cx.clone();
    let token = shutdown.clone();
    let run = tokio::spawn(async move {
        kiln_runtime::harness::run(cx, handler, token)
            .await
            .expect("harness runs");
    });
    Harness {
        env,
        runtime,
        shutdown,
        calls,
        run,
    }
}

impl Harness {
    async fn new_task(&self) -> Uuid {
        let id = Uuid::now_v7();
        let mut conn = self.env.pool.acquire().await.unwrap();
        tasks::insert_task(
            &mut conn,
            &NewTask {
                id,
                project: format!("p{}", &id.simple().to_string()[20..]),
                kind: "new_app".into(),
                template: "static-site".into(),
                brief: "a test".into(),
                options: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
        id
    }

    /// Sends a codegen work item through the outbox, as a real upstream stage would.
    async fn send(&self, task: Uuid) -> Uuid {
        let item = WorkItem {
            task_id: task.to_string(),
            project: "p".into(),
            stage: Stage::Codegen as i32,
            ..Default::default()
        };
        let msg = self.runtime.cx.work_message(&item);
        kiln_store::delivery::enqueue(&self.env.pool, &msg)
            .await
            .unwrap();
        self.runtime.cx.wake_relay();
        msg.id
    }

    async fn next_stage_messages(
        &self,
    ) -> jetstream::consumer::Consumer<jetstream::consumer::pull::Config> {
        let js = self.env.jetstream().await;
        kiln_runtime::nats::ensure_consumer(
            &js,
            &self
                .env
                .subjects()
                .stage_consumer(Stage::Test, Duration::from_secs(30), 5),
        )
        .await
        .unwrap()
    }

    async fn stage_runs(&self, task: Uuid) -> Vec<(i32, String)> {
        sqlx::query("SELECT attempt, status FROM stage_runs WHERE task_id = $1 ORDER BY attempt")
            .bind(task)
            .fetch_all(&self.env.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("attempt"), r.get("status")))
            .collect()
    }

    async fn task_status(&self, task: Uuid) -> (TaskStatus, Option<String>) {
        let t = tasks::get_task(&self.env.pool, task)
            .await
            .unwrap()
            .unwrap();
        (t.status, t.status_reason)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.run.await.unwrap();
        self.runtime.finish().await;
    }
}

async fn fetch_one(
    consumer: &jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    wait: Duration,
) -> Option<jetstream::Message> {
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .unwrap();
    match batch.next().await {
        Some(Ok(m)) => Some(m),
        _ => None,
    }
}

async fn run_status(h: &Harness, task: Uuid, want: &str) -> Vec<(i32, String)> {
    TestEnv::eventually(
        &format!("a {want} stage run"),
        Duration::from_secs(30),
        || async {
            let runs = h.stage_runs(task).await;
            runs.iter().any(|(_, s)| s == want).then_some(runs)
        },
    )
    .await
}

#[tokio::test]
async fn outbox_relay_publishes_the_next_step_with_its_message_id() {
    let h = start(Script::Succeed).await;
    let task = h.new_task().await;
    let sent_id = h.send(task).await;
    let consumer = h.next_stage_messages().await;
    let msg = fetch_one(&consumer, Duration::from_secs(20))
        .await
        .expect("next stage receives work");
    let item = WorkItem::decode(msg.payload.clone()).unwrap();
    assert_eq!(item.task_id, task.to_string());
    assert_eq!(item.stage(), Stage::Test);
    let headers = msg.headers.clone().expect("headers");
    let msg_id = headers
        .get("Nats-Msg-Id")
        .expect("Nats-Msg-Id")
        .as_str()
        .to_owned();
    assert_ne!(msg_id, sent_id.to_string(), "the next step has its own id");
    assert_eq!(
        headers.get("ce-id").map(|v| v.as_str().to_owned()),
        Some(msg_id.clone())
    );
    assert_eq!(
        headers.get("ce-type").map(|v| v.as_str()),
        Some("dev.kiln.work.v1")
    );
    assert_eq!(
        headers.get("ce-source").map(|v| v.as_str()),
        Some("/kiln/codegen")
    );
    assert!(
        headers.get("traceparent").is_some(),
        "trace context travels with the work"
    );
    // Every outbox row was marked sent, and the inbox holds the handled message id.
    let inbox: i64 = sqlx::query(
        "SELECT count(*) AS n FROM inbox WHERE consumer = 'codegen' AND message_id = $1",
    )
    .bind(sent_id.to_string())
    .fetch_one(&h.env.pool)
    .await
    .unwrap()
    .get("n");
    assert_eq!(inbox, 1);
    TestEnv::eventually("outbox drained", Duration::from_secs(10), || async {
        (kiln_store::delivery::pending_count(&h.env.pool)
            .await
            .unwrap()
            == 0)
            .then_some(())
    })
    .await;
    assert_eq!(h.stage_runs(task).await, vec![(1, "succeeded".to_string())]);
    assert_eq!(h.task_status(task).await.0, TaskStatus::Generating);

    // Sent rows do not accumulate: recent ones stay, old ones are pruned.
    let total = || async {
        sqlx::query("SELECT count(*) AS n FROM outbox")
            .fetch_one(&h.env.pool)
            .await
            .unwrap()
            .get::<i64, _>("n")
    };
    let sent = total().await;
    assert!(sent >= 2, "the work item and its events were sent: {sent}");
    assert_eq!(
        kiln_runtime::relay::prune(&h.env.pool).await.unwrap(),
        0,
        "recent rows are kept"
    );
    sqlx::query("UPDATE outbox SET sent_at = now() - interval '2 hours'")
        .execute(&h.env.pool)
        .await
        .unwrap();
    assert_eq!(
        kiln_runtime::relay::prune(&h.env.pool).await.unwrap(),
        sent as u64
    );
    assert_eq!(total().await, 0);
    h.stop().await;
}

#[tokio::test]
async fn relay_republish_of_the_same_row_is_dropped_by_jetstream() {
    let h = start(Script::Succeed).await;
    let task = h.new_task().await;
    let item = WorkItem {
        task_id: task.to_string(),
        stage: Stage::Test as i32,
        ..Default::default()
    };
    let msg = h.runtime.cx.work_message(&item);
    let js = h.env.jetstream().await;
    // A relay that died after publishing but before marking the row sent publishes it again.
    for _ in 0..2 {
        js.publish_with_headers(
            msg.subject.clone(),
            kiln_runtime::envelope::nats_headers(&msg),
            msg.payload.clone().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    let consumer = h.next_stage_messages().await;
    let first = fetch_one(&consumer, Duration::from_secs(5))
        .await
        .expect("one copy");
    first.ack().await.unwrap();
    assert!(
        fetch_one(&consumer, Duration::from_secs(2)).await.is_none(),
        "the second publish with the same Nats-Msg-Id was de-duplicated"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_message_already_in_the_inbox_is_acked_without_running_the_handler() {
    let h = start(Script::Succeed).await;
    let task = h.new_task().await;
    let item = WorkItem {
        task_id: task.to_string(),
        stage: Stage::Codegen as i32,
        ..Default::default()
    };
    let msg = h.runtime.cx.work_message(&item);
    // The message was handled before (its effects committed with this inbox row)...
    let mut conn = h.env.pool.acquire().await.unwrap();
    assert!(
        kiln_store::delivery::record_inbox(&mut conn, "codegen", &msg.id.to_string())
            .await
            .unwrap()
    );
    drop(conn);
    // ...and now arrives again, as a redelivery would.
    kiln_store::delivery::enqueue(&h.env.pool, &msg)
        .await
        .unwrap();
    h.runtime.cx.wake_relay();
    let metrics = &h.runtime.cx.metrics;
    TestEnv::eventually("duplicate acked", Duration::from_secs(20), || async {
        (metrics
            .messages
            .with_label_values(&["codegen", "duplicate"])
            .get()
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(
        h.calls.load(Ordering::SeqCst),
        0,
        "handler never ran for the duplicate"
    );
    assert!(h.stage_runs(task).await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn progress_acks_keep_long_work_from_being_redelivered() {
    // ack_wait is 3 s in tests; the work takes three times that.
    let h = start(Script::SleepThenSucceed(Duration::from_secs(9))).await;
    let task = h.new_task().await;
    h.send(task).await;
    let runs = run_status(&h, task, "succeeded").await;
    assert_eq!(
        runs,
        vec![(1, "succeeded".to_string())],
        "delivered exactly once"
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 1);
    h.stop().await;
}

#[tokio::test]
async fn retryable_errors_are_retried_with_backoff_until_they_succeed() {
    let h = start(Script::FailRetryableUntil(3)).await;
    let task = h.new_task().await;
    h.send(task).await;
    let runs = run_status(&h, task, "succeeded").await;
    assert_eq!(
        runs,
        vec![
            (1, "failed".to_string()),
            (2, "failed".to_string()),
            (3, "succeeded".to_string())
        ]
    );
    assert_eq!(h.calls.load(Ordering::SeqCst), 3);
    assert_eq!(h.task_status(task).await.0, TaskStatus::Generating);
    h.stop().await;
}

async fn expect_dead_letter(h: &Harness, task: Option<Uuid>) -> DeadLetter {
    let js = h.env.jetstream().await;
    let stream = h.env.subjects().dlq_stream().name;
    let consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config> = js
        .get_stream(&stream)
        .await
        .unwrap()
        .create_consumer(jetstream::consumer::pull::Config {
            filter_subject: h.env.subjects().dlq(Stage::Codegen),
            ..Default::default()
        })
        .await
        .unwrap();
    let msg = fetch_one(&consumer, Duration::from_secs(30))
        .await
        .expect("a dead letter");
    let letter = DeadLetter::decode(msg.payload.clone()).unwrap();
    assert_eq!(
        letter.task_id,
        task.map(|t| t.to_string()).unwrap_or_default()
    );
    letter
}

#[tokio::test]
async fn permanent_errors_dead_letter_at_once_and_fail_the_task() {
    let h = start(Script::Permanent).await;
    let task = h.new_task().await;
    h.send(task).await;
    let letter = expect_dead_letter(&h, Some(task)).await;
    assert!(
        letter.reason.contains("brief asks for the impossible"),
        "{}",
        letter.reason
    );
    assert_eq!(letter.deliveries, 1);
    assert_eq!(
        WorkItem::decode(letter.payload.as_slice()).unwrap().task_id,
        task.to_string()
    );
    let (status, reason) = h.task_status(task).await;
    assert_eq!(status, TaskStatus::Failed);
    assert!(reason.unwrap().contains("brief asks for the impossible"));
    assert_eq!(h.calls.load(Ordering::SeqCst), 1, "TERM: no redelivery");
    let lessons: Vec<String> = sqlx::query("SELECT lesson FROM project_memory")
        .fetch_all(&h.env.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("lesson"))
        .collect();
    assert_eq!(lessons.len(), 1, "{lessons:?}");
    assert!(
        lessons[0].contains("brief asks for the impossible"),
        "{lessons:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn retryable_errors_that_never_clear_dead_letter_after_max_deliver() {
    let h = start(Script::AlwaysRetryable).await;
    let task = h.new_task().await;
    h.send(task).await;
    let letter = expect_dead_letter(&h, Some(task)).await;
    assert_eq!(letter.deliveries, 3, "max_deliver is 3 in tests");
    assert!(
        letter.reason.contains("after 3 attempts"),
        "{}",
        letter.reason
    );
    let (status, reason) = h.task_status(task).await;
    assert_eq!(status, TaskStatus::Failed);
    assert!(reason.unwrap().contains("dependency is down"));
    assert_eq!(h.calls.load(Ordering::SeqCst), 3);
    h.stop().await;
}

#[tokio::test]
async fn an_undecodable_message_fails_the_task_named_in_its_headers() {
    let h = start(Script::Succeed).await;
    let task = h.new_task().await;
    let js = h.env.jetstream().await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Kiln-Task-Id", task.to_string().as_str());
    headers.insert("Nats-Msg-Id", "poison-1");
    js.publish_with_headers(
        h.env.subjects().work(Stage::Codegen),
        headers,
        vec![0xff, 0xff, 0xff].into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let letter = expect_dead_letter(&h, Some(task)).await;
    assert!(letter.reason.contains("undecodable"), "{}", letter.reason);
    assert_eq!(
        letter.payload,
        vec![0xff, 0xff, 0xff],
        "the original payload is kept"
    );
    assert_eq!(h.task_status(task).await.0, TaskStatus::Failed);
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
    h.stop().await;
}

#[tokio::test]
async fn work_for_a_cancelled_task_is_skipped() {
    let h = start(Script::Succeed).await;
    let task = h.new_task().await;
    tasks::set_status(&h.env.pool, task, TaskStatus::Cancelled, Some("by test"))
        .await
        .unwrap();
    h.send(task).await;
    let metrics = &h.runtime.cx.metrics;
    TestEnv::eventually("skip", Duration::from_secs(20), || async {
        (metrics
            .messages
            .with_label_values(&["codegen", "skipped"])
            .get()
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(h.calls.load(Ordering::SeqCst), 0);
    assert_eq!(h.task_status(task).await.0, TaskStatus::Cancelled);
    h.stop().await;
}

#[test]
fn work_items_name_their_task_and_round() {
    let item = WorkItem {
        task_id: "t".into(),
        round: 2,
        ..Default::default()
    };
    assert_eq!((item.task_id(), item.round()), ("t", 2));
}

/// Every service creates the streams at boot; on a first start they race. None may fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_booting_together_all_find_the_streams() {
    let env = TestEnv::new().await;
    let subjects = env.subjects();
    // One connection per service, as in production, all asking at once.
    let mut services = Vec::new();
    for _ in 0..8 {
        let nats = async_nats::connect(&env.nats_url).await.expect("nats");
        services.push(jetstream::new(nats));
    }
    let js = services[0].clone();
    let start = Arc::new(tokio::sync::Barrier::new(services.len()));
    let boots: Vec<_> = services
        .into_iter()
        .map(|js| {
            let (subjects, start) = (subjects.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                kiln_runtime::nats::ensure_streams(&js, &subjects).await
            })
        })
        .collect();
    for boot in boots {
        boot.await
            .expect("join")
            .expect("the streams exist for every booting service");
    }
    for spec in subjects.streams() {
        js.get_stream(&spec.name).await.expect("created");
    }
}
