//! Typed, layered configuration: defaults < `kiln.toml` < `KILN_*` environment.
//!
//! Sections are separated by `__` in environment names (`KILN_RUNTIME__DATA_DIR`), and the two
//! connection strings also have the short forms `KILN_NATS_URL` and `KILN_DATABASE_URL`.
//! Only this module reads the environment; every other crate receives typed config.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A value that must never be printed: its `Debug` and `Display` are redacted.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is handed to the system that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Shared configuration of every service process.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub nats: NatsConfig,
    pub database: DatabaseConfig,
    pub runtime: RuntimeConfig,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// NATS server URL.
    pub url: String,
    /// Prefix of every subject and stream; tests and tenants use their own.
    pub prefix: String,
    /// User this service connects as (`kiln nats-config` names one per service,
    /// `<prefix>-<service>`); none connects without credentials.
    pub user: Option<String>,
    /// Password of `user`.
    pub password: Option<Secret>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".into(),
            prefix: kiln_contracts::Subjects::DEFAULT_PREFIX.into(),
            user: None,
            password: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Postgres URL; may hold a password, so it is a secret.
    pub url: Secret,
    /// Pool size of each process.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("postgres://postgres@127.0.0.1:5432/kiln"),
            max_connections: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Git repositories, scratch workspaces and deployed releases live here.
    pub data_dir: PathBuf,
    /// Health and metrics listener of services other than the API (port 0 picks one).
    pub http: SocketAddr,
    pub log_format: LogFormat,
    /// `tracing` filter directives, e.g. `info,kiln_runtime=debug`.
    pub log_filter: String,
    /// Work items one replica handles at once.
    pub concurrency: usize,
    /// Seconds a delivered work item may go without an ack or progress ack before redelivery.
    pub ack_wait_secs: u64,
    /// Deliveries of one work item before it is dead-lettered.
    pub max_deliver: i64,
    /// First retry delay; doubles with every delivery, capped at 60 s.
    pub retry_base_ms: u64,
    /// Seconds in-flight work may take to finish after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// Name of this replica in stage runs and logs; defaults to `<service>-<pid>@<host>`.
    pub worker_id: Option<String>,
    /// Extra stack templates (one folder each) that add to or replace the built-in ones.
    /// Short form: `KILN_TEMPLATES_DIR`.
    pub templates_dir: Option<PathBuf>,
    /// Dependency caches (npm, pip, cargo) shared by every task and fix round; defaults to
    /// `<data_dir>/cache`. Short form: `KILN_CACHE_DIR`.
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".kiln"),
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
            concurrency: 4,
            ack_wait_secs: 30,
            max_deliver: 5,
            retry_base_ms: 1000,
            shutdown_grace_secs: 20,
            worker_id: None,
            templates_dir: None,
            cache_dir: None,
        }
    }
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration")]
pub struct Error(#[from] Box<figment::Error>);

/// Maps `KILN_LLM_[FALLBACK_]<FIELD>` to `llm.primary.<field>` / `llm.fallback.<field>`.
fn llm_shortcut(key: &str) -> Option<String> {
    let upper = key.to_ascii_uppercase();
    let rest = upper.strip_prefix("KILN_LLM_")?;
    let (model, field) = match rest.strip_prefix("FALLBACK_") {
        Some(field) => ("fallback", field),
        None => ("primary", rest),
    };
    let field = match field {
        "PROVIDER" | "BASE_URL" | "MODEL" | "API_KEY" | "API_KEY_FILE" => {
            field.to_ascii_lowercase()
        }
        _ => return None,
    };
    Some(format!("llm.{model}.{field}"))
}

/// The merged configuration sources; each service extracts its own section.
#[derive(Debug, Clone)]
pub struct Loader {
    figment: Figment,
}

impl Loader {
    /// Reads `file` (when given; it must exist) and the `KILN_*` environment.
    pub fn new(file: Option<&Path>) -> Self {
        Self::with_env(file, Env::prefixed("KILN_"), Env::raw())
    }

    fn with_env(file: Option<&Path>, prefixed: Env, raw: Env) -> Self {
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        let shortcuts = [
            "nats_url",
            "database_url",
            "templates_dir",
            "cache_dir",
            "config",
        ];
        let figment = figment
            .merge(
                prefixed
                    .filter(move |k| {
                        let k = k.as_str();
                        let shortcut = shortcuts.iter().any(|s| k.eq_ignore_ascii_case(s));
                        // Only the short forms; `KILN_LLM__BUDGET__MAX_CALLS` is a section key.
                        let llm = llm_shortcut(&format!("KILN_{k}")).is_some();
                        !(shortcut || llm)
                    })
                    .split("__"),
            )
            // KILN_LLM_PROVIDER / _BASE_URL / _MODEL / _API_KEY (and _API_KEY_FILE) set the
            // primary model; KILN_LLM_FALLBACK_* the fallback.
            .merge(Env::raw().filter_map(|k| llm_shortcut(k.as_str()).map(Into::into)))
            .merge(
                raw.clone()
                    .only(&["KILN_NATS_URL"])
                    .map(|_| "nats.url".into()),
            )
            .merge(
                raw.clone()
                    .only(&["KILN_DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(
                raw.clone()
                    .only(&["KILN_TEMPLATES_DIR"])
                    .map(|_| "runtime.templates_dir".into()),
            )
            .merge(
                raw.only(&["KILN_CACHE_DIR"])
                    .map(|_| "runtime.cache_dir".into()),
            );
        Self { figment }
    }

    /// The shared sections (`nats`, `database`, `runtime`).
    pub fn base(&self) -> Result<Config, Error> {
        Ok(Config {
            nats: self.section("nats")?,
            database: self.section("database")?,
            runtime: self.section("runtime")?,
        })
    }

    /// One section, with defaults for every key it does not set.
    pub fn section<T: DeserializeOwned + Serialize + Default>(
        &self,
        name: &str,
    ) -> Result<T, Error> {
        Figment::from(Serialized::defaults(T::default()))
            .merge(Serialized::defaults(
                self.figment
                    .find_value(name)
                    .unwrap_or_else(|_| figment::value::Value::from(figment::value::Dict::new())),
            ))
            .extract()
            .map_err(|e| Error(Box::new(e)))
    }
}

#[cfg(test)]
// figment's Jail returns its large error type by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Section {
        http: String,
        limit: u32,
    }

    #[test]
    fn layers_defaults_then_file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "kiln.toml",
                "[nats]\nprefix = \"fromfile\"\n[runtime]\nconcurrency = 9\n[api]\nhttp = \"1.2.3.4:1\"\nlimit = 3\n",
            )?;
            jail.set_env("KILN_RUNTIME__CONCURRENCY", "2");
            jail.set_env("KILN_NATS_URL", "nats://elsewhere:4222");
            jail.set_env("KILN_DATABASE_URL", "postgres://u:hunter2@db/kiln");
            jail.set_env("KILN_NATS__USER", "kiln-codegen");
            jail.set_env("KILN_NATS__PASSWORD", "natspw42");
            jail.set_env("KILN_API__LIMIT", "7");
            jail.set_env("KILN_UNRELATED_SETTING", "ignored");
            let loader = Loader::new(Some(Path::new("kiln.toml")));
            let base = loader.base().expect("base config");
            assert_eq!(base.nats.prefix, "fromfile");
            assert_eq!(base.nats.url, "nats://elsewhere:4222");
            assert_eq!(base.runtime.concurrency, 2, "environment beats the file");
            assert_eq!(base.runtime.max_deliver, 5, "defaults fill the rest");
            assert_eq!(base.database.url.expose(), "postgres://u:hunter2@db/kiln");
            assert_eq!(base.nats.user.as_deref(), Some("kiln-codegen"));
            assert_eq!(
                base.nats.password.as_ref().map(Secret::expose),
                Some("natspw42")
            );
            let printed = format!("{base:?}");
            assert!(
                !printed.contains("hunter2") && !printed.contains("natspw42"),
                "secrets never print"
            );
            let api: Section = loader.section("api").expect("api section");
            assert_eq!(
                api,
                Section {
                    http: "1.2.3.4:1".into(),
                    limit: 7
                }
            );
            let missing: Section = loader.section("nothing").expect("missing section");
            assert_eq!(missing, Section::default());
            Ok(())
        });
    }

    #[test]
    fn llm_shortcuts_fill_primary_and_fallback() {
        assert_eq!(
            llm_shortcut("KILN_LLM_PROVIDER").as_deref(),
            Some("llm.primary.provider")
        );
        assert_eq!(
            llm_shortcut("KILN_LLM_FALLBACK_API_KEY").as_deref(),
            Some("llm.fallback.api_key")
        );
        assert_eq!(llm_shortcut("KILN_LLM_TEMPERATURE"), None);
        figment::Jail::expect_with(|jail| {
            jail.set_env("KILN_LLM_PROVIDER", "openai");
            jail.set_env("KILN_LLM_MODEL", "m1");
            jail.set_env("KILN_LLM_FALLBACK_BASE_URL", "http://fallback");
            jail.set_env("KILN_LLM__BUDGET__MAX_CALLS", "7");
            let llm: std::collections::BTreeMap<String, serde_json::Value> =
                Loader::new(None).section("llm").expect("llm section");
            assert_eq!(llm["primary"]["provider"], "openai");
            assert_eq!(llm["primary"]["model"], "m1");
            assert_eq!(llm["fallback"]["base_url"], "http://fallback");
            assert_eq!(llm["budget"]["max_calls"], 7, "section keys still work");
            Ok(())
        });
    }

    #[test]
    fn a_typo_in_a_section_is_an_error_naming_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KILN_RUNTIME__CONCURENCY", "2");
            let err = Loader::new(None).base().expect_err("typo accepted");
            let chain = format!("{:?}", err);
            assert!(chain.contains("concurency"), "{chain}");
            Ok(())
        });
    }
}
