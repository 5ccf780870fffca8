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
    let mut items = Vec::new();
    for t in state.catalog.list() {
        // Looked up per request, so installing a toolchain shows without a restart; registry
        // probes are remembered for a minute.
        let missing = t.missing_toolchains();
        let m = &t.manifest;
        let unreachable: Vec<String> = state
            .registries
            .unreachable(&m.registries)
            .await
            .into_iter()
            .map(|(url, why)| format!("{url} ({why})"))
            .collect();
        items.push(TemplateView {
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
        });
    }
    Json(TemplateList { items })
}
