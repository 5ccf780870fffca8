//! `kiln token ...` and `kiln audit ...`: the installation's operator manages API tokens and
//! checks the audit trail straight against the database, so the first admin token can be made
//! before anyone can call the API, and a tampered trail is found without trusting the API.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use kiln_runtime::config::Loader;
use kiln_store::audit::{self, Entry, source};
use kiln_store::auth::{self, Role};

/// The actor the audit trail names for changes made with the CLI.
const ACTOR: &str = "kiln-cli";

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown this once; Kiln keeps only its hash).
    Create {
        /// 1 to 64 characters: letters, digits, `-`, `_`, `.`, `@`, `:`.
        #[arg(long)]
        name: String,
        /// viewer, operator, approver or admin.
        #[arg(long)]
        role: Role,
    },
    /// List tokens (never their secrets).
    List {
        /// Include revoked tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revoke a token by name or id; its dashboard sessions end with it.
    Revoke { token: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain: every row must hash to what it records and link to the row
    /// before it. Exits 1 when a row was changed or removed.
    Verify {
        /// The head hash printed by an earlier verify: also detects removal of the newest rows.
        #[arg(long)]
        expect_head: Option<String>,
    },
    /// Print the newest entries.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only actions starting with this (`task.`, `system.pause`, ...).
        #[arg(long)]
        action: Option<String>,
    },
}

/// The database to work on: `KILN_DATABASE_URL` or the config file when either names one,
/// otherwise the installation `kiln up` runs from `data_dir` (it leaves its URL there),
/// otherwise the default.
async fn connect(config: Option<&Path>, data_dir: &Path) -> anyhow::Result<sqlx::PgPool> {
    let base = Loader::new(config)
        .base()
        .context("loading configuration")?;
    let configured = config.is_some() || std::env::var_os("KILN_DATABASE_URL").is_some();
    let left_by_up = data_dir.join(crate::up::DATABASE_URL_FILE);
    let url = match std::fs::read_to_string(&left_by_up) {
        Ok(url) if !configured && !url.trim().is_empty() => url.trim().to_owned(),
        _ => base.database.url.expose().to_owned(),
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .context("connecting to postgres")?;
    kiln_store::MIGRATOR
        .run(&pool)
        .await
        .context("applying migrations")?;
    Ok(pool)
}

pub async fn token(
    config: Option<&Path>,
    data_dir: &Path,
    command: TokenCommand,
) -> anyhow::Result<ExitCode> {
    let pool = connect(config, data_dir).await?;
    match command {
        TokenCommand::Create { name, role } => {
            if !auth::valid_name(&name) {
                bail!(
                    "token name {name:?}: use 1 to 64 letters, digits, `-`, `_`, `.`, `@` or `:`"
                );
            }
            let mut tx = pool.begin().await?;
            let Some((token, secret)) = auth::create_token(&mut *tx, &name, role, ACTOR).await?
            else {
                bail!("a live token named {name:?} exists; revoke it first or pick another name");
            };
            audit::append(
                &mut *tx,
                &Entry::new(ACTOR, source::CLI, "token.create", &token.name)
                    .detail(serde_json::json!({ "role": role.as_str(), "id": token.id })),
            )
            .await?;
            tx.commit().await?;
            eprintln!(
                "created {role} token {:?} ({}); its secret follows and is not shown again:",
                token.name, token.id
            );
            println!("{secret}");
        }
        TokenCommand::List { all } => {
            let tokens = auth::list_tokens(&pool, all).await?;
            println!(
                "{:<36}  {:<24}  {:<8}  {:<12}  {:<20}  STATE",
                "ID", "NAME", "ROLE", "HINT", "LAST USED"
            );
            for t in tokens {
                let last = t
                    .last_used_at
                    .map(|at| at.date().to_string())
                    .unwrap_or_else(|| "never".into());
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "live"
                };
                println!(
                    "{:<36}  {:<24}  {:<8}  {:<12}  {:<20}  {state}",
                    t.id,
                    t.name,
                    t.role.as_str(),
                    t.hint,
                    last
                );
            }
        }
        TokenCommand::Revoke { token } => {
            let mut tx = pool.begin().await?;
            let Some(revoked) = auth::revoke_token(&mut tx, &token).await? else {
                bail!("no live token named or with id {token:?}");
            };
            audit::append(
                &mut *tx,
                &Entry::new(ACTOR, source::CLI, "token.revoke", &revoked.name)
                    .detail(serde_json::json!({ "id": revoked.id })),
            )
            .await?;
            tx.commit().await?;
            println!("revoked {:?} ({})", revoked.name, revoked.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn audit(
    config: Option<&Path>,
    data_dir: &Path,
    command: AuditCommand,
) -> anyhow::Result<ExitCode> {
    let pool = connect(config, data_dir).await?;
    match command {
        AuditCommand::Verify { expect_head } => {
            let mut conn = pool.acquire().await?;
            let v = audit::verify(&mut conn).await?;
            if let Some((id, why)) = v.broken {
                eprintln!(
                    "audit trail BROKEN at row {id}: {why} ({} rows checked)",
                    v.rows
                );
                return Ok(ExitCode::FAILURE);
            }
            if let Some(expected) = expect_head {
                let found: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM audit_log WHERE encode(hash, 'hex') = $1)",
                )
                .bind(expected.to_ascii_lowercase())
                .fetch_one(&mut *conn)
                .await?;
                if !found {
                    eprintln!(
                        "audit trail BROKEN: the head {expected} recorded earlier is gone \
                         (rows were removed from the end)"
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
            println!(
                "audit trail intact: {} rows, head {}",
                v.rows,
                v.head.as_deref().unwrap_or("(empty)")
            );
        }
        AuditCommand::List { limit, action } => {
            let filter = audit::Filter {
                action,
                limit: limit.clamp(1, 1000),
                ..Default::default()
            };
            let (rows, _) = audit::list(&pool, &filter).await?;
            for r in rows {
                println!(
                    "{:>6}  {}  {:<10} {:<20} {:<24} {}{}",
                    r.id,
                    r.at.format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    r.source,
                    r.actor,
                    r.action,
                    r.target,
                    r.reason
                        .as_deref()
                        .map(|x| format!("  ({x})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
