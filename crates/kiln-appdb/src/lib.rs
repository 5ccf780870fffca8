//! One database per deployed app, so a template can declare `[database] kind = "postgres"`
//! or `"mysql"` and its app finds a ready database in `DATABASE_URL`.
//!
//! The deployer calls [`AppDatabases::ensure`] on every deploy (it creates what is missing,
//! resets the password and applies the app's schema) and [`AppDatabases::drop`] when the app
//! is deleted. Nothing is recorded in the lifecycle database:
//!
//! - **Names** derive from the app name and a namespace (by default the name of Kiln's own
//!   database, so two Kiln instances sharing a server never share app databases):
//!   `kiln_<app, up to 18 characters, '-' as '_'>_<8 hex of SHA-256(namespace, app)>`, at
//!   most 32 characters, the same for the database and its role or user. That fits
//!   Postgres identifiers (63 bytes) and MySQL user names (32 characters), stays readable in
//!   `\l` or `SHOW DATABASES`, and distinct apps differ in the hash even when their first 18
//!   characters agree.
//! - **Passwords** are HMAC-SHA256(secret key, `<kind>:<app>`) in hex: the same on every
//!   deploy and after restarts, never stored, and different for every app. The key is a file
//!   ([`SecretKey::load_or_create`]). Losing it is harmless: the next deploy of each app
//!   sets the password derived from the new key.
//! - **Ownership**: the schema runs over a connection made as the app's own role or user, so
//!   the app owns its tables and the schema (which comes from generated code) can do nothing
//!   the app could not.
//!
//! Passwords and URLs never reach logs or errors: statement logging is off on every
//! connection this crate opens, Postgres receives a SCRAM verifier instead of the password,
//! and [`Provisioned`] redacts its URL in `Debug`.

mod key;
mod mysql;
mod names;
mod postgres;

use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::ConnectOptions;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;

pub use key::SecretKey;
pub use kiln_templates::DatabaseKind;
pub use names::object_name;

/// App database settings (suggested section: `[deployer.databases]`).
#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Admin connection for Postgres app databases: a role that may create databases and
    /// roles. None = Kiln's own database server, database `postgres`, same credentials.
    pub postgres_admin_url: Option<String>,
    /// Admin connection for MySQL/MariaDB app databases: a user that may create databases
    /// and users and grant privileges (default `mysql://root@127.0.0.1:3306`).
    pub mysql_admin_url: Option<String>,
    /// Host name apps use to reach the database servers, put into `DATABASE_URL` (default:
    /// the admin URL's host). Set it when apps run where that host means something else,
    /// e.g. in containers.
    pub app_host: Option<String>,
    /// Distinguishes the app databases of Kiln instances sharing a server (default: the name
    /// of Kiln's own database). Changing it orphans existing app databases.
    pub namespace: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |url: &Option<String>| url.as_deref().map(redact_url);
        f.debug_struct("Config")
            .field("postgres_admin_url", &redact(&self.postgres_admin_url))
            .field("mysql_admin_url", &redact(&self.mysql_admin_url))
            .field("app_host", &self.app_host)
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// Default admin connection for MySQL/MariaDB app databases.
pub const DEFAULT_MYSQL_ADMIN_URL: &str = "mysql://root@127.0.0.1:3306";

/// How long connecting to a database server may take before the deploy is retried later.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How long `ensure` or `drop` waits for another call working on the same app.
const LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A provisioned app database.
#[derive(Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub database: String,
    pub user: String,
    /// `DATABASE_URL` for the app; it holds the password.
    pub url: String,
}

