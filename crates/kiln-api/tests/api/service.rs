//! `run`, as the binary calls it: serves until shutdown, then drains and returns.

use std::net::SocketAddr;
use std::time::Duration;

use kiln_testkit::TestEnv;
use tokio_util::sync::CancellationToken;

use crate::common::{task_body, telemetry};

#[tokio::test]
async fn run_serves_until_shutdown() {
    telemetry();
    let env = TestEnv::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = kiln_api::Config {
        http: SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let service = tokio::spawn(kiln_api::run(env.config(), config, shutdown.clone()));
    let base = format!("http://127.0.0.1:{port}");
    let http = TestEnv::client_with_token(&env.token("admin", kiln_store::auth::Role::Admin).await);
    TestEnv::eventually("api health", Duration::from_secs(20), || {
        let http = http.clone();
        let url = format!("{base}/health");
        async move {
            http.get(url)
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
        }
    })
    .await;
    let resp = http
        .post(format!("{base}/api/v1/tasks"))
        .json(&task_body("demo"))
        .send()
        .await
        .expect("answered");
    assert_eq!(resp.status(), 202);

    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(30), service)
        .await
        .expect("run returns after shutdown")
        .expect("run task did not panic");
    assert!(result.is_ok(), "{result:?}");
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&env.pool)
        .await
        .expect("count");
    assert_eq!(
        pending, 0,
        "the relay drained the outbox before run returned"
    );
    assert!(
        http.get(format!("{base}/health")).send().await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn run_refuses_a_broken_templates_dir() {
    let env = TestEnv::new().await;
    let mut base = env.config();
    base.runtime.templates_dir = Some(env.data_path().join("no-such-dir"));
    let result = kiln_api::run(base, kiln_api::Config::default(), CancellationToken::new()).await;
    assert!(
        matches!(result, Err(kiln_api::RunError::Templates(_))),
        "{result:?}"
    );
}
