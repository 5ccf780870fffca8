//! Test support: every test gets its own Postgres database and NATS subject prefix, so
//! tests run in parallel against the real services without seeing each other.
//!
//! `KILN_TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and `KILN_TEST_NATS_URL` (default
//! `nats://127.0.0.1:4222`) point the tests at other servers.

pub mod fake_llm;
pub mod fakes;
#[cfg(feature = "qdrant")]
pub mod qdrant;
pub mod ssh_host;
pub mod stack;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_contracts::Subjects;
use kiln_runtime::{Config, Secret};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// Admin connection used to create and drop test databases.
pub fn admin_url() -> String {
    std::env::var("KILN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Dependency caches (npm, pip, cargo) shared by every test of this machine, as an installation
/// shares them across tasks: they are content-addressed and safe for concurrent use, and a cold
/// cache per test would turn every template test into a full download. `KILN_TEST_CACHE_DIR`
/// overrides the location.
pub fn shared_cache_dir() -> PathBuf {
    std::env::var_os("KILN_TEST_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("kiln-test-cache"))
}

pub fn nats_url() -> String {
    std::env::var("KILN_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// One test's isolated world: a fresh migrated database, a unique prefix, a data directory.
pub struct TestEnv {
    pub db_name: String,
    pub db_url: String,
    pub prefix: String,
    pub nats_url: String,
    pub pool: PgPool,
    pub data_dir: tempfile::TempDir,
}

impl TestEnv {
    pub async fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("kiln_test_{}", &id[..16]);
        let prefix = format!("t{}", &id[..12]);
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test postgres at {admin}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {db_name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let db_url = replace_db(&admin, &db_name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect(&db_url)
            .await
            .expect("connect to test database");
        kiln_store::MIGRATOR
            .run(&pool)
            .await
            .expect("migrations apply");
        Self {
            db_name,
            db_url,
            prefix,
            nats_url: nats_url(),
            pool,
            data_dir: tempfile::Builder::new()
                .prefix("kiln-test-")
                .tempdir()
                .expect("temp data dir"),
        }
    }

    /// A new API token with `role` in this environment's database; returns its secret.
    pub async fn token(&self, name: &str, role: kiln_store::auth::Role) -> String {
        kiln_store::auth::create_token(&self.pool, name, role, "test")
            .await
            .expect("create token")
            .unwrap_or_else(|| panic!("a live token named {name:?} exists already"))
            .1
    }

    /// An HTTP client that sends `Authorization: Bearer <secret>` on every request.
    pub fn client_with_token(secret: &str) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {secret}"))
            .expect("token is ASCII");
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .default_headers(headers)
            .build()
            .expect("http client")
    }

    pub fn subjects(&self) -> Subjects {
        Subjects::new(&self.prefix).expect("valid prefix")
    }

    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    /// Runtime config pointing at this environment, tuned for fast redelivery in tests.
    pub fn config(&self) -> Config {
        let mut c = Config::default();
        c.nats.url = self.nats_url.clone();
        c.nats.prefix = self.prefix.clone();
        c.database.url = Secret::new(self.db_url.clone());
        c.database.max_connections = 5;
        c.runtime.data_dir = self.data_dir.path().to_path_buf();
        c.runtime.cache_dir = Some(shared_cache_dir());
        c.runtime.ack_wait_secs = 3;
        c.runtime.max_deliver = 3;
        c.runtime.retry_base_ms = 100;
        c.runtime.shutdown_grace_secs = 5;
        c
    }

    /// Environment variables that give a spawned `kiln` process this environment.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        vec![
            ("KILN_NATS_URL".into(), self.nats_url.clone()),
            ("KILN_NATS__PREFIX".into(), self.prefix.clone()),
            ("KILN_DATABASE_URL".into(), self.db_url.clone()),
            ("KILN_DATABASE__MAX_CONNECTIONS".into(), "5".into()),
            (
                "KILN_RUNTIME__DATA_DIR".into(),
                self.data_dir.path().display().to_string(),
            ),
            (
                "KILN_RUNTIME__CACHE_DIR".into(),
                shared_cache_dir().display().to_string(),
            ),
            ("KILN_RUNTIME__ACK_WAIT_SECS".into(), "3".into()),
            ("KILN_RUNTIME__MAX_DELIVER".into(), "3".into()),
            ("KILN_RUNTIME__RETRY_BASE_MS".into(), "200".into()),
            ("KILN_RUNTIME__SHUTDOWN_GRACE_SECS".into(), "5".into()),
        ]
    }

    pub async fn jetstream(&self) -> async_nats::jetstream::Context {
        let client = async_nats::connect(&self.nats_url)
            .await
            .expect("connect to nats");
        async_nats::jetstream::new(client)
    }

    /// Polls `check` until it returns `Some`, failing the test with `what` after `timeout`.
    pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(v) = check().await {
                return v;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime; clean up on a thread with its own.
        let (db_name, prefix, nats) = (
            self.db_name.clone(),
            self.prefix.clone(),
            self.nats_url.clone(),
        );
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(rt) = rt else { return };
            rt.block_on(async move {
                if let Ok(client) = async_nats::connect(&nats).await {
                    let js = async_nats::jetstream::new(client);
                    if let Ok(subjects) = Subjects::new(&prefix) {
                        for s in subjects.streams() {
                            let _ = js.delete_stream(&s.name).await;
                        }
                    }
                }
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            })
        })
        .join();
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            super::replace_db("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
