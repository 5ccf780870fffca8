//! Checks the app against kiln.json, so the tests follow the brief instead of hard-coding it:
//! the router in-process, and the real binary over a socket on a random port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use kiln_app::{escape_html, load_kiln, router, Config, Kiln, Story};
use tower::ServiceExt as _;

fn kiln() -> Kiln {
    load_kiln(&Path::new(env!("CARGO_MANIFEST_DIR")).join("kiln.json"))
        .expect("kiln.json in the crate root")
}

fn config(base_path: &str) -> Config {
    Config {
        kiln: kiln(),
        base_path: base_path.to_owned(),
        build_sha: "test-build-sha".to_owned(),
    }
}

/// Sends one GET through the router; returns status, content type and body.
async fn get(config: Config, path: &str) -> (StatusCode, String, String) {
    let request = Request::get(path).body(Body::empty()).expect("request");
    let response = router(config).oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let body = String::from_utf8(body.to_vec()).expect("utf-8 body");
    (status, content_type, body)
}

#[tokio::test]
async fn index_shows_title_brief_and_every_story() {
    let kiln = kiln();
    let (status, content_type, page) = get(config(""), "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");

    let project = escape_html(&kiln.project);
    assert!(page.contains(&format!(
        r#"<meta name="kiln-project" content="{project}">"#
    )));
    let title = escape_html(kiln.display_title());
    assert!(
        page.contains(&format!("<title>{title}</title>")),
        "missing <title>"
    );
    assert!(
        page.contains(&format!("<h1>{title}</h1>")),
        "missing heading"
    );
    assert!(page.contains(&escape_html(&kiln.brief)), "brief missing");
    for story in &kiln.stories {
        // Whole element text, so a title that is merely part of the brief does not count.
        let shown = format!(">{}<", escape_html(&story.title));
        assert!(
            page.contains(&shown),
            "story title missing: {}",
            story.title
        );
        for criterion in &story.acceptance {
            let shown = format!(">{}<", escape_html(criterion));
            assert!(page.contains(&shown), "criterion missing: {criterion}");
        }
    }
    assert_eq!(
        page.matches(r#"<section class="story""#).count(),
        kiln.stories.len()
    );
}

#[tokio::test]
async fn index_escapes_user_text() {
    let hostile = r#"<script>alert("x")</script>"#.to_owned();
    let config = Config {
        kiln: Kiln {
            project: "demo".into(),
            title: hostile.clone(),
            brief: hostile.clone(),
            stories: vec![Story {
                title: hostile.clone(),
                description: hostile.clone(),
                acceptance: vec![hostile],
            }],
            ..Kiln::default()
        },
        ..Config::default()
    };
    let (_, _, page) = get(config, "/").await;
    assert!(
        !page.contains("<script>"),
        "unescaped user text in:\n{page}"
    );
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
}

#[tokio::test]
async fn index_uses_relative_urls_and_base_path_for_absolute_links() {
    let (_, _, page) = get(config(""), "/").await;
    assert!(page.contains(r#"href="styles.css""#));
    assert!(page.contains(r#"href="./""#));
    for attr in [r#"href="/"#, r#"src="/"#] {
        assert!(
            !page.contains(attr),
            "root-absolute URL ({attr}) in:\n{page}"
        );
    }

    let (_, _, page) = get(config("/apps/demo"), "/").await;
    assert!(
        page.contains(r#"href="/apps/demo/""#),
        "home link ignores BASE_PATH"
    );
    assert!(
        page.contains(r#"href="styles.css""#),
        "assets must stay relative"
    );
}

#[tokio::test]
async fn stylesheet_is_served() {
    let (status, content_type, body) = get(config(""), "/styles.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/css"), "{content_type}");
    assert!(body.contains(".story"));
}

#[tokio::test]
async fn healthz_reports_ok() {
    let (status, _, body) = get(config(""), "/healthz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn version_is_exactly_the_build_stamp() {
    let (status, content_type, body) = get(config(""), "/__kiln/version").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, "test-build-sha");
}

#[tokio::test]
async fn api_lists_the_stories_of_kiln_json() {
    let (status, content_type, body) = get(config(""), "/api/stories").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let stories: Vec<Story> = serde_json::from_str(&body).expect("JSON stories");
    assert_eq!(stories, kiln().stories);
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let (status, _, _) = get(config(""), "/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Kills the server even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 GET over a plain socket; returns the status line and the body.
fn http_get(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the app");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

#[test]
fn binary_serves_the_environment_and_kiln_json() {
    let child = Command::new(env!("CARGO_BIN_EXE_app"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("PORT", "0")
        .env("BASE_PATH", "/apps/demo/")
        .env("KILN_BUILD_SHA", "abc123")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the app binary");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let (status, body) = http_get(&addr, "/__kiln/version");
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(body, "abc123");

    let (status, _) = http_get(&addr, "/healthz");
    assert!(status.contains(" 200 "), "{status}");

    let (status, page) = http_get(&addr, "/");
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        page.contains(r#"href="/apps/demo/""#),
        "BASE_PATH not applied"
    );
    for story in kiln().stories {
        assert!(
            page.contains(&escape_html(&story.title)),
            "missing {}",
            story.title
        );
    }
}
