//! Per-service NATS identities against a real `nats-server` started with the configuration
//! `kiln_contracts::permissions` renders: each service can do its own work, is refused
//! outside it, and nobody gets in without credentials.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use kiln_contracts::headers as h;
use kiln_contracts::permissions::{self, Password};
use kiln_contracts::{Stage, StageName, Subjects, WorkItem};
use kiln_runtime::control::PauseAck;
use kiln_runtime::envelope::nats_headers;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Runtime};
use kiln_store::TaskStatus;
use kiln_store::tasks::{self, NewTask};
use kiln_testkit::TestEnv;
use prost::Message;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A `nats-server` with JetStream and one user per service, on a free loopback port.
struct Server {
    child: Child,
    dir: PathBuf,
    url: String,
    subjects: Subjects,
    passwords: HashMap<&'static str, String>,
}

impl Server {
    fn start(prefix: &str) -> Self {
        let bin = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .map(PathBuf::from)
            .chain(
                std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                    .map(|d| d.join("nats-server")),
            )
            .find(|p| p.is_file())
            .expect("nats-server is not installed: infra/scripts/setup.sh installs it (apt-get install nats-server)");
        let subjects = Subjects::new(prefix).unwrap();
        let passwords: HashMap<_, _> = permissions::SERVICES
            .into_iter()
            .map(|s| (s, Uuid::new_v4().simple().to_string()))
            .collect();
        let users =
            permissions::service_users(&subjects, |s| Password::Literal(passwords[s].clone()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("kiln-nats-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = format!(
            "listen: 127.0.0.1:{port}\njetstream {{\n  store_dir: {:?}\n  max_file_store: 4G\n}}\n{}",
            dir.join("js"),
            permissions::authorization(&users)
        );
        std::fs::write(dir.join("nats.conf"), conf).unwrap();
        let log = std::fs::File::create(dir.join("server.log")).unwrap();
        let child = Command::new(bin)
            .arg("--config")
            .arg(dir.join("nats.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        let mut server = Self {
            child,
            dir,
            url: format!("nats://127.0.0.1:{port}"),
            subjects,
            passwords,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || server.child.try_wait().unwrap().is_some() {
                panic!(
                    "nats-server did not start with the generated config:\n{}",
                    std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn user(&self, service: &str) -> (String, String) {
        (
            permissions::user_name(&self.subjects, service),
            self.passwords[service].clone(),
        )
    }

    /// A client of `service` recording every error the server sends it.
    async fn connect(&self, service: &str) -> Client {
        let (user, password) = self.user(service);
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = errors.clone();
        let nats = async_nats::ConnectOptions::with_user_and_password(user.clone(), password)
            .custom_inbox_prefix(permissions::inbox_prefix(&user).unwrap())
            .event_callback(move |event| {
                let seen = seen.clone();
                async move {
                    if let async_nats::Event::ServerError(e) = event {
                        seen.lock().unwrap().push(e.to_string());
                    }
                }
            })
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("{service} connects with its credentials: {e}"));
        let mut js = jetstream::new(nats.clone());
        js.set_timeout(Duration::from_secs(2));
        Client { nats, js, errors }
    }

    /// Runtime configuration of `service` against this server and `env`'s database.
    fn config(&self, env: &TestEnv, service: &str) -> kiln_runtime::Config {
        let (user, password) = self.user(service);
        let mut c = env.config();
        c.nats.url = self.url.clone();
        c.nats.prefix = self.subjects.prefix().to_owned();
        c.nats.user = Some(user);
        c.nats.password = Some(kiln_runtime::Secret::new(password));
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Client {
    nats: async_nats::Client,
    js: jetstream::Context,
    errors: Arc<Mutex<Vec<String>>>,
}

impl Client {
    /// Waits until the server has refused something naming `what`.
    async fn refused(&self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let _ = self.nats.flush().await;
            if let Some(e) = self
                .errors
                .lock()
                .unwrap()
                .iter()
                .find(|e| e.contains("Permissions Violation") && e.contains(what))
            {
                return e.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "no permissions violation naming {what:?}; the server sent {:?}",
                    self.errors.lock().unwrap()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn assert_no_refusals(&self, who: &str) {
        self.nats.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let errors = self.errors.lock().unwrap();
        assert!(errors.is_empty(), "{who} was refused: {errors:?}");
    }
}

/// Codegen's handler shape: take the codegen step, hand the test step on.
struct PassOn;

impl Handler for PassOn {
    type Input = WorkItem;
    type Output = ();

    fn binding(&self) -> Binding {
        Binding {
            name: "codegen",
            stage: Stage::Codegen,
            active_status: Some(TaskStatus::Generating),
            skip_finished: true,
        }
    }

    async fn work(&self, _cx: &Ctx, _job: &Job<WorkItem>) -> Result<(), HandlerError> {
        Ok(())
    }

    async fn commit(
        &self,
        _tx: &mut PgConnection,
        cx: &Ctx,
        job: &Job<WorkItem>,
        _output: (),
    ) -> Result<Next, HandlerError> {
        let next = WorkItem {
            stage: Stage::Test as i32,
            ..job.input.clone()
        };
        Ok(Next::advance("generated", vec![cx.work_message(&next)]))
    }
}

async fn new_task(env: &TestEnv) -> Uuid {
    let id = Uuid::now_v7();
    let mut conn = env.pool.acquire().await.unwrap();
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

fn prefix() -> String {
    format!("p{}", &Uuid::new_v4().simple().to_string()[..10])
}

#[tokio::test]
async fn codegen_does_its_work_under_its_own_identity() {
    let env = TestEnv::new().await;
    let server = Server::start(&prefix());
    let subjects = server.subjects.clone();
    let shutdown = CancellationToken::new();
    // Boot as codegen: streams, its consumer, heartbeats, the pause broadcast, the relay.
    let runtime = Runtime::start(server.config(&env, "codegen"), "codegen", &shutdown)
        .await
        .expect("codegen boots with its own credentials");
    let cx = runtime.cx.clone();
    let token = shutdown.clone();
    let run = tokio::spawn(async move {
        kiln_runtime::harness::run(cx, PassOn, token)
            .await
            .expect("harness runs");
    });

    // The planner hands codegen a step, as its relay would.
    let planner = server.connect("planner").await;
    let task = new_task(&env).await;
    let item = WorkItem {
        task_id: task.to_string(),
        project: "p".into(),
        stage: Stage::Codegen as i32,
        ..Default::default()
    };
    let msg = runtime.cx.work_message(&item);
    planner
        .js
        .publish_with_headers(msg.subject.clone(), nats_headers(&msg), msg.payload.into())
        .await
        .unwrap()
        .await
        .expect("the planner may send codegen work");

    // Codegen consumed and acked it, and its relay published the test step.
    let tester = server.connect("tester").await;
    let consumer = kiln_runtime::nats::ensure_consumer(
        &tester.js,
        &subjects.stage_consumer(Stage::Test, Duration::from_secs(30), 5),
    )
    .await
    .expect("the tester opens its own consumer");
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(20))
        .messages()
        .await
        .unwrap();
    let next = batch
        .next()
        .await
        .expect("codegen hands on the test step")
        .unwrap();
    let next_item = WorkItem::decode(next.payload.clone()).unwrap();
    assert_eq!(next_item.task_id, task.to_string());
    assert_eq!(next_item.stage(), Stage::Test);
    next.ack().await.expect("the tester acks its own work");

    // The API's pause broadcast reaches codegen, whose answer reaches the API's inbox.
    let api = server.connect("api").await;
    let inbox = api.nats.new_inbox();
    let mut replies = api.nats.subscribe(inbox.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        // Again until codegen's listener (started in the background at boot) hears it.
        api.nats
            .publish_with_reply(subjects.control_pause(), inbox.clone(), "{}".into())
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(500), replies.next()).await {
            Ok(reply) => break reply.unwrap(),
            Err(_) if Instant::now() < deadline => {}
            Err(_) => panic!("codegen does not answer the pause broadcast"),
        }
    };
    let ack: PauseAck = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(ack.service, "codegen");

    for (who, client) in [("planner", &planner), ("tester", &tester), ("api", &api)] {
        client.assert_no_refusals(who).await;
    }
    shutdown.cancel();
    run.await.unwrap();
    runtime.finish().await;
}

#[tokio::test]
async fn a_service_is_refused_outside_its_permissions() {
    let server = Server::start(&prefix());
    let s = server.subjects.clone();
    // The streams exist, as after any service's boot.
    let gate = server.connect("gate").await;
    kiln_runtime::nats::ensure_streams(&gate.js, &s)
        .await
        .expect("any service may create the streams");

    let codegen = server.connect("codegen").await;
    // Work past the gate.
    let deploy = s.work(Stage::Deploy);
    let sent = codegen
        .js
        .publish(deploy.clone(), "forged".into())
        .await
        .unwrap()
        .await;
    assert!(sent.is_err(), "no stream ack for a refused publish");
    let e = codegen.refused(&deploy).await;
    assert!(e.contains("Publish"), "{e}");
    let work = gate.js.get_stream(s.work_stream().name).await.unwrap();
    assert_eq!(
        work.cached_info().state.messages,
        0,
        "nothing reached the work stream"
    );

    // Another stage's work, on the wire and through its consumer.
    let gate_work = s.work(Stage::Gate);
    let _sub = codegen.nats.subscribe(gate_work.clone()).await.unwrap();
    let e = codegen.refused(&gate_work).await;
    assert!(e.contains("Subscription"), "{e}");
    let deploy_consumer = s.stage_consumer(Stage::Deploy, Duration::from_secs(30), 5);
    assert!(
        kiln_runtime::nats::ensure_consumer(&codegen.js, &deploy_consumer)
            .await
            .is_err(),
        "codegen cannot open the deployer's consumer"
    );
    codegen
        .refused(&format!(
            "$JS.API.CONSUMER.INFO.{}.deploy",
            s.work_stream().name
        ))
        .await;

    // Everyone else's replies, the control broadcast and app removal.
    let _all = codegen.nats.subscribe("_INBOX.>").await.unwrap();
    codegen.refused("_INBOX.>").await;
    codegen
        .nats
        .publish(s.control_pause(), "{}".into())
        .await
        .unwrap();
    codegen.refused(&s.control_pause()).await;
    codegen
        .nats
        .publish(s.app_remove(), "{}".into())
        .await
        .unwrap();
    codegen.refused(&s.app_remove()).await;
    // Altering a stream is nobody's right.
    let update = format!("$JS.API.STREAM.DELETE.{}", s.work_stream().name);
    codegen
        .nats
        .publish(update.clone(), "".into())
        .await
        .unwrap();
    codegen.refused(&update).await;
    gate.assert_no_refusals("gate").await;
}

#[tokio::test]
async fn clients_without_valid_credentials_are_refused() {
    let server = Server::start(&prefix());
    let anonymous = async_nats::ConnectOptions::new()
        .max_reconnects(1)
        .connect(&server.url)
        .await;
    let e = anonymous.expect_err("an anonymous client is refused");
    assert!(
        e.to_string().to_lowercase().contains("authorization"),
        "{e}"
    );
    let (user, _) = server.user("deployer");
    let wrong = async_nats::ConnectOptions::with_user_and_password(user, "guess".into())
        .max_reconnects(1)
        .connect(&server.url)
        .await;
    assert!(wrong.is_err(), "a wrong password is refused");
}

/// What `kiln up` starts: every service with its identity, each doing what it does at boot
/// and the API its extra reads.
#[tokio::test]
async fn every_service_boots_with_the_permissions_kiln_up_gives_it() {
    let env = TestEnv::new().await;
    let server = Server::start(&prefix());
    let s = server.subjects.clone();
    let shutdown = CancellationToken::new();
    let mut runtimes = Vec::new();
    for service in permissions::SERVICES {
        let runtime = Runtime::start(server.config(&env, service), service, &shutdown)
            .await
            .unwrap_or_else(|e| panic!("{service} boots: {e}"));
        runtimes.push(runtime);
        let client = server.connect(service).await;
        let wait = Duration::from_secs(30);
        let consumer = match service {
            "api" => None,
            "planner" => Some(s.stage_consumer(Stage::Plan, wait, 5)),
            "codegen" => Some(s.stage_consumer(Stage::Codegen, wait, 5)),
            "tester" => Some(s.stage_consumer(Stage::Test, wait, 5)),
            "reviewer" => Some(s.stage_consumer(Stage::Review, wait, 5)),
            "gate" => Some(s.stage_consumer(Stage::Gate, wait, 5)),
            "deployer" => Some(s.stage_consumer(Stage::Deploy, wait, 5)),
            _ => Some(s.index_consumer(wait, 5)),
        };
        if let Some(spec) = consumer {
            kiln_runtime::nats::ensure_consumer(&client.js, &spec)
                .await
                .unwrap_or_else(|e| panic!("{service} opens its consumer: {e}"));
        }
        client.assert_no_refusals(service).await;
    }

    // The API: queue figures of every stage, dead letters, a log replay, webhooks, removal.
    let api = server.connect("api").await;
    let work = api.js.get_stream(s.work_stream().name).await.unwrap();
    for stage in Stage::all() {
        let name = s.stage_consumer(stage, Duration::ZERO, 0).durable_name;
        work.consumer_info(&name)
            .await
            .unwrap_or_else(|e| panic!("consumer info of {name}: {e}"));
    }
    let mut dlq = api.js.get_stream(s.dlq_stream().name).await.unwrap();
    dlq.info().await.expect("dead letter stream info");
    let logs = api.js.get_stream(s.logs_stream().name).await.unwrap();
    let ordered = logs
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: s.logs("t1"),
            ..Default::default()
        })
        .await
        .expect("an ordered consumer over one task's logs");
    let _lines = ordered.messages().await.expect("log replay");
    let events = api.js.get_stream(s.events_stream().name).await.unwrap();
    events
        .get_or_create_consumer(
            permissions::WEBHOOKS_CONSUMER,
            jetstream::consumer::pull::Config {
                durable_name: Some(permissions::WEBHOOKS_CONSUMER.into()),
                filter_subject: s.events_of(None),
                ..Default::default()
            },
        )
        .await
        .expect("the webhooks consumer");
    let deployer = server.connect("deployer").await;
    let mut removals = deployer
        .nats
        .queue_subscribe(s.app_remove(), "deployer".into())
        .await
        .unwrap();
    deployer.nats.flush().await.unwrap();
    tokio::spawn(async move {
        if let Some(m) = removals.next().await {
            let reply = m.reply.expect("a request");
            deployer
                .nats
                .publish(reply, "removed".into())
                .await
                .unwrap();
            deployer.nats.flush().await.unwrap();
        }
    });
    // `flush` does not wait for the server to register the subscription: ask until it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        match api.nats.request(s.app_remove(), "{}".into()).await {
            Ok(answer) => break answer,
            Err(e) if Instant::now() < deadline => {
                assert_eq!(e.kind(), async_nats::RequestErrorKind::NoResponders, "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the deployer answers a removal: {e}"),
        }
    };
    assert_eq!(&answer.payload[..], b"removed");
    // Every service beats under its own name (one beat each 5 s).
    let mut beats = api.nats.subscribe(s.heartbeats()).await.unwrap();
    let mut heard = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while heard.len() < permissions::SERVICES.len() {
        let beat = tokio::time::timeout_at(deadline, beats.next())
            .await
            .unwrap_or_else(|_| panic!("heartbeats heard only from {heard:?}"))
            .unwrap();
        heard.insert(beat.subject.to_string());
    }
    api.assert_no_refusals("api").await;

    shutdown.cancel();
    for runtime in runtimes {
        runtime.finish().await;
    }
}

async fn pending(env: &TestEnv, id: Uuid) -> bool {
    sqlx::query_scalar::<_, bool>("SELECT sent_at IS NULL FROM outbox WHERE id = $1")
        .bind(id)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

/// Messages per subject in the work stream (stream info: every identity may ask for it).
async fn work_subjects(client: &Client, subjects: &Subjects) -> Vec<(String, usize)> {
    use futures::TryStreamExt;
    let stream = client
        .js
        .get_stream(subjects.work_stream().name)
        .await
        .unwrap();
    let mut out: Vec<(String, usize)> = stream
        .info_with_subjects(format!("{}.work.>", subjects.prefix()))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    out.sort();
    out
}

/// Each relay publishes only its own service's rows, under its own identity: rows another
/// service wrote (the API's new task, the planner's next step) neither reach the broker
/// through it nor hold up its own rows, and go out once their service starts.
#[tokio::test]
async fn each_relay_publishes_only_what_its_service_wrote() {
    let env = TestEnv::new().await;
    let server = Server::start(&prefix());
    let s = server.subjects.clone();
    let task = new_task(&env).await.to_string();
    let row = |service: &str, stage: Stage| {
        let item = WorkItem {
            task_id: task.clone(),
            stage: stage as i32,
            ..Default::default()
        };
        kiln_runtime::envelope::envelope(s.work(stage), h::types::WORK, service, Some(&task), &item)
    };
    // Written while none of them runs, oldest first: the API's and the planner's rows come
    // before codegen's.
    let from_api = row("api", Stage::Plan);
    let from_planner = row("planner", Stage::Codegen);
    let from_codegen = row("codegen", Stage::Test);
    for m in [&from_api, &from_planner, &from_codegen] {
        kiln_store::delivery::enqueue(&env.pool, m).await.unwrap();
    }

    let shutdown = CancellationToken::new();
    let codegen = Runtime::start(server.config(&env, "codegen"), "codegen", &shutdown)
        .await
        .expect("codegen boots");
    TestEnv::eventually(
        "codegen's row published",
        Duration::from_secs(10),
        || async { (!pending(&env, from_codegen.id).await).then_some(()) },
    )
    .await;
    // Two more polls of codegen's relay: the others' rows stay where they are.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        pending(&env, from_api.id).await,
        "codegen published the API's row"
    );
    assert!(pending(&env, from_planner.id).await);

    let planner = Runtime::start(server.config(&env, "planner"), "planner", &shutdown)
        .await
        .expect("planner boots");
    TestEnv::eventually(
        "the planner's row published",
        Duration::from_secs(10),
        || async { (!pending(&env, from_planner.id).await).then_some(()) },
    )
    .await;
    assert!(
        pending(&env, from_api.id).await,
        "the planner published the API's row"
    );

    let api = Runtime::start(server.config(&env, "api"), "api", &shutdown)
        .await
        .expect("the API boots");
    TestEnv::eventually(
        "the API's row published",
        Duration::from_secs(10),
        || async { (!pending(&env, from_api.id).await).then_some(()) },
    )
    .await;

    let reader = server.connect("api").await;
    let mut expected: Vec<_> = [Stage::Plan, Stage::Codegen, Stage::Test]
        .into_iter()
        .map(|stage| (s.work(stage), 1))
        .collect();
    expected.sort();
    assert_eq!(
        work_subjects(&reader, &s).await,
        expected,
        "each row once, nothing else"
    );
    reader.assert_no_refusals("api").await;
    shutdown.cancel();
    for runtime in [codegen, planner, api] {
        runtime.finish().await;
    }
}
