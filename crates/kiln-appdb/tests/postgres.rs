//! Postgres app databases against the real server (`KILN_TEST_DATABASE_URL`).

mod common;

use common::{chain, databases, pg_admin, with_apps};
use kiln_appdb::{DatabaseKind, Error};
use sqlx::{Connection, PgConnection, Row};

const KIND: DatabaseKind = DatabaseKind::Postgres;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notes (
    id bigserial PRIMARY KEY,
    body text NOT NULL
);
CREATE INDEX IF NOT EXISTS notes_body ON notes (body);
";

#[tokio::test]
async fn ensure_creates_a_database_the_app_owns_and_can_use() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let p = dbs.ensure(app, KIND, Some(SCHEMA)).await.expect("ensure");
        assert_eq!(p.database, p.user);
        assert!(p.database.starts_with("kiln_appdb_test_"), "{}", p.database);
        assert!(
            p.url.starts_with(&format!("postgres://{}:", p.user)),
            "url names the user"
        );
        assert!(
            p.url.ends_with(&format!("/{}", p.database)),
            "url names the database"
        );

        let mut conn = PgConnection::connect(&p.url)
            .await
            .expect("app connects with its URL");
        let who: String = sqlx::query_scalar("SELECT current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(who, p.user);
        sqlx::query("INSERT INTO notes (body) VALUES ($1)")
            .bind("hello")
            .execute(&mut conn)
            .await
            .unwrap();
        let body: String = sqlx::query_scalar("SELECT body FROM notes")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(body, "hello");
        let owner: String =
            sqlx::query_scalar("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(owner, p.user, "the app owns the tables its schema made");
        conn.close().await.unwrap();

        let mut admin = pg_admin().await;
        let row = sqlx::query(
            "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, r.rolcanlogin,
                    pg_get_userbyid(d.datdba) AS owner, r.rolpassword
             FROM pg_database d, pg_authid r WHERE d.datname = $1 AND r.rolname = $1",
        )
        .bind(&p.database)
        .fetch_one(&mut admin)
        .await
        .expect("database and role exist");
        assert!(
            !row.get::<bool, _>("rolsuper")
                && !row.get::<bool, _>("rolcreatedb")
                && !row.get::<bool, _>("rolcreaterole")
        );
        assert!(row.get::<bool, _>("rolcanlogin"));
        assert_eq!(
            row.get::<String, _>("owner"),
            p.user,
            "the app role owns its database"
        );
        let stored: String = row.get("rolpassword");
        assert!(
            stored.starts_with("SCRAM-SHA-256$4096:"),
            "a SCRAM verifier is stored"
        );
        let password = url::Url::parse(&p.url)
            .unwrap()
            .password()
            .unwrap()
            .to_owned();
        assert!(!stored.contains(&password), "never the password itself");
    })
    .await;
}

#[tokio::test]
async fn ensure_twice_is_idempotent_and_keeps_data() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let first = dbs
            .ensure(app, KIND, Some(SCHEMA))
            .await
            .expect("first ensure");
        let mut conn = PgConnection::connect(&first.url).await.unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('kept')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();

        let second = dbs
            .ensure(app, KIND, Some(SCHEMA))
            .await
            .expect("second ensure");
        assert_eq!(first, second, "same database, user and URL");
        let mut conn = PgConnection::connect(&second.url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM notes")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1, "data survives a redeploy");
    })
    .await;
}

#[tokio::test]
async fn the_url_is_stable_across_restarts_with_the_same_key_file() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let key_dir = tempfile::tempdir().unwrap();
        let before = databases(key_dir.path())
            .ensure(&apps[0], KIND, None)
            .await
            .unwrap();
        // A restarted deployer loads the same key file.
        let after = databases(key_dir.path())
            .ensure(&apps[0], KIND, None)
            .await
            .unwrap();
        assert_eq!(before.url, after.url);
        // Another key (another Kiln data dir) derives another password for the same app.
        let other = dbs.ensure(&apps[0], KIND, None).await.unwrap();
        assert_eq!(other.database, before.database);
        assert_ne!(other.url, before.url);
    })
    .await;
}

#[tokio::test]
async fn concurrent_ensures_of_one_app_all_succeed() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let calls = (0..4).map(|_| dbs.ensure(&apps[0], KIND, Some(SCHEMA)));
        let results = futures::future::join_all(calls).await;
        let urls: Vec<String> = results
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
    })
    .await;
}

