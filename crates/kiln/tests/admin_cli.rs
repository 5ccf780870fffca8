//! `kiln token` and `kiln audit` against a real Postgres: the secret is printed once and only
//! its hash is stored, revocation holds, and `kiln audit verify` passes on an intact trail and
//! fails after a row is edited or removed by hand.

use std::process::Output;

use kiln_testkit::TestEnv;

async fn kiln(env: &TestEnv, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_kiln"))
        .args(args)
        .envs(env.env_vars())
        .output()
        .await
        .expect("kiln runs")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[tokio::test]
async fn tokens_are_created_listed_and_revoked_from_the_cli() {
    let env = TestEnv::new().await;
    let out = kiln(
        &env,
        &["token", "create", "--name", "ops", "--role", "approver"],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_owned();
    assert!(secret.starts_with("kiln_") && secret.len() > 40, "{secret}");
    let token = kiln_store::auth::authenticate(&env.pool, &secret)
        .await
        .expect("query")
        .expect("the printed secret authenticates");
    assert_eq!(token.role, kiln_store::auth::Role::Approver);

    let out = kiln(
        &env,
        &["token", "create", "--name", "ops", "--role", "viewer"],
    )
    .await;
    assert!(!out.status.success(), "a second live `ops` is refused");
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    let out = kiln(&env, &["token", "create", "--name", "x", "--role", "root"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("root"), "{}", text(&out.stderr));

    let out = kiln(&env, &["token", "list"]).await;
    let listing = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        listing.contains("ops") && listing.contains("approver"),
        "{listing}"
    );
    assert!(!listing.contains(&secret), "the list never shows a secret");

    let out = kiln(&env, &["token", "revoke", "ops"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        kiln_store::auth::authenticate(&env.pool, &secret)
            .await
            .expect("query")
            .is_none(),
        "a revoked token no longer authenticates"
    );
    let actions: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, source, action FROM audit_log ORDER BY id")
            .fetch_all(&env.pool)
            .await
            .expect("audit");
    assert_eq!(
        actions,
        [
            ("kiln-cli".into(), "cli".into(), "token.create".into()),
            ("kiln-cli".into(), "cli".into(), "token.revoke".into()),
        ]
    );
}

#[tokio::test]
async fn audit_verify_passes_then_fails_after_a_row_is_edited_or_removed() {
    let env = TestEnv::new().await;
    for name in ["a", "b", "c"] {
        let out = kiln(
            &env,
            &["token", "create", "--name", name, "--role", "viewer"],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let out = kiln(&env, &["audit", "verify"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("intact: 3 rows"), "{said}");
    let head = said.rsplit(' ').next().unwrap().trim().to_owned();

    // Removing the newest row keeps the chain consistent; only the recorded head shows it.
    sqlx::query("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
        .execute(&env.pool)
        .await
        .expect("delete newest");
    let out = kiln(&env, &["audit", "verify", "--expect-head", &head]).await;
    assert!(
        !out.status.success(),
        "a removed newest row is found with the head"
    );
    assert!(text(&out.stderr).contains("gone"), "{}", text(&out.stderr));

    sqlx::query("UPDATE audit_log SET target = 'z' WHERE id = (SELECT min(id) FROM audit_log)")
        .execute(&env.pool)
        .await
        .expect("edit by hand");
    let out = kiln(&env, &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("BROKEN"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn audit_verify_finds_a_row_removed_from_the_middle() {
    let env = TestEnv::new().await;
    for name in ["a", "b", "c"] {
        let out = kiln(
            &env,
            &["token", "create", "--name", name, "--role", "viewer"],
        )
        .await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    sqlx::query(
        "DELETE FROM audit_log WHERE id = (SELECT id FROM audit_log ORDER BY id OFFSET 1 LIMIT 1)",
    )
    .execute(&env.pool)
    .await
    .expect("delete a middle row");
    let out = kiln(&env, &["audit", "verify"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("BROKEN"),
        "{}",
        text(&out.stderr)
    );
}
