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
    let items = state
        .catalog
        .list()
        .map(|t| {
            // Looked up per request, so installing a toolchain shows without a restart.
            let missing = t.missing_toolchains();
            let m = &t.manifest;
            TemplateView {
                name: m.name.clone(),
                title: m.title.clone(),
                description: m.description.clone(),
                stack: m.stack.clone(),
                requires: m.requires.clone(),
                deploy: m.deploy.clone(),
                available: missing.is_empty(),
                missing_toolchains: missing,
            }
        })
        .collect();
    Json(TemplateList { items })
}