#[tokio::test]
async fn apps_cannot_reach_each_others_databases() {
    with_apps(KIND, 2, |dbs, apps| async move {
        let a = dbs.ensure(&apps[0], KIND, Some(SCHEMA)).await.unwrap();
        let b = dbs.ensure(&apps[1], KIND, Some(SCHEMA)).await.unwrap();

        // pg_hba here trusts every login, so the privilege check is what isolates apps.
        let mut admin = pg_admin().await;
        for (who, whose) in [(&a, &b), (&b, &a)] {
            let can: bool = sqlx::query_scalar("SELECT has_database_privilege($1, $2, 'CONNECT')")
                .bind(&who.user)
                .bind(&whose.database)
                .fetch_one(&mut admin)
                .await
                .unwrap();
            assert!(!can, "{} may not connect to {}", who.user, whose.database);
        }
        let mut a_into_b = url::Url::parse(&a.url).unwrap();
        a_into_b.set_path(&b.database);
        let err = PgConnection::connect(a_into_b.as_str())
            .await
            .expect_err("A is refused B's database");
        assert!(err.to_string().contains("permission denied"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn drop_removes_database_and_role_and_is_repeatable() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let p = dbs.ensure(app, KIND, Some(SCHEMA)).await.unwrap();
        // The app is still connected when it is deleted.
        let mut live = PgConnection::connect(&p.url).await.unwrap();
        sqlx::query("SELECT 1").execute(&mut live).await.unwrap();

        dbs.drop(app, KIND).await.expect("drop");
        let mut admin = pg_admin().await;
        let left: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1)
                  + (SELECT count(*) FROM pg_roles WHERE rolname = $1)",
        )
        .bind(&p.database)
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert_eq!(left, 0, "database and role are gone");
        assert!(
            sqlx::query("SELECT 1").execute(&mut live).await.is_err(),
            "the app's session was ended"
        );

        dbs.drop(app, KIND).await.expect("dropping again succeeds");
    })
    .await;
}

#[tokio::test]
async fn a_bad_schema_names_the_app_and_line_and_applies_nothing() {
    with_apps(KIND, 1, |dbs, apps| async move {
        let app = &apps[0];
        let schema = "CREATE TABLE IF NOT EXISTS good (id int);\nINSERT INTO good VALUES (1);\nCREATE TABEL bad (id int);\n";
        let err = dbs.ensure(app, KIND, Some(schema)).await.expect_err("bad schema fails");
        let Error::Schema { app: ref failed, line, rolled_back, .. } = err else {
            panic!("expected a schema error, got {err:?}");
        };
        assert_eq!(failed, app);
        assert_eq!(line, Some(3));
        assert!(rolled_back);
        assert!(!err.is_retryable());
        let text = chain(&err);
        assert!(text.contains(app.as_str()) && text.contains("at line 3"), "{text}");
        assert!(text.contains("TABEL"), "the server's reason is in the chain: {text}");

        // The role and database exist (the next deploy fixes the schema); `good` does not.
        let p = dbs.ensure(app, KIND, None).await.unwrap();
        assert!(!text.contains(url::Url::parse(&p.url).unwrap().password().unwrap()), "no password in errors");
        let mut conn = PgConnection::connect(&p.url).await.unwrap();
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('good') IS NOT NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(!exists, "nothing of the failed schema was applied");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_error_naming_the_app() {
    let key_dir = tempfile::tempdir().unwrap();
    let config = kiln_appdb::Config {
        // A port nothing listens on: bound, then released.
        postgres_admin_url: Some(format!(
            "postgres://postgres:hunter2@127.0.0.1:{}/postgres",
            free_port()
        )),
        ..Default::default()
    };
    let key = kiln_appdb::SecretKey::load_or_create(&key_dir.path().join("k")).unwrap();
    let dbs =
        kiln_appdb::AppDatabases::new(&config, "postgres://postgres@127.0.0.1/kiln", key).unwrap();
    let err = dbs
        .ensure("shop", KIND, None)
        .await
        .expect_err("nothing listens");
    assert!(err.is_retryable(), "{err:?}");
    let text = chain(&err);
    assert!(
        text.contains("app shop") && text.contains("postgres server at 127.0.0.1:"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
