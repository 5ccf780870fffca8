//! `GET /api/v1/templates`: the stacks a task can be built from, and whether this host has
//! their toolchains.

use axum::Json;
use axum::extract::State;
use tracing::instrument;

use crate::AppState;
use crate::model::{TemplateList, TemplateView};

/// List the stack templates.
#[utoipa::path(
    get,
    path = "/api/v1/templates",
    tag = "catalog",
    responses((status = 200, description = "Every template, by name", body = TemplateList))
)]
#[instrument(skip_all)]
pub async fn list_templates(State(state): State<AppState>) -> Json<TemplateList> {
    // Every registry once and all at the same time: templates share registries, and an
    // unreachable one costs a timeout (probes are remembered for a minute).
    let mut urls: Vec<String> = state
        .catalog
        .list()
        .flat_map(|t| t.manifest.registries.iter().cloned())
        .collect();
    urls.sort();
    urls.dedup();
    let down = state.registries.unreachable(&urls).await;
    let items = state
        .catalog
        .list()
        .map(|t| {
            // Looked up per request, so installing a toolchain shows without a restart.
            let missing = t.missing_toolchains();
            let m = &t.manifest;
            let unreachable: Vec<String> = down
                .iter()
                .filter(|(url, _)| m.registries.contains(url))
                .map(|(url, why)| format!("{url} ({why})"))
                .collect();
            TemplateView {
                name: m.name.clone(),
                title: m.title.clone(),
                description: m.description.clone(),
                stack: m.stack.clone(),
                requires: m.requires.clone(),
                deploy: m.deploy.clone(),
                registries: m.registries.clone(),
                database: m.database.as_ref().map(|d| d.kind.as_str().to_owned()),
                available: missing.is_empty() && unreachable.is_empty(),
                missing_toolchains: missing,
                unreachable_registries: unreachable,
            }
        })
        .collect();
    Json(TemplateList { items })
}