impl std::fmt::Debug for Provisioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provisioned")
            .field("database", &self.database)
            .field("user", &self.user)
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("app database config: {problem}")]
    Config { problem: String },

    #[error("invalid app name {app:?} for a database: {reason}")]
    InvalidApp { app: String, reason: &'static str },

    #[error("secret key file {}: {problem}", path.display())]
    Key {
        path: std::path::PathBuf,
        problem: String,
        #[source]
        source: Option<std::io::Error>,
    },

    #[error("could not connect to the {kind} server at {server} for app {app}")]
    Connect {
        app: String,
        kind: &'static str,
        server: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("timed out connecting to the {kind} server at {server} for app {app}")]
    ConnectTimeout {
        app: String,
        kind: &'static str,
        server: String,
    },

    #[error("another operation on the database of app {app} held its lock for {LOCK_TIMEOUT:?}")]
    Busy { app: String },

    #[error("failed to {operation} for app {app} (database {database})")]
    Admin {
        app: String,
        database: String,
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "schema of app {app} failed{} in database {database}; {}",
        line.map(|l| format!(" at line {l}")).unwrap_or_default(),
        if *rolled_back { "nothing of it was applied" } else { "statements before the failing one stay applied (MySQL DDL is not transactional)" }
    )]
    Schema {
        app: String,
        database: String,
        /// 1-based line of the schema file where the failing statement is, when known.
        line: Option<usize>,
        rolled_back: bool,
        #[source]
        source: sqlx::Error,
    },
}

impl Error {
    /// True when trying again later may succeed (a server down or busy); false when the
    /// configuration, the app name or the app's schema must change first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::ConnectTimeout { .. } | Error::Busy { .. } => true,
            Error::Admin { source, .. } => !matches!(source, sqlx::Error::Database(_)),
            Error::Config { .. } | Error::InvalidApp { .. } | Error::Key { .. } => false,
            Error::Schema { .. } => false,
        }
    }
}

/// Provisions and drops app databases. Cheap to clone; opens connections only when used.
#[derive(Clone)]
pub struct AppDatabases {
    postgres_admin: PgConnectOptions,
    mysql_admin: MySqlConnectOptions,
    app_host: Option<String>,
    namespace: String,
    secret: SecretKey,
}

