//! Postgres app databases: a role per app that owns a database nobody else may connect to.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgErrorPosition};
// Executor's methods return boxed `Send` futures; `Query::execute` and `RawSql::execute` are
// generic `async fn`s whose futures the compiler cannot prove `Send` inside a spawned task.
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use crate::names::{literal, pg_ident};
use crate::{CONNECT_TIMEOUT, Error, LOCK_TIMEOUT, Target, line_of, server};

/// SCRAM iteration count, Postgres's own default.
const SCRAM_ITERATIONS: u32 = 4096;

/// Creates what is missing and applies `schema`, all under the app's lock: concurrent
/// `CREATE TABLE IF NOT EXISTS` of one table can otherwise fail on a duplicate key.
pub(crate) async fn ensure(
    admin: &PgConnectOptions,
    t: &Target,
    schema: Option<&str>,
) -> Result<(), Error> {
    let mut conn = connect(admin, &t.app).await?;
    lock(&mut conn, t).await?;
    let db = pg_ident(&t.name);
    // A verifier instead of the password: statement logs and pg_stat_activity never see it.
    let verifier = literal(&scram_verifier(&t.password, &rand::random::<[u8; 16]>()));

    let role_exists = exists(&mut conn, t, "SELECT 1 FROM pg_roles WHERE rolname = $1").await?;
    if role_exists {
        let sql = format!("ALTER ROLE {db} WITH LOGIN PASSWORD {verifier}");
        exec(&mut conn, t, "set the password of the app role", &sql).await?;
    } else {
        let sql = format!("CREATE ROLE {db} WITH LOGIN PASSWORD {verifier}");
        exec(&mut conn, t, "create the app role", &sql).await?;
    }
    let db_exists = exists(&mut conn, t, "SELECT 1 FROM pg_database WHERE datname = $1").await?;
    if !db_exists {
        let sql = format!("CREATE DATABASE {db} OWNER {db} ENCODING 'UTF8' TEMPLATE template0");
        exec(&mut conn, t, "create the app database", &sql).await?;
    }
    // Every deploy, so a database left in another state (restored, changed by hand) is
    // brought back: owned by the app, closed to every other role.
    exec(
        &mut conn,
        t,
        "set the owner of the app database",
        &format!("ALTER DATABASE {db} OWNER TO {db}"),
    )
    .await?;
    let revoke = format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC");
    exec(
        &mut conn,
        t,
        "revoke public access to the app database",
        &revoke,
    )
    .await?;
    if let Some(schema) = schema {
        apply_schema(admin, t, schema).await?;
    }
    unlock(conn, t).await
}

/// Runs the schema as the app's role, in one transaction.
async fn apply_schema(admin: &PgConnectOptions, t: &Target, schema: &str) -> Result<(), Error> {
    let options = admin
        .clone()
        .username(&t.name)
        .password(&t.password)
        .database(&t.name);
    let mut conn = connect(&options, &t.app).await?;
    let mut tx = conn
        .begin()
        .await
        .map_err(|source| admin_error(t, "begin the schema transaction", source))?;
    let timeout = format!("SET LOCAL lock_timeout = '{}s'", LOCK_TIMEOUT.as_secs());
    tx.execute(timeout.as_str())
        .await
        .map_err(|source| admin_error(t, "set the schema lock timeout", source))?;
    if let Err(source) = tx.execute(schema).await {
        let line = source
            .as_database_error()
            .and_then(|e| e.try_downcast_ref::<PgDatabaseError>())
            .and_then(|e| match e.position() {
                Some(PgErrorPosition::Original(position)) => Some(line_of(schema, position)),
                _ => None,
            });
        // Dropping the transaction rolls it back.
        return Err(Error::Schema {
            app: t.app.clone(),
            database: t.name.clone(),
            line,
            rolled_back: true,
            source,
        });
    }
    tx.commit().await.map_err(|source| Error::Schema {
        app: t.app.clone(),
        database: t.name.clone(),
        line: None,
        rolled_back: true,
        source,
    })?;
    let _ = conn.close().await;
    Ok(())
}

pub(crate) async fn drop(admin: &PgConnectOptions, t: &Target) -> Result<(), Error> {
    let mut conn = connect(admin, &t.app).await?;
    lock(&mut conn, t).await?;
    let db = pg_ident(&t.name);
    // FORCE ends the deleted app's remaining connections instead of failing on them.
    let sql = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
    exec(&mut conn, t, "drop the app database", &sql).await?;
    exec(
        &mut conn,
        t,
        "drop the app role",
        &format!("DROP ROLE IF EXISTS {db}"),
    )
    .await?;
    unlock(conn, t).await
}

