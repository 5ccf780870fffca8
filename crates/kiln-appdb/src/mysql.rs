//! MySQL/MariaDB app databases: a user per app with every privilege on its own database and
//! none anywhere else.

use sqlx::mysql::MySqlConnectOptions;
// Executor's methods, not `Query::execute`: see the note in `postgres.rs`.
use sqlx::{ConnectOptions, Connection, Executor, MySqlConnection, Row};

use crate::names::{literal, my_grant_db, my_ident};
use crate::{CONNECT_TIMEOUT, Error, LOCK_TIMEOUT, Target, server};

/// Host part of every app user: apps connect from wherever they run.
const USER_HOST: &str = "%";

/// Creates what is missing and applies `schema`, all under the app's lock: concurrent
/// `CREATE TABLE IF NOT EXISTS` of one table can otherwise fail on a duplicate key.
pub(crate) async fn ensure(
    admin: &MySqlConnectOptions,
    t: &Target,
    schema: Option<&str>,
) -> Result<(), Error> {
    let mut conn = connect(admin, &t.app).await?;
    lock(&mut conn, t).await?;
    let user = user(t);
    let password = literal(&t.password);
    let sql = format!(
        "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET utf8mb4",
        my_ident(&t.name)
    );
    exec(&mut conn, t, "create the app database", &sql).await?;
    // MySQL and MariaDB rewrite the password out of these statements in their own logs.
    let sql = format!("CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}");
    exec(&mut conn, t, "create the app user", &sql).await?;
    let sql = format!("ALTER USER {user} IDENTIFIED BY {password}");
    exec(&mut conn, t, "set the password of the app user", &sql).await?;
    let sql = format!(
        "GRANT ALL PRIVILEGES ON {}.* TO {user}",
        my_grant_db(&t.name)
    );
    exec(&mut conn, t, "grant the app user its database", &sql).await?;
    if let Some(schema) = schema {
        apply_schema(admin, t, schema).await?;
    }
    unlock(conn, t).await
}

/// Runs the schema as the app's user. MySQL commits DDL statement by statement, so a
/// failing schema keeps what ran before the failing statement.
async fn apply_schema(admin: &MySqlConnectOptions, t: &Target, schema: &str) -> Result<(), Error> {
    let options = admin
        .clone()
        .username(&t.name)
        .password(&t.password)
        .database(&t.name);
    let mut conn = connect(&options, &t.app).await?;
    let applied = conn.execute(schema).await;
    let _ = conn.close().await;
    applied.map(|_| ()).map_err(|source| Error::Schema {
        app: t.app.clone(),
        database: t.name.clone(),
        line: source
            .as_database_error()
            .and_then(|e| syntax_error_line(schema, e.message())),
        rolled_back: false,
        source,
    })
}

pub(crate) async fn drop(admin: &MySqlConnectOptions, t: &Target) -> Result<(), Error> {
    let mut conn = connect(admin, &t.app).await?;
    lock(&mut conn, t).await?;
    let sql = format!("DROP DATABASE IF EXISTS {}", my_ident(&t.name));
    exec(&mut conn, t, "drop the app database", &sql).await?;
    let sql = format!("DROP USER IF EXISTS {}", user(t));
    exec(&mut conn, t, "drop the app user", &sql).await?;
    unlock(conn, t).await
}

/// Line of the schema a syntax error is at. The server counts lines within the failing
/// statement only ("near '...' at line 1"), so the quoted text is looked up in the whole
/// schema instead; when it occurs more than once the line is unknown.
fn syntax_error_line(schema: &str, message: &str) -> Option<usize> {
    let near = message.split_once("near '")?.1.rsplit_once("' at line ")?.0;
    if near.is_empty() {
        return None;
    }
    let mut found = schema.match_indices(near);
    let (index, _) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(schema[..index].matches('\n').count() + 1)
}

fn user(t: &Target) -> String {
    format!("{}@{}", literal(&t.name), literal(USER_HOST))
}

async fn connect(options: &MySqlConnectOptions, app: &str) -> Result<MySqlConnection, Error> {
    let server = || server(options.get_host(), options.get_port());
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(source)) => Err(Error::Connect {
            app: app.to_owned(),
            kind: "mysql",
            server: server(),
            source,
        }),
        Err(_) => Err(Error::ConnectTimeout {
            app: app.to_owned(),
            kind: "mysql",
            server: server(),
        }),
    }
}

/// Serialises `ensure` and `drop` of one app across every Kiln process: a named lock held
/// by this connection, released by `unlock` or when the connection ends. The names are at
/// most 32 characters, within the 64 `GET_LOCK` allows.
async fn lock(conn: &mut MySqlConnection, t: &Target) -> Result<(), Error> {
    let query = sqlx::query("SELECT GET_LOCK(?, ?)")
        .bind(lock_name(t))
        .bind(LOCK_TIMEOUT.as_secs());
    let got: Option<i64> = conn
        .fetch_one(query)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|source| admin_error(t, "take the app's named lock", source))?;
    match got {
        Some(1) => Ok(()),
        _ => Err(Error::Busy { app: t.app.clone() }),
    }
}

async fn unlock(mut conn: MySqlConnection, t: &Target) -> Result<(), Error> {
    conn.execute(sqlx::query("SELECT RELEASE_LOCK(?)").bind(lock_name(t)))
        .await
        .map_err(|source| admin_error(t, "release the app's named lock", source))?;
    let _ = conn.close().await;
    Ok(())
}

fn lock_name(t: &Target) -> String {
    format!("kiln-appdb:{}", t.name)
}

async fn exec(
    conn: &mut MySqlConnection,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_line_finds_the_quoted_text_in_the_schema() {
        let schema = "CREATE TABLE a (id INT);\nCREATE TABEL b (id INT);\n";
        let message = "You have an error in your SQL syntax; check the manual that corresponds \
                       to your MariaDB server version for the right syntax to use near \
                       'TABEL b (id INT)' at line 1";
        assert_eq!(syntax_error_line(schema, message), Some(2));
        let twice = "CREATE TABEL b (id INT);\nCREATE TABEL b (id INT);";
        assert_eq!(syntax_error_line(twice, message), None, "ambiguous");
        assert_eq!(syntax_error_line(schema, "Table 'a' already exists"), None);
    }
}