/// Only the servers and the namespace: sqlx's own `Debug` of connect options shows passwords.
impl std::fmt::Debug for AppDatabases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pg = &self.postgres_admin;
        let my = &self.mysql_admin;
        f.debug_struct("AppDatabases")
            .field("postgres", &server(pg.get_host(), pg.get_port()))
            .field("mysql", &server(my.get_host(), my.get_port()))
            .field("app_host", &self.app_host)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl AppDatabases {
    /// Checks the configuration; connects to nothing yet, so a deployer whose apps use only
    /// one kind of database never needs the other server.
    pub fn new(config: &Config, kiln_database_url: &str, secret: SecretKey) -> Result<Self, Error> {
        let kiln = PgConnectOptions::from_str(kiln_database_url).map_err(|_| Error::Config {
            problem: "the Kiln database URL is not a valid Postgres URL".into(),
        })?;
        let postgres_admin = match &config.postgres_admin_url {
            Some(url) => PgConnectOptions::from_str(url).map_err(|_| Error::Config {
                problem: "postgres_admin_url is not a valid Postgres URL".into(),
            })?,
            None => kiln.clone().database("postgres"),
        };
        let mysql_url = config
            .mysql_admin_url
            .as_deref()
            .unwrap_or(DEFAULT_MYSQL_ADMIN_URL);
        let mysql_admin = MySqlConnectOptions::from_str(mysql_url).map_err(|_| Error::Config {
            problem: "mysql_admin_url is not a valid MySQL URL".into(),
        })?;
        if let Some(host) = &config.app_host {
            url::Host::parse(&bracketed(host)).map_err(|_| Error::Config {
                problem: format!("app_host {host:?} is not a host name or IP address"),
            })?;
        }
        let namespace = match &config.namespace {
            Some(ns) => ns.clone(),
            None => kiln
                .get_database()
                .unwrap_or(kiln.get_username())
                .to_owned(),
        };
        Ok(Self {
            postgres_admin: postgres_admin
                .application_name("kiln-appdb")
                .disable_statement_logging(),
            mysql_admin: mysql_admin.disable_statement_logging(),
            app_host: config.app_host.clone(),
            namespace,
            secret,
        })
    }

    /// Makes the app's database ready: creates the database and its role/user when missing,
    /// (re)sets the password, applies `schema_sql` as the app, and returns `DATABASE_URL`.
    ///
    /// Idempotent and safe to call concurrently for the same app (calls are serialised by a
    /// server-side lock). The schema runs on every call, so it must be idempotent itself.
    /// On Postgres it runs in one transaction: a failing schema leaves nothing of itself.
    #[tracing::instrument(skip_all, fields(app = %app, kind = kind.as_str()))]
    pub async fn ensure(
        &self,
        app: &str,
        kind: DatabaseKind,
        schema_sql: Option<&str>,
    ) -> Result<Provisioned, Error> {
        names::check_app(app)?;
        let target = self.target(app, kind);
        let schema_sql = schema_sql.filter(|s| !s.trim().is_empty());
        match kind {
            DatabaseKind::Postgres => {
                postgres::ensure(&self.postgres_admin, &target, schema_sql).await?
            }
            DatabaseKind::Mysql => mysql::ensure(&self.mysql_admin, &target, schema_sql).await?,
        }
        tracing::info!(database = %target.name, "app database ready");
        Ok(Provisioned {
            url: self.url(&target, kind),
            database: target.name.clone(),
            user: target.name,
        })
    }

    /// Drops the app's database and its role/user. Succeeds when they do not exist. Open
    /// connections of the app are ended (Postgres) or left to fail on their next statement.
    #[tracing::instrument(skip_all, fields(app = %app, kind = kind.as_str()))]
    pub async fn drop(&self, app: &str, kind: DatabaseKind) -> Result<(), Error> {
        names::check_app(app)?;
        let target = self.target(app, kind);
        match kind {
            DatabaseKind::Postgres => postgres::drop(&self.postgres_admin, &target).await?,
            DatabaseKind::Mysql => mysql::drop(&self.mysql_admin, &target).await?,
        }
        tracing::info!(database = %target.name, "app database dropped");
        Ok(())
    }

    fn target(&self, app: &str, kind: DatabaseKind) -> Target {
        let mac = self
            .secret
            .mac(format!("{}:{app}", kind.as_str()).as_bytes());
        Target {
            app: app.to_owned(),
            name: object_name(&self.namespace, app),
            password: hex::encode(mac),
        }
    }

    fn url(&self, target: &Target, kind: DatabaseKind) -> String {
        let (scheme, admin_host, port) = match kind {
            DatabaseKind::Postgres => (
                "postgres",
                self.postgres_admin.get_host(),
                self.postgres_admin.get_port(),
            ),
            DatabaseKind::Mysql => (
                "mysql",
                self.mysql_admin.get_host(),
                self.mysql_admin.get_port(),
            ),
        };
        let host = bracketed(self.app_host.as_deref().unwrap_or(admin_host));
        // Name and password are [a-z0-9_] and hex: nothing to percent-encode.
        format!(
            "{scheme}://{user}:{password}@{host}:{port}/{db}",
            user = target.name,
            password = target.password,
            db = target.name,
        )
    }
}

/// One app's database, role/user and password.
pub(crate) struct Target {
    pub app: String,
    /// Name of the database and of its role/user.
    pub name: String,
    pub password: String,
}

/// `scheme://user:[redacted]@host/...`, or a placeholder when `url` does not parse: a URL
/// that cannot be parsed cannot be shown safely either.
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("redacted"));
            }
            parsed.to_string()
        }
        Err(_) => "[unparseable url, redacted]".into(),
    }
}

