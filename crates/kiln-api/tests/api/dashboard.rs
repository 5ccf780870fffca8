//! The dashboard served at `/`: its entry for every app route with a base that leads back to
//! the root, hashed assets cached for good, and API paths keeping their routes and problems.

use std::path::Path;

use serde_json::Value;

use crate::common::{Api, assert_problem};

const INDEX: &str = "<!doctype html><html><head><base href=\"/\" /><script type=\"module\" \
                     src=\"./assets/index-3f2a1b.js\"></script></head><body><div id=\"root\"></div></body></html>";

fn build(dir: &Path) {
    std::fs::create_dir_all(dir.join("assets")).expect("assets dir");
    std::fs::write(dir.join("index.html"), INDEX).expect("index");
    std::fs::write(dir.join("assets/index-3f2a1b.js"), "console.log('kiln')").expect("asset");
    std::fs::write(
        dir.join("favicon.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .expect("favicon");
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

async fn entry(api: &Api, path: &str, base: &str) {
    let resp = api.get(path).await;
    assert_eq!(resp.status(), 200, "{path}");
    assert!(
        header(&resp, "content-type").starts_with("text/html"),
        "{path}"
    );
    assert_eq!(header(&resp, "cache-control"), "no-cache", "{path}");
    let body = resp.text().await.expect("body");
    assert!(
        body.contains(&format!("<base href=\"{base}\" />")),
        "{path} should carry base {base:?}: {body}"
    );
    assert!(body.contains("./assets/index-3f2a1b.js"), "{body}");
}

#[tokio::test]
async fn serves_the_app_its_assets_and_keeps_api_paths() {
    let dist = tempfile_dir();
    build(dist.path());
    let dir = dist.path().to_path_buf();
    let api = Api::with_config(move |c| c.dashboard_dir = Some(dir)).await;

    entry(&api, "/", "./").await;
    entry(&api, "/index.html", "./").await;
    entry(&api, "/tasks", "./").await;
    entry(&api, "/projects", "./").await;
    entry(&api, "/system", "./").await;
    entry(&api, "/tasks/0190f1c2-5e4b-7c3d-9a8e-1f2a3b4c5d6e", "../").await;

    let asset = api.get("/assets/index-3f2a1b.js").await;
    assert_eq!(asset.status(), 200);
    assert!(header(&asset, "content-type").contains("javascript"));
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(asset.text().await.unwrap(), "console.log('kiln')");
    let icon = api.get("/favicon.svg").await;
    assert_eq!(icon.status(), 200);
    assert_eq!(header(&icon, "cache-control"), "no-cache");

    // A missing file is a 404, never the app's HTML.
    assert_problem(api.get("/assets/index-000000.js").await, 404, "no route").await;

    // API paths keep priority over the app.
    let templates: Value = api.get("/api/v1/templates").await.json().await.unwrap();
    assert!(templates["items"].is_array(), "{templates}");
    assert_problem(
        api.get("/api/v1/nothing-here").await,
        404,
        "no route for /api/v1/nothing-here",
    )
    .await;
    assert_problem(api.get("/api").await, 404, "no route for /api").await;
    assert_problem(api.get("/ws/other").await, 404, "no route").await;
    assert_problem(api.get("/ws/logs").await, 400, "task_id is required").await;
    let health: Value = api.get("/health").await.json().await.unwrap();
    assert_eq!(health["service"], "api");
    let metrics = api.get("/metrics").await;
    assert!(header(&metrics, "content-type").starts_with("text/plain"));
    let doc: Value = api.get("/api/openapi.json").await.json().await.unwrap();
    assert!(doc["paths"].is_object());

    // The app is read-only.
    let post = api
        .http
        .post(api.url("/tasks/x"))
        .send()
        .await
        .expect("answered");
    assert_problem(post, 405, "method POST is not allowed on /tasks/x").await;
    api.stop().await;
}

#[tokio::test]
async fn without_a_dashboard_the_root_is_a_problem() {
    let api = Api::start().await;
    assert_problem(api.get("/").await, 404, "no route for /").await;
    assert_problem(api.get("/tasks/x").await, 404, "no route for /tasks/x").await;
    api.stop().await;

    let empty = tempfile_dir();
    let dir = empty.path().to_path_buf();
    let api = Api::with_config(move |c| c.dashboard_dir = Some(dir)).await;
    assert_problem(api.get("/").await, 404, "npm run build").await;
    api.stop().await;
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kiln-dashboard-")
        .tempdir()
        .expect("temp dir")
}
