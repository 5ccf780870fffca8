//! Schemathesis against the live API, once per role: it generates requests from the OpenAPI
//! document and checks that the server never fails, answers only statuses the document lists
//! and that every response matches its schema and content type. `infra/scripts/test.sh`
//! installs it (`ensure_schemathesis`); set `KILN_SCHEMATHESIS` to use another one.

use std::path::PathBuf;

use kiln_store::auth::Role;

use crate::common::Api;

fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("KILN_SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let cached = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/kiln/tools/schemathesis/bin/st");
    if cached.exists() {
        return cached;
    }
    panic!(
        "schemathesis is not installed: run `bash infra/scripts/test.sh` (it installs it), or \
         `python3 -m venv ~/.cache/kiln/tools/schemathesis && \
         ~/.cache/kiln/tools/schemathesis/bin/pip install schemathesis`, or set KILN_SCHEMATHESIS"
    );
}

#[tokio::test]
async fn the_server_keeps_to_its_openapi_document_for_every_role() {
    let st = schemathesis();
    // Generated requests create tasks; a generous limit keeps 429 (documented) from hiding
    // every later POST.
    let api = Api::with_config(|c| c.tasks_per_minute = 10_000).await;
    let doc = api.env.data_path().join("openapi.json");
    std::fs::write(
        &doc,
        serde_json::to_vec(&kiln_api::openapi::document()).expect("document"),
    )
    .expect("write document");
    api.create("existing").await;
    // No deployer runs beside this API: one that cannot remove anything answers app removals
    // (a 409 the document lists) instead of the 503 of an installation without a deployer.
    let nats = async_nats::connect(&api.env.nats_url).await.expect("nats");
    let removals = nats
        .subscribe(api.env.subjects().app_remove())
        .await
        .expect("subscribe");
    // Likewise an indexer that knows no code answers search and indexing (a 409), and the
    // knowledge route then reports that nothing was scanned (a 404).
    let queries = nats
        .subscribe(api.env.subjects().rag_query())
        .await
        .expect("subscribe");
    let indexing = nats
        .subscribe(api.env.subjects().rag_index())
        .await
        .expect("subscribe");
    let responder = tokio::spawn(async move {
        use futures::StreamExt;
        let mut requests =
            futures::stream::select(removals, futures::stream::select(queries, indexing));
        while let Some(msg) = requests.next().await {
            if let Some(reply) = msg.reply {
                let body = serde_json::json!({"outcome": "failed", "reason": "a test stand-in does nothing"});
                let _ = nats.publish(reply, body.to_string().into()).await;
            }
        }
    });

    let mut failed = Vec::new();
    for role in Role::ALL {
        let secret = api.env.token(&format!("st-{role}"), role).await;
        let reports = api.env.data_path().join(format!("st-{role}"));
        let out = tokio::process::Command::new(&st)
            // Schemathesis keeps a cache in its working directory; keep it out of the tree.
            .current_dir(api.env.data_path())
            .arg("run")
            .arg(&doc)
            .args(["--url", &api.url("")])
            .args(["--header", &format!("Authorization: Bearer {secret}")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", "25", "--seed", "7", "--workers", "2"])
            .args(["--request-timeout", "20", "--no-color"])
            .args(["--generation-with-security-parameters", "false"])
            .args(["--generation-database", "none"])
            // The log stream answers only WebSocket upgrades, which schemathesis cannot make.
            .args(["--exclude-path", "/ws/logs"])
            .arg("--report-dir")
            .arg(&reports)
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .await
            .unwrap_or_else(|e| panic!("{} does not run: {e}", st.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let tail: String = stdout
            .lines()
            .rev()
            .take(200)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        if !out.status.success() {
            failed.push(format!(
                "schemathesis as {role} found problems:\n{tail}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!(
            "schemathesis as {role}: {}",
            stdout.lines().last().unwrap_or_default()
        );
    }
    responder.abort();
    api.stop().await;
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}
