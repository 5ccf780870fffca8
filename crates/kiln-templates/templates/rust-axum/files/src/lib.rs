//! The web app as a library, so the integration tests drive the same router `main` serves.
//!
//! Every string from kiln.json is user text: it reaches HTML only through [`escape_html`].

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::{fs, io};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The stylesheet is compiled in, so the binary needs nothing but kiln.json next to it.
const STYLES: &str = include_str!("../static/styles.css");

/// One user story with its acceptance criteria.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Story {
    pub title: String,
    pub description: String,
    pub acceptance: Vec<String>,
}

/// The brief and stories Kiln wrote to kiln.json. Missing fields default to empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kiln {
    pub project: String,
    pub title: String,
    pub task_id: String,
    pub epic: String,
    pub brief: String,
    pub stories: Vec<Story>,
}

impl Kiln {
    /// The page title: the title, else the project name, so `<title>` is never empty.
    pub fn display_title(&self) -> &str {
        [&self.title, &self.project]
            .into_iter()
            .find(|text| !text.is_empty())
            .map_or("Untitled", String::as_str)
    }
}

/// What the app serves; `main` fills it from the environment, tests fill it directly.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub kiln: Kiln,
    /// "" or "/prefix", see [`normalise_base_path`].
    pub base_path: String,
    /// The commit the app was built from, served at `/__kiln/version`.
    pub build_sha: String,
}

/// Reads kiln.json; the error names the file so a bad deploy is easy to diagnose.
pub fn load_kiln(path: &Path) -> io::Result<Kiln> {
    let text = fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not valid kiln.json: {e}", path.display()),
        )
    })
}

/// The proxy strips the path prefix before requests arrive, so routes stay at `/` and the
/// page uses relative URLs; the prefix is only needed for absolute links.
/// Returns "" or "/prefix" without a trailing slash.
pub fn normalise_base_path(value: &str) -> String {
    let trimmed = value.trim().trim_end_matches('/');
    match trimmed {
        "" => String::new(),
        t if t.starts_with('/') => t.to_owned(),
        t => format!("/{t}"),
    }
}

/// Escapes the five characters that matter in HTML text and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The home page. Writing to a `String` cannot fail, hence the ignored `write!` results.
pub fn render_page(kiln: &Kiln, base_path: &str) -> String {
    let e = escape_html;
    let home = if base_path.is_empty() {
        "./".to_owned()
    } else {
        e(&format!("{base_path}/"))
    };
    let eyebrow = if kiln.epic.is_empty() {
        &kiln.project
    } else {
        &kiln.epic
    };
    let title = e(kiln.display_title());

    let mut page = String::with_capacity(4096);
    let _ = write!(
        page,
        r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="kiln-project" content="{project}">
  <title>{title}</title>
  <link rel="stylesheet" href="styles.css">
</head>
<body>
  <header class="hero">
    <div class="wrap">
      <p class="eyebrow"><a href="{home}">{eyebrow}</a></p>
      <h1>{title}</h1>
      <p class="brief">{brief}</p>
    </div>
  </header>
  <main class="wrap">
    <h2 class="stories-heading">What this app covers</h2>
"#,
        project = e(&kiln.project),
        eyebrow = e(eyebrow),
        brief = e(&kiln.brief),
    );
    if kiln.stories.is_empty() {
        page.push_str("    <p class=\"empty\">No stories yet.</p>\n");
    } else {
        page.push_str("    <div class=\"stories\">\n");
        for (index, story) in kiln.stories.iter().enumerate() {
            let _ = writeln!(
                page,
                "      <section class=\"story\" id=\"story-{}\">\n        <h3>{}</h3>",
                index + 1,
                e(&story.title)
            );
            if !story.description.is_empty() {
                let _ = writeln!(page, "        <p>{}</p>", e(&story.description));
            }
            if !story.acceptance.is_empty() {
                page.push_str("        <h4>Acceptance criteria</h4>\n");
                page.push_str("        <ul class=\"acceptance\">\n");
                for criterion in &story.acceptance {
                    let _ = writeln!(page, "          <li>{}</li>", e(criterion));
                }
                page.push_str("        </ul>\n");
            }
            page.push_str("      </section>\n");
        }
        page.push_str("    </div>\n");
    }
    let _ = write!(
        page,
        r#"  </main>
  <footer class="wrap">
    <p>Built by Kiln &middot; <span class="project">{}</span></p>
  </footer>
</body>
</html>
"#,
        e(&kiln.project)
    );
    page
}

/// The app's routes. The page is rendered once: kiln.json does not change while it runs.
pub fn router(config: Config) -> Router {
    let page = render_page(&config.kiln, &config.base_path);
    let state = Arc::new(AppState { config, page });
    Router::new()
        .route("/", get(index))
        .route("/styles.css", get(styles))
        .route("/healthz", get(healthz))
        .route("/__kiln/version", get(version))
        .route("/api/stories", get(stories))
        .fallback(not_found)
        .with_state(state)
}

struct AppState {
    config: Config,
    page: String,
}

type Shared = State<Arc<AppState>>;

async fn index(State(state): Shared) -> Html<String> {
    Html(state.page.clone())
}

async fn styles() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLES)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn version(State(state): Shared) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        state.config.build_sha.clone(),
    )
}

async fn stories(State(state): Shared) -> Json<Vec<Story>> {
    Json(state.config.kiln.stories.clone())
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not found").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_escapes_the_five_special_characters() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain"), "plain");
    }

    #[test]
    fn normalise_base_path_yields_empty_or_a_leading_slash_without_trailing() {
        assert_eq!(normalise_base_path(""), "");
        assert_eq!(normalise_base_path(" / "), "");
        assert_eq!(normalise_base_path("/apps/demo/"), "/apps/demo");
        assert_eq!(normalise_base_path("apps/demo"), "/apps/demo");
    }

    #[test]
    fn display_title_falls_back_to_the_project() {
        let mut kiln = Kiln {
            project: "demo".into(),
            ..Kiln::default()
        };
        assert_eq!(kiln.display_title(), "demo");
        kiln.title = "Demo".into();
        assert_eq!(kiln.display_title(), "Demo");
        assert_eq!(Kiln::default().display_title(), "Untitled");
    }
}