async fn connect(options: &PgConnectOptions, app: &str) -> Result<PgConnection, Error> {
    let server = || server(options.get_host(), options.get_port());
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(source)) => Err(Error::Connect {
            app: app.to_owned(),
            kind: "postgres",
            server: server(),
            source,
        }),
        Err(_) => Err(Error::ConnectTimeout {
            app: app.to_owned(),
            kind: "postgres",
            server: server(),
        }),
    }
}

/// Serialises `ensure` and `drop` of one app across every Kiln process: a session advisory
/// lock keyed by the database name, released by `unlock` or when the connection ends.
async fn lock(conn: &mut PgConnection, t: &Target) -> Result<(), Error> {
    let timeout = format!("SET lock_timeout = '{}s'", LOCK_TIMEOUT.as_secs());
    exec(conn, t, "set the lock timeout", &timeout).await?;
    let locked = conn
        .execute(sqlx::query("SELECT pg_advisory_lock($1)").bind(lock_key(&t.name)))
        .await;
    match locked {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            Err(Error::Busy { app: t.app.clone() })
        }
        Err(source) => Err(admin_error(t, "take the app's advisory lock", source)),
    }
}

async fn unlock(mut conn: PgConnection, t: &Target) -> Result<(), Error> {
    conn.execute(sqlx::query("SELECT pg_advisory_unlock($1)").bind(lock_key(&t.name)))
        .await
        .map_err(|source| admin_error(t, "release the app's advisory lock", source))?;
    let _ = conn.close().await;
    Ok(())
}

fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("kiln-appdb:{name}"));
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

async fn exists(conn: &mut PgConnection, t: &Target, sql: &str) -> Result<bool, Error> {
    conn.fetch_optional(sqlx::query(sql).bind(&t.name))
        .await
        .map(|row| row.is_some())
        .map_err(|source| admin_error(t, "look up the app database and role", source))
}

async fn exec(
    conn: &mut PgConnection,
    t: &Target,
    operation: &'static str,
    sql: &str,
) -> Result<(), Error> {
    conn.execute(sql)
        .await
        .map(|_| ())
        .map_err(|source| admin_error(t, operation, source))
}

fn admin_error(t: &Target, operation: &'static str, source: sqlx::Error) -> Error {
    Error::Admin {
        app: t.app.clone(),
        database: t.name.clone(),
        operation,
        source,
    }
}

/// The SCRAM-SHA-256 verifier Postgres stores for `password` (RFC 5802 / RFC 7677), in the
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` form it accepts in
/// `PASSWORD '...'` as already encrypted. The passwords are ASCII hex, which SASLprep leaves
/// unchanged.
pub(crate) fn scram_verifier(password: &str, salt: &[u8]) -> String {
    scram_verifier_with(password, salt, SCRAM_ITERATIONS)
}

fn scram_verifier_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let salted = hi(password.as_bytes(), salt, iterations);
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = Sha256::digest(client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${iterations}:{}${}:{}",
        B64.encode(salt),
        B64.encode(stored_key),
        B64.encode(server_key)
    )
}

/// RFC 5802's `Hi`: PBKDF2-HMAC-SHA256 with a single output block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password, &first);
    let mut result = u;
    for _ in 1..iterations {
        u = hmac(password, &u);
        result.iter_mut().zip(u).for_each(|(r, x)| *r ^= x);
    }
    result
}

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hi() is PBKDF2-HMAC-SHA256 with one block: the published PBKDF2-HMAC-SHA256 test
    /// vectors for ("password", "salt") apply. The whole verifier is checked against a real
    /// server in the integration tests.
    #[test]
    fn hi_matches_pbkdf2_test_vectors() {
        assert_eq!(
            hex::encode(hi(b"password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex::encode(hi(b"password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
    }

    /// A verifier Postgres 15 stored for `PASSWORD 'pencil'`: ours, given the same salt,
    /// must be identical, or apps could not log in where passwords are checked.
    #[test]
    fn verifier_matches_one_postgres_made() {
        let from_postgres = "SCRAM-SHA-256$4096:u4ks/1xrrkXVR01aM5faOQ==$AfAaltScwzhWYTJ5uCxPt+v1BziDzPii2RrSvsacitA=:MpFTgKarfTNcE5Nt0NmdbAOrh1dWyy4nhDCcMgnDQfI=";
        let salt = B64.decode("u4ks/1xrrkXVR01aM5faOQ==").unwrap();
        assert_eq!(scram_verifier("pencil", &salt), from_postgres);
    }

    #[test]
    fn verifier_has_the_form_postgres_accepts() {
        let v = scram_verifier("abc", &[0; 16]);
        assert!(
            v.starts_with("SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$"),
            "{v}"
        );
        assert!(!v.contains("abc"));
    }
}
