//! `kiln bench pipeline`: what Kiln's delivery discipline costs on top of JetStream.
//!
//! In one run, on one machine, against the configured NATS and Postgres (in a scratch
//! database and subject prefix of its own), it measures:
//! (a) a raw JetStream round trip: publish + ack, fetch, ack;
//! (b) one stage hop through the harness with a no-op handler: outbox, relay, consumer,
//!     inbox, state transaction, ack, and the next stage's message arriving;
//! (c) a no-op task through all six stages, from its first outbox row to its final event.
//! It prints p50/p99 of each and the ratios b/a and c/(6 × a).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use kiln_contracts::{Stage, StageName, TaskEvent, WorkItem};
use kiln_runtime::config::Loader;
use kiln_runtime::{Binding, Ctx, Handler, HandlerError, Job, Next, Runtime};
use kiln_store::TaskStatus;
use kiln_store::tasks::{self, NewTask};
use prost::Message;
use sqlx::{Connection, PgConnection};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Raw JetStream vs one harness hop vs a no-op task through every stage.
    Pipeline {
        /// Samples of (a) and (b); (c) takes a fifth as many, at least 10.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// A template's first vs second validation (dependency cache) and the pipeline's
    /// POST-to-verified time next to running the same commands by hand.
    Template {
        #[arg(default_value = "node-express")]
        template: String,
    },
    /// File-level retrieval quality (BM25, dense, hybrid), indexing throughput and query
    /// latency over real repositories' fixes (`infra/bench/rag.toml`).
    Rag(crate::bench_rag::Args),
}

/// Passes work straight on; the last stage marks the task deployed.
struct Noop(Stage);

impl Handler for Noop {
    type Input = WorkItem;
    type Output = ();

