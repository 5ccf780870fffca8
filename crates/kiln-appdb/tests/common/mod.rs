//! Shared setup: real Postgres and MariaDB servers, a unique app name per test, and cleanup
//! that runs even when the test body panics.

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use futures::FutureExt;
use kiln_appdb::{AppDatabases, Config, DatabaseKind, SecretKey};
use sqlx::{Connection, MySqlConnection, PgConnection};

pub fn postgres_url() -> String {
    std::env::var("KILN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn mysql_url() -> String {
    std::env::var("KILN_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A fresh app name, so tests run in parallel without meeting each other.
pub fn app_name() -> String {
    format!("appdb-test-{:08x}", rand::random::<u32>())
}

/// `AppDatabases` over the test servers, with its key file in `key_dir`.
pub fn databases(key_dir: &Path) -> AppDatabases {
    let key = SecretKey::load_or_create(&key_dir.join("secrets").join("appdb.key"))
        .expect("secret key file");
    let config = Config {
        postgres_admin_url: Some(postgres_url()),
        mysql_admin_url: Some(mysql_url()),
        app_host: None,
        namespace: Some("kiln_appdb_tests".into()),
    };
    AppDatabases::new(&config, &postgres_url(), key).expect("valid config")
}

pub async fn pg_admin() -> PgConnection {
    let url = postgres_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("Postgres is not answering at {url}: {e}; start it or set KILN_TEST_DATABASE_URL")
    })
}

pub async fn my_admin() -> MySqlConnection {
    let url = mysql_url();
    MySqlConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!("MariaDB/MySQL is not answering at {url}: {e}; start it or set KILN_TEST_MYSQL_URL")
    })
}

/// Runs `body` with `n` fresh app names, then drops their databases whether or not the
/// body panicked, and re-raises its panic.
pub async fn with_apps<F, Fut>(kind: DatabaseKind, n: usize, body: F)
where
    F: FnOnce(AppDatabases, Vec<String>) -> Fut,
    Fut: Future<Output = ()>,
{
    // Fail early and clearly when the server is down, rather than deep inside the body.
    match kind {
        DatabaseKind::Postgres => drop(pg_admin().await),
        DatabaseKind::Mysql => drop(my_admin().await),
    }
    let key_dir = tempfile::tempdir().unwrap();
    let dbs = databases(key_dir.path());
    let apps: Vec<String> = (0..n).map(|_| app_name()).collect();
    let outcome = AssertUnwindSafe(body(dbs.clone(), apps.clone()))
        .catch_unwind()
        .await;
    for app in &apps {
        dbs.drop(app, kind)
            .await
            .unwrap_or_else(|e| panic!("cleanup of app {app} failed: {e:?}"));
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The whole error chain, as the deployer would record it.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