/// An IPv6 address in brackets, as URLs write it; other hosts unchanged.
fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `host:port` of a server, for errors.
fn server(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

/// 1-based line of the character at 1-based `position` in `text`.
fn line_of(text: &str, position: usize) -> usize {
    text.chars()
        .take(position.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count()
        + 1
}

/// The deployer runs these futures on spawned tasks: they must stay `Send` for any lifetime.
#[allow(dead_code)]
fn futures_are_send(dbs: AppDatabases) {
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    let d = dbs.clone();
    spawnable(async move { d.ensure("a", DatabaseKind::Postgres, Some("x")).await });
    let d = dbs.clone();
    spawnable(async move { d.ensure("a", DatabaseKind::Mysql, Some("x")).await });
    let d = dbs.clone();
    spawnable(async move { d.drop("a", DatabaseKind::Postgres).await });
    spawnable(async move { dbs.drop("a", DatabaseKind::Mysql).await });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn databases(config: &Config) -> AppDatabases {
        AppDatabases::new(
            config,
            "postgres://kiln:pw@db.internal:5433/kiln",
            SecretKey::from_bytes([1; 32]),
        )
        .unwrap()
    }

    #[test]
    fn postgres_admin_defaults_to_the_kiln_server() {
        let dbs = databases(&Config::default());
        assert_eq!(dbs.postgres_admin.get_host(), "db.internal");
        assert_eq!(dbs.postgres_admin.get_port(), 5433);
        assert_eq!(dbs.postgres_admin.get_username(), "kiln");
        assert_eq!(dbs.postgres_admin.get_database(), Some("postgres"));
        assert_eq!(dbs.namespace, "kiln");
    }

    #[test]
    fn url_uses_app_host_and_admin_port() {
        let dbs = databases(&Config {
            app_host: Some("10.0.0.2".into()),
            ..Config::default()
        });
        let target = dbs.target("shop", DatabaseKind::Mysql);
        let url = dbs.url(&target, DatabaseKind::Mysql);
        assert_eq!(
            url,
            format!(
                "mysql://{0}:{1}@10.0.0.2:3306/{0}",
                target.name, target.password
            )
        );
        let url = dbs.url(&target, DatabaseKind::Postgres);
        assert!(
            url.starts_with(&format!("postgres://{}:", target.name)),
            "{url}"
        );
        assert!(url.contains("@10.0.0.2:5433/"), "{url}");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let dbs = databases(&Config {
            app_host: Some("::1".into()),
            ..Config::default()
        });
        let target = dbs.target("shop", DatabaseKind::Postgres);
        let url = dbs.url(&target, DatabaseKind::Postgres);
        assert!(url.contains("@[::1]:5433/"), "{url}");
        url::Url::parse(&url).expect("a valid URL");
    }

    #[test]
    fn passwords_are_stable_and_differ_per_app_kind_and_key() {
        let dbs = databases(&Config::default());
        let a = dbs.target("shop", DatabaseKind::Postgres).password;
        assert_eq!(a, dbs.target("shop", DatabaseKind::Postgres).password);
        assert_eq!(a.len(), 64);
        assert_ne!(a, dbs.target("shop", DatabaseKind::Mysql).password);
        assert_ne!(a, dbs.target("shop2", DatabaseKind::Postgres).password);
        let other_key = AppDatabases {
            secret: SecretKey::from_bytes([2; 32]),
            ..dbs.clone()
        };
        assert_ne!(a, other_key.target("shop", DatabaseKind::Postgres).password);
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let config = Config {
            postgres_admin_url: Some("postgres://admin:hunter2@h/postgres".into()),
            mysql_admin_url: Some("mysql://root:hunter2@h".into()),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        let dbs = databases(&config);
        let target = dbs.target("shop", DatabaseKind::Postgres);
        let provisioned = Provisioned {
            database: target.name.clone(),
            user: target.name.clone(),
            url: dbs.url(&target, DatabaseKind::Postgres),
        };
        let shown = format!("{provisioned:?} {dbs:?}");
        assert!(!shown.contains(&target.password), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains(&target.name), "{shown}");
    }

    #[test]
    fn bad_config_is_refused_without_echoing_urls() {
        let key = SecretKey::from_bytes([1; 32]);
        let config = Config {
            mysql_admin_url: Some("nonsense://root:hunter2@".into()),
            ..Config::default()
        };
        let err = AppDatabases::new(&config, "postgres://u@h/kiln", key.clone()).unwrap_err();
        assert!(err.to_string().contains("mysql_admin_url"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let config = Config {
            app_host: Some("a b".into()),
            ..Config::default()
        };
        assert!(AppDatabases::new(&config, "postgres://u@h/kiln", key).is_err());
    }

    #[test]
    fn line_of_counts_newlines_before_the_position() {
        let text = "create table a (x int);\ncreate tabel b;\n";
        assert_eq!(line_of(text, 1), 1);
        assert_eq!(line_of(text, 25), 2);
        assert_eq!(line_of(text, 30), 2);
    }
}