    fn binding(&self) -> Binding {
        Binding {
            name: self.0.name(),
            stage: self.0,
            active_status: None,
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
        _: (),
    ) -> Result<Next, HandlerError> {
        Ok(match self.0.next() {
            Some(next) => {
                let item = WorkItem {
                    stage: next as i32,
                    ..job.input.clone()
                };
                Next::advance("no-op", vec![cx.work_message(&item)])
            }
            None => Next {
                status: Some((TaskStatus::Deployed, None)),
                ..Next::advance("no-op", vec![])
            },
        })
    }
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut v: Vec<Duration>) -> Stats {
    v.sort();
    let n = v.len().max(1);
    let at = |q: f64| v[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: v.iter().sum::<Duration>() / n as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:9.3} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(config: Option<&Path>, command: Command) -> anyhow::Result<ExitCode> {
    let samples = match command {
        Command::Pipeline { samples } => samples,
        Command::Template { template } => {
            return crate::bench_template::run(config, &template).await;
        }
        Command::Rag(args) => return crate::bench_rag::run(config, args).await,
    };
    let samples = samples.max(10);
    let mut base = Loader::new(config)
        .base()
        .context("loading configuration")?;
    let scratch = ScratchDb::create(&base).await?;
    base.database.url = kiln_runtime::Secret::new(scratch.url.clone());
    base.nats.prefix = format!("bench{}", scratch.tag);
    base.runtime.log_filter = "warn".into();
    let _telemetry = kiln_runtime::telemetry::init("bench", base.runtime.log_format, "warn");

    let result = measure(base, samples).await;

    scratch.drop().await;
    result
}

/// A database of its own on the configured server, so a benchmark never touches real data.
pub(crate) struct ScratchDb {
    /// Random, also used for the subject prefix.
    pub tag: String,
    pub url: String,
    name: String,
    admin: PgConnection,
}

impl ScratchDb {
    pub async fn create(base: &kiln_runtime::Config) -> anyhow::Result<Self> {
        let tag = Uuid::new_v4().simple().to_string()[..10].to_owned();
        let name = format!("kiln_bench_{tag}");
        let server = base
            .database
            .url
            .expose()
            .rsplit_once('/')
            .map(|(s, _)| s.to_owned())
            .context("database URL must name a database")?;
        let mut admin = PgConnection::connect(&format!("{server}/postgres"))
            .await
            .context("connecting to postgres")?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        Ok(Self {
            url: format!("{server}/{name}"),
            tag,
            name,
            admin,
        })
    }

    pub async fn drop(mut self) {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut self.admin)
        .await;
    }
}

async fn measure(base: kiln_runtime::Config, samples: usize) -> anyhow::Result<ExitCode> {
    let nats_url = base.nats.url.clone();
    let shutdown = CancellationToken::new();
    let runtime = Runtime::start(base, "bench", &shutdown).await?;
    let cx = runtime.cx.clone();
    let js = cx.js.clone();

    println!(
        "kiln bench pipeline: {samples} samples of (a) and (b), {} of (c); nats {nats_url}",
        samples / 5
    );
    println!("{:<42}{:>13}{:>13}{:>13}", "", "p50", "p99", "mean");

    // (a) raw JetStream round trip on the same work stream, before any stage consumes it.
    let raw_subject = cx.subjects.work(Stage::Plan);
    let raw = kiln_runtime::nats::ensure_consumer(
        &js,
        &cx.subjects
            .stage_consumer(Stage::Plan, Duration::from_secs(30), 5),
    )
    .await?;
    let mut a = Vec::with_capacity(samples);
    for i in 0..samples + 20 {
        let t = Instant::now();
        js.publish(raw_subject.clone(), vec![0u8; 64].into())
            .await?
            .await?;
        let mut batch = raw.fetch().max_messages(1).messages().await?;
        let msg = loop {
            match batch.next().await {
                Some(Ok(m)) => break m,
                _ => batch = raw.fetch().max_messages(1).messages().await?,
            }
        };
        msg.double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        if i >= 20 {
            a.push(t.elapsed());
        }
    }
    let a = stats(a);
    println!(
        "{:<42}{:>13}{:>13}{:>13}",
        "(a) jetstream publish+ack, fetch, ack",
        ms(a.p50),
        ms(a.p99),
        ms(a.mean)
    );

    // (b) one hop: plan work in the outbox -> harness (no-op) -> codegen work on the wire.
    let tasks_b = new_tasks(&cx, samples + 10).await?;
    let hop_token = shutdown.child_token();
    let planner = tokio::spawn(kiln_runtime::harness::run(
        cx.clone(),
        Noop(Stage::Plan),
        hop_token.clone(),
    ));
    let next = kiln_runtime::nats::ensure_consumer(
        &js,
        &cx.subjects
            .stage_consumer(Stage::Codegen, Duration::from_secs(30), 5),
    )
    .await?;
    let mut next_msgs = next.messages().await?;
    let mut b = Vec::with_capacity(samples);
    for (i, task) in tasks_b.iter().enumerate() {
        let t = Instant::now();
        send_plan(&cx, *task).await?;
        let msg = next_msgs.next().await.context("codegen work")??;
        msg.double_ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        if i >= 10 {
            b.push(t.elapsed());
        }
    }
    drop(next_msgs);
    hop_token.cancel();
    planner.await??;
    js.get_stream(&cx.subjects.work_stream().name)
        .await?
        .delete_consumer(Stage::Codegen.name())
        .await?;
    let b = stats(b);
    println!(
        "{:<42}{:>13}{:>13}{:>13}",
        "(b) one stage hop through the harness",
        ms(b.p50),
        ms(b.p99),
        ms(b.mean)
    );

    // (c) a no-op task through all six stages.
    let full_token = shutdown.child_token();
    let mut stages = Vec::new();
    for stage in Stage::all() {
        stages.push(tokio::spawn(kiln_runtime::harness::run(
            cx.clone(),
            Noop(stage),
            full_token.clone(),
        )));
    }
    let count_c = (samples / 5).max(10);
    let tasks_c = new_tasks(&cx, count_c + 3).await?;
    let mut events = cx
        .nats
        .subscribe(format!("{}.events.*.stage_finished", cx.subjects.prefix()))
        .await?;
    let mut c = Vec::with_capacity(count_c);
    for (i, task) in tasks_c.iter().enumerate() {
        let t = Instant::now();
        send_plan(&cx, *task).await?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .context("no-op task did not finish within 30 s")?
                .context("event subscription closed")?;
            let ev = TaskEvent::decode(msg.payload)?;
            if ev.task_id == task.to_string() && ev.stage() == Stage::Deploy {
                break;
            }
        }
        if i >= 3 {
            c.push(t.elapsed());
        }
    }
    full_token.cancel();
    for s in stages {
        s.await??;
    }
    let c = stats(c);
    println!(
        "{:<42}{:>13}{:>13}{:>13}",
        "(c) no-op task through 6 stages",
        ms(c.p50),
        ms(c.p99),
        ms(c.mean)
    );

    let ratio = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64().max(1e-9);
    println!();
    println!(
        "b/a       = {:6.1}x at p50, {:6.1}x at p99",
        ratio(b.p50, a.p50),
        ratio(b.p99, a.p99)
    );
    println!(
        "c/(6 x a) = {:6.1}x at p50, {:6.1}x at p99",
        ratio(c.p50, a.p50 * 6),
        ratio(c.p99, a.p99 * 6)
    );
    shutdown.cancel();
    for s in cx.subjects.streams() {
        let _ = js.delete_stream(&s.name).await;
    }
    runtime.finish().await;
    Ok(ExitCode::SUCCESS)
}

async fn new_tasks(cx: &Arc<Ctx>, n: usize) -> anyhow::Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(n);
    let mut conn = cx.db.acquire().await?;
    for _ in 0..n {
        let id = Uuid::now_v7();
        tasks::insert_task(
            &mut conn,
            &NewTask {
                id,
                project: format!("bench-{}", &id.simple().to_string()[18..]),
                kind: "new_app".into(),
                template: "static-site".into(),
                brief: "benchmark".into(),
                options: serde_json::json!({}),
            },
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}

async fn send_plan(cx: &Ctx, task: Uuid) -> anyhow::Result<()> {
    let item = WorkItem {
        task_id: task.to_string(),
        stage: Stage::Plan as i32,
        ..Default::default()
    };
    let mut tx = cx.db.begin().await?;
    kiln_store::delivery::enqueue(&mut *tx, &cx.work_message(&item)).await?;
    tx.commit().await?;
    cx.wake_relay();
    Ok(())
}
