//! MySQL/MariaDB app databases against the real server (`KILN_TEST_MYSQL_URL`). Unlike the
//! Postgres server here, MariaDB checks passwords, so these tests also prove the derived
//! password is the one set.

mod common;

use common::{chain, databases, my_admin, with_apps};
use kiln_appdb::{DatabaseKind, Error};
use sqlx::{Connection, MySqlConnection};

const KIND: DatabaseKind = DatabaseKind::Mysql;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notes (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (name VARCHAR(64) PRIMARY KEY);
";

#[tokio::test]
async fn ensure_creates_a_database_the_app_can_use() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let p = dbs
            .ensure(&apps[0], KIND, Some(SCHEMA))
            .await
            .expect("ensure");
        assert_eq!(p.database, p.user);
        assert!(
            p.url.starts_with(&format!("mysql://{}:", p.user)),
            "url names the user"
        );

        let mut conn = MySqlConnection::connect(&p.url)
            .await
            .expect("app logs in with its password");
        sqlx::query("INSERT INTO notes (body) VALUES (?)")
            .bind("hello")
            .execute(&mut conn)
            .await
            .unwrap();
        let body: String = sqlx::query_scalar("SELECT body FROM notes")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(body, "hello");
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(tables, 2, "both schema tables exist");
        // The app may change its own tables: it has every privilege on its database.
        sqlx::raw_sql("ALTER TABLE tags ADD COLUMN IF NOT EXISTS color TEXT; DROP TABLE tags;")
            .execute(&mut conn)
            .await
            .expect("the app owns its tables");
        let grants: Vec<String> = sqlx::query_scalar("SHOW GRANTS")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            grants.len(),
            2,
            "usage plus its own database only: {grants:?}"
        );
        assert!(
            grants
                .iter()
                .any(|g| g.contains(&format!("`{}`.*", p.database.replace('_', "\\_")))),
            "{grants:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn ensure_twice_is_idempotent_and_resets_the_password() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let first = dbs
            .ensure(app, KIND, Some(SCHEMA))
            .await
            .expect("first ensure");
        let mut conn = MySqlConnection::connect(&first.url).await.unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('kept')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();

        // Someone changes the password by hand; the next deploy sets the derived one again.
        let mut admin = my_admin().await;
        sqlx::raw_sql(&format!(
            "ALTER USER '{}'@'%' IDENTIFIED BY 'changed'",
            first.user
        ))
        .execute(&mut admin)
        .await
        .unwrap();
        assert!(
            MySqlConnection::connect(&first.url).await.is_err(),
            "the old password no longer works"
        );

        let second = dbs
            .ensure(app, KIND, Some(SCHEMA))
            .await
            .expect("second ensure");
        assert_eq!(first, second, "same database, user and URL");
        let mut conn = MySqlConnection::connect(&second.url)
            .await
            .expect("password set again");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1, "data survives a redeploy");
    })
    .await;
}

#[tokio::test]
async fn the_password_is_stable_across_restarts_with_the_same_key_file() {
    with_apps(KIND, 1, |_, apps| async move {
        let key_dir = tempfile::tempdir().unwrap();
        let before = databases(key_dir.path())
            .ensure(&apps[0], KIND, None)
            .await
            .unwrap();
        let after = databases(key_dir.path())
            .ensure(&apps[0], KIND, None)
            .await
            .unwrap();
        assert_eq!(before.url, after.url);
        MySqlConnection::connect(&before.url)
            .await
            .expect("the first URL still logs in");
    })
    .await;
}

#[tokio::test]
async fn concurrent_ensures_of_one_app_all_succeed() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let calls = (0..4).map(|_| dbs.ensure(&apps[0], KIND, Some(SCHEMA)));
        let urls: Vec<String> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|e| panic!("concurrent ensure failed: {}", chain(&e)))
                    .url
            })
            .collect();
        assert!(
            urls.windows(2).all(|w| w[0] == w[1]),
            "all got the same URL"
        );
        MySqlConnection::connect(&urls[0])
            .await
            .expect("the URL works");
    })
    .await;
}

#[tokio::test]
async fn apps_cannot_reach_each_others_databases() {
    with_apps(KIND, 2, |dbs, apps| async move {
        let a = dbs.ensure(&apps[0], KIND, Some(SCHEMA)).await.unwrap();
        let b = dbs.ensure(&apps[1], KIND, Some(SCHEMA)).await.unwrap();

        let mut a_into_b = url::Url::parse(&a.url).unwrap();
        a_into_b.set_path(&b.database);
        let err = MySqlConnection::connect(a_into_b.as_str())
            .await
            .expect_err("A is refused B's database");
        assert!(err.to_string().contains("Access denied"), "{err}");

        let mut conn = MySqlConnection::connect(&a.url).await.unwrap();
        let err = sqlx::query(&format!("SELECT * FROM `{}`.notes", b.database))
            .fetch_all(&mut conn)
            .await
            .expect_err("A cannot read B's tables");
        assert!(err.to_string().contains("denied"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn drop_removes_database_and_user_and_is_repeatable() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let p = dbs.ensure(app, KIND, Some(SCHEMA)).await.unwrap();
        dbs.drop(app, KIND).await.expect("drop");

        let mut admin = my_admin().await;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mysql.user WHERE user = ?")
            .bind(&p.user)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        let dbs_left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
        )
        .bind(&p.database)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert_eq!((users, dbs_left), (0, 0), "user and database are gone");
        assert!(
            MySqlConnection::connect(&p.url).await.is_err(),
            "the app can no longer log in"
        );

        dbs.drop(app, KIND).await.expect("dropping again succeeds");
    })
    .await;
}

#[tokio::test]
async fn a_bad_schema_names_the_app_and_the_server_reason() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let schema = "CREATE TABLE IF NOT EXISTS good (id INT);\nCREATE TABEL bad (id INT);\n";
        let err = dbs
            .ensure(app, KIND, Some(schema))
            .await
            .expect_err("bad schema fails");
        let Error::Schema {
            app: ref failed,
            rolled_back,
            ..
        } = err
        else {
            panic!("expected a schema error, got {err:?}");
        };
        assert_eq!(failed, app);
        assert!(
            !rolled_back,
            "MySQL DDL is not transactional, and the error says so"
        );
        assert!(!err.is_retryable());
        let text = chain(&err);
        assert!(
            text.contains(app.as_str()) && text.contains("at line 2"),
            "{text}"
        );
        let p = dbs.ensure(app, KIND, None).await.unwrap();
        assert!(
            !text.contains(url::Url::parse(&p.url).unwrap().password().unwrap()),
            "no password in errors"
        );
    })
    .await;
}
