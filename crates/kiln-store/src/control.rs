//! Control flags: the kill switch. A row `pause` in `control_flags` pauses everything; a row
//! `pause:<project>` pauses one project. Every service reads these before each side effect,
//! so a service that missed the pause broadcast still honours it.

use sqlx::{PgExecutor, Row};
use time::OffsetDateTime;

use crate::Result;

const GLOBAL: &str = "pause";
const PROJECT_PREFIX: &str = "pause:";

/// Why and by whom something was paused.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PauseFlag {
    pub reason: String,
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// Every pause in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseState {
    pub global: Option<PauseFlag>,
    /// Paused projects by name.
    pub projects: Vec<(String, PauseFlag)>,
}

impl PauseState {
    /// The pause that stops work on `project`, the global one first.
    pub fn for_project(&self, project: Option<&str>) -> Option<&PauseFlag> {
        self.global.as_ref().or_else(|| {
            project.and_then(|p| self.projects.iter().find(|(n, _)| n == p).map(|(_, f)| f))
        })
    }
}

fn flag_name(project: Option<&str>) -> String {
    match project {
        None => GLOBAL.to_owned(),
        Some(p) => format!("{PROJECT_PREFIX}{p}"),
    }
}

fn parse(value: serde_json::Value) -> Result<PauseFlag> {
    serde_json::from_value(value.clone()).map_err(|_| crate::Error::Corrupt {
        what: "pause flag",
        value: value.to_string(),
    })
}

/// Pauses everything (`None`) or one project; keeps the first reason when already paused.
/// True when this call paused it.
pub async fn pause<'e>(
    db: impl PgExecutor<'e>,
    project: Option<&str>,
    flag: &PauseFlag,
) -> Result<bool> {
    let value = serde_json::to_value(flag).expect("a pause flag serialises");
    let done = sqlx::query(
        "INSERT INTO control_flags (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(flag_name(project))
    .bind(value)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts a pause; the flag that was lifted, if there was one.
pub async fn resume<'e>(
    db: impl PgExecutor<'e>,
    project: Option<&str>,
) -> Result<Option<PauseFlag>> {
    let row = sqlx::query("DELETE FROM control_flags WHERE name = $1 RETURNING value")
        .bind(flag_name(project))
        .fetch_optional(db)
        .await?;
    row.map(|r| parse(r.try_get("value")?)).transpose()
}

/// Every pause in force.
pub async fn state<'e>(db: impl PgExecutor<'e>) -> Result<PauseState> {
    let rows = sqlx::query(
        "SELECT name, value FROM control_flags WHERE name = $1 OR starts_with(name, $2) ORDER BY name",
    )
    .bind(GLOBAL)
    .bind(PROJECT_PREFIX)
    .fetch_all(db)
    .await?;
    let mut out = PauseState::default();
    for r in rows {
        let name: String = r.try_get("name")?;
        let flag = parse(r.try_get("value")?)?;
        match name.strip_prefix(PROJECT_PREFIX) {
            Some(project) => out.projects.push((project.to_owned(), flag)),
            None => out.global = Some(flag),
        }
    }
    Ok(out)
}

/// The pause that stops work on `project` now (global first), read from the database.
pub async fn paused<'e>(
    db: impl PgExecutor<'e>,
    project: Option<&str>,
) -> Result<Option<PauseFlag>> {
    let row = sqlx::query(
        "SELECT value FROM control_flags WHERE name = $1 OR name = $2 ORDER BY name = $1 DESC LIMIT 1",
    )
    .bind(GLOBAL)
    .bind(flag_name(Some(project.unwrap_or(""))))
    .fetch_optional(db)
    .await?;
    row.map(|r| parse(r.try_get("value")?)).transpose()
}

/// Write guards: side effects that can be switched off on their own, globally or per
/// project, while the rest of Kiln keeps working. A row `guard:<name>` (everywhere) or
/// `guard:<name>:<project>` means the guard is off; what Kiln would have done is recorded
/// instead of done.
pub const GUARDS: &[&str] = &["github_writes", "auto_merge"];

fn guard_flag(guard: &str, project: Option<&str>) -> String {
    match project {
        None => format!("guard:{guard}"),
        Some(p) => format!("guard:{guard}:{p}"),
    }
}

/// Switches `guard` off (with who and why) or back on; true when that changed anything.
pub async fn set_guard<'e>(
    db: impl PgExecutor<'e>,
    guard: &str,
    project: Option<&str>,
    off: Option<&PauseFlag>,
) -> Result<bool> {
    let name = guard_flag(guard, project);
    let done = match off {
        Some(flag) => {
            let value = serde_json::to_value(flag).expect("a flag serialises");
            sqlx::query(
                "INSERT INTO control_flags (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(value)
            .execute(db)
            .await?
        }
        None => {
            sqlx::query("DELETE FROM control_flags WHERE name = $1")
                .bind(name)
                .execute(db)
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Why `guard` is off for `project` (the global switch first), or `None` when it is on.
pub async fn guard_off<'e>(
    db: impl PgExecutor<'e>,
    guard: &str,
    project: &str,
) -> Result<Option<PauseFlag>> {
    let row = sqlx::query(
        "SELECT value FROM control_flags WHERE name = $1 OR name = $2 ORDER BY name = $1 DESC LIMIT 1",
    )
    .bind(guard_flag(guard, None))
    .bind(guard_flag(guard, Some(project)))
    .fetch_optional(db)
    .await?;
    row.map(|r| parse(r.try_get("value")?)).transpose()
}

/// Every guard that is off: (guard, project or `None` for everywhere, why).
pub async fn guards_off<'e>(
    db: impl PgExecutor<'e>,
) -> Result<Vec<(String, Option<String>, PauseFlag)>> {
    let rows = sqlx::query(
        "SELECT name, value FROM control_flags WHERE starts_with(name, 'guard:') ORDER BY name",
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let name: String = r.try_get("name")?;
        let rest = name.trim_start_matches("guard:");
        let (guard, project) = match rest.split_once(':') {
            Some((g, p)) => (g.to_owned(), Some(p.to_owned())),
            None => (rest.to_owned(), None),
        };
        out.push((guard, project, parse(r.try_get("value")?)?));
    }
    Ok(out)
}
