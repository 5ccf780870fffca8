//! `DELETE /api/v1/projects/{name}/app`: takes a deployed app offline for good and frees what
//! it held (process, port, releases, web server site, database). The deployer that runs the
//! app does the work; the API asks it over NATS and reports what it said.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, Path, State};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::ToSchema;

use kiln_contracts::apps::{RemoveApp, RemoveAppReply};
use kiln_store::audit;

use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::{AppState, queries};

/// How long a deployer may take to stop an app and drop its database.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the deployer did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppRemoved {
    pub project: String,
    /// Deploy target the app ran on.
    pub target: String,
    /// What was freed, e.g. `process and releases on local`, `postgres database`.
    pub freed: Vec<String>,
}

/// Delete a project's deployed app.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{name}/app",
    tag = "catalog",
    params(("name" = String, Path, description = "Project name")),
    responses(
        (status = 200, description = "The app is stopped and its resources are freed", body = AppRemoved),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The deployer could not remove it; nothing was lost, retry after fixing the reason", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No deployer is running", body = Problem, content_type = "application/problem+json"),
    )
)]
#[instrument(skip_all, fields(project = %name))]
pub async fn delete_app(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Json<AppRemoved>, Error> {
    if !queries::project_exists(&state.ctx.db, &name).await? {
        return Err(Error::ProjectNotFound(name));
    }
    let request = serde_json::to_vec(&RemoveApp {
        project: name.clone(),
    })
    .unwrap_or_default();
    // The client's default request timeout (10 s) is shorter than stopping an app on a remote
    // host and dropping its database may take.
    let request = async_nats::Request::new()
        .payload(request.into())
        .timeout(Some(REMOVE_TIMEOUT));
    let reply = state
        .ctx
        .nats
        .send_request(state.ctx.subjects.app_remove(), request)
        .await
        .map_err(|e| Error::Nats {
            context: "asking a deployer to remove the app",
            message: e.to_string(),
        })?;
    match serde_json::from_slice::<RemoveAppReply>(&reply.payload) {
        Ok(RemoveAppReply::Removed { target, freed }) => {
            audit::append(
                &state.ctx.db,
                &who.audit("app.deleted", &name)
                    .detail(serde_json::json!({ "target": target, "freed": freed })),
            )
            .await?;
            Ok(Json(AppRemoved {
                project: name,
                target,
                freed,
            }))
        }
        Ok(RemoveAppReply::Failed { reason }) => Err(Error::AppNotRemoved { app: name, reason }),
        Err(e) => Err(Error::Nats {
            context: "reading the deployer's answer",
            message: e.to_string(),
        }),
    }
}
