//! `GET /api/v1/system`: replicas from heartbeats, queue figures from the stage consumers,
//! dead letters from the DLQ stream.

use std::time::Duration;

use async_nats::jetstream;
use kiln_contracts::{DeadLetter, Stage, StageName};
use kiln_testkit::TestEnv;
use prost::Message;
use serde_json::{Value, json};

use crate::common::Api;

fn replica<'v>(system: &'v Value, service: &str, worker: &str) -> Option<&'v Value> {
    system["services"]
        .as_array()?
        .iter()
        .find(|s| s["service"] == service)?["replicas"]
        .as_array()?
        .iter()
        .find(|r| r["worker"] == worker)
}

async fn system(api: &Api) -> Value {
    let resp = api.get("/api/v1/system").await;
    assert_eq!(resp.status(), 200);
    resp.json().await.expect("system json")
}

#[tokio::test]
async fn replicas_are_alive_while_they_beat() {
    let api = Api::start().await;
    let nats = async_nats::connect(&api.env.nats_url).await.expect("nats");
    let subject = api.env.subjects().heartbeat("codegen");
    let beat = json!({
        "service": "codegen",
        "worker": "codegen.7",
        "started_at": "2026-01-01T00:00:00Z",
        "beat_secs": 1,
    });

    let first = system(&api).await;
    let services: Vec<&str> = first["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    for known in ["api", "codegen", "deployer", "indexer", "planner", "tester"] {
        assert!(
            services.contains(&known),
            "{known} missing from {services:?}"
        );
    }

    let seen = TestEnv::eventually("the beat to be recorded", Duration::from_secs(10), || {
        let nats = nats.clone();
        let subject = subject.clone();
        let payload = beat.to_string();
        let api = &api;
        async move {
            nats.publish(subject, payload.into()).await.ok()?;
            nats.flush().await.ok()?;
            let s = system(api).await;
            replica(&s, "codegen", "codegen.7").cloned()
        }
    })
    .await;
    assert_eq!(seen["alive"], true, "{seen}");
    assert_eq!(seen["started_at"], "2026-01-01T00:00:00Z");
    assert!(seen["last_seen"].is_string(), "{seen}");

    // Three missed one-second beats later it is dead, and still listed.
    let dead = TestEnv::eventually(
        "the replica to count as dead",
        Duration::from_secs(10),
        || {
            let api = &api;
            async move {
                let s = system(api).await;
                replica(&s, "codegen", "codegen.7")
                    .filter(|r| r["alive"] == false)
                    .cloned()
            }
        },
    )
    .await;
    assert_eq!(dead["worker"], "codegen.7");
    api.stop().await;
}

#[tokio::test]
async fn queue_depth_per_stage_and_dead_letters() {
    let api = Api::start().await;
    let subjects = api.env.subjects();
    let js = api.env.jetstream().await;
    let work = js
        .get_stream(subjects.work_stream().name)
        .await
        .expect("work stream");
    work.create_consumer(jetstream::consumer::pull::Config {
        durable_name: Some("plan".into()),
        filter_subject: subjects.work(Stage::Plan),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ..Default::default()
    })
    .await
    .expect("plan consumer");
    for n in 0..2 {
        js.publish(subjects.work(Stage::Plan), format!("item {n}").into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }
    for n in 0..22u64 {
        let letter = DeadLetter {
            stage: Stage::Test as i32,
            subject: subjects.work(Stage::Test),
            payload: Vec::new(),
            reason: format!("boom {n}"),
            deliveries: 5,
            task_id: format!("task-{n}"),
            message_id: format!("m{n}"),
        };
        js.publish(subjects.dlq(Stage::Test), letter.encode_to_vec().into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }

    let s = system(&api).await;
    let stages: Vec<&str> = s["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["stage"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = Stage::all().iter().map(|st| st.name()).collect();
    expected.push("index");
    assert_eq!(stages, expected);
    let plan = &s["stages"][0];
    assert_eq!(plan["consumer"], "plan");
    assert_eq!(plan["pending"], 2, "{plan}");
    assert_eq!(plan["ack_pending"], 0, "{plan}");
    assert_eq!(plan["redelivered"], 0, "{plan}");
    let codegen = &s["stages"][1];
    assert_eq!(
        codegen["pending"],
        Value::Null,
        "no consumer yet: {codegen}"
    );

    let dl = &s["dead_letters"];
    assert_eq!(dl["count"], 22, "{dl}");
    let recent = dl["recent"].as_array().expect("recent");
    assert_eq!(recent.len(), 20);
    assert_eq!(recent[0]["reason"], "boom 21", "newest first");
    assert_eq!(recent[19]["reason"], "boom 2");
    assert_eq!(recent[0]["stage"], "test");
    assert_eq!(recent[0]["task_id"], "task-21");
    assert_eq!(recent[0]["deliveries"], 5);
    assert!(recent[0]["time"].is_string());
    api.stop().await;
}
