//! The OpenAPI 3.1 description of the API, generated from the handlers and wire types
//! themselves so it cannot drift from what the server does; the frontend generates its
//! TypeScript types from it.

use axum::Json;
use axum::http::Method;
use utoipa::OpenApi;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use crate::auth::{self, Access, CSRF_HEADER, SESSION_COOKIE};
use crate::error::Problem;
use crate::model::{LogFrame, TaskStatusSchema};
use crate::{
    apps, audit, compat, diff, guards, imports, intake, logs, memory, pause, people, projects,
    review, search, subscriptions, system, tasks, templates, tokens,
};

/// Name of the bearer-token security scheme in the document.
pub const BEARER: &str = "bearer";
/// Name of the dashboard-session security scheme in the document.
pub const SESSION: &str = "session";
/// Extension naming the least role an operation needs (`none` for self-authenticating ones).
pub const ROLE_EXTENSION: &str = "x-kiln-role";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kiln API",
        description = "Turn a task brief into a tested, reviewed, deployed app. Errors are RFC 9457 \
                       `application/problem+json` documents.",
    ),
    paths(
        tasks::create_task,
        tasks::list_tasks,
        tasks::get_task,
        tasks::cancel_task,
        compat::ready,
        people::approve,
        people::reject,
        people::answers,
        memory::list,
        memory::add,
        memory::edit,
        memory::delete,
        diff::round_diff,
        templates::list_templates,
        apps::delete_app,
        projects::list_projects,
        search::search,
        imports::create_project,
        imports::knowledge,
        imports::get_settings,
        imports::put_settings,
        search::index,
        logs::stream_logs,
        system::get_system,
        pause::get_pause,
        pause::set_pause,
        guards::get_guards,
        guards::set_guard,
        review::list_proposals,
        review::decide_proposal,
        audit::list,
        tokens::list_tokens,
        tokens::create_token,
        tokens::revoke_token,
        tokens::sign_in,
        tokens::get_session,
        tokens::sign_out,
        intake::telegram::webhook,
        intake::discord::webhook,
        intake::jira::webhook,
        intake::github::webhook,
        subscriptions::list,
        subscriptions::create,
        subscriptions::delete,
        subscriptions::deliveries,
    ),
    components(schemas(Problem, LogFrame, TaskStatusSchema)),
    tags(
        (name = "tasks", description = "Create, follow and control tasks"),
        (name = "catalog", description = "Templates and projects"),
        (name = "logs", description = "Live task logs over WebSocket"),
        (name = "system", description = "Services, queues, dead letters and the kill switch"),
        (name = "access", description = "Tokens, dashboard sessions and the audit trail"),
        (name = "intake", description = "Chat and tracker webhooks, verified by their own signatures"),
    )
)]
struct ApiDoc;

/// The API's OpenAPI document: the handlers' own annotations, plus what [`auth::ROUTES`]
/// says each operation needs (its security and `x-kiln-role`, and the 401/403 answers).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token (`kiln token create`, or `POST /api/v1/tokens` as an admin)",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        SESSION,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE.to_owned(),
            format!(
                "The dashboard's session (`POST /api/v1/session`); mutations also need \
                 the `{CSRF_HEADER}` header"
            ),
        ))),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
        ];
        for (method, op) in operations {
            let Some(op) = op.as_mut() else { continue };
            let access = auth::access(&method, path);
            let role = match access {
                Access::Role(role) => {
                    op.security = Some(vec![
                        SecurityRequirement::new(BEARER, Vec::<String>::new()),
                        SecurityRequirement::new(SESSION, Vec::<String>::new()),
                    ]);
                    let responses = &mut op.responses.responses;
                    responses
                        .entry("401".into())
                        .or_insert_with(|| problem("No token, or a wrong, revoked or expired one"));
                    if role != kiln_store::auth::Role::Viewer || method != Method::GET {
                        responses.entry("403".into()).or_insert_with(|| {
                            problem("The token's role is too weak, or a session mutation lacks its CSRF token")
                        });
                    }
                    role.as_str()
                }
                Access::SelfAuthenticating => {
                    op.security = Some(vec![SecurityRequirement::default()]);
                    "none"
                }
            };
            // Every path parameter and body is parsed at the edge; what does not parse is a
            // 400 problem whatever the operation.
            let has_path_params = path.contains('{');
            let has_body = op.request_body.is_some();
            if has_path_params || has_body {
                op.responses.responses.entry("400".into()).or_insert_with(|| {
                    problem("A path parameter that does not parse, or a body that is not the JSON the operation takes")
                });
            }
            if has_body {
                op.responses
                    .responses
                    .entry("413".into())
                    .or_insert_with(|| problem("The body is larger than the limit"));
            }
            let extensions = op.extensions.get_or_insert_with(Default::default);
            extensions.merge(ExtensionsBuilder::new().add(ROLE_EXTENSION, role).build());
        }
    }
    doc
}

fn problem(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// Serve the OpenAPI document.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_with_every_route() {
        let json = serde_json::to_value(document()).unwrap();
        assert!(
            json["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            json["openapi"]
        );
        for path in [
            "/api/v1/tasks",
            "/api/v1/tasks/{id}",
            "/api/v1/tasks/{id}/cancel",
            "/api/v1/templates",
            "/api/v1/projects",
            "/ws/logs",
            "/api/v1/tasks/{id}/rounds/{round}/diff",
            "/api/v1/system",
            "/api/v1/projects/{name}/app",
        ] {
            assert!(json["paths"][path].is_object(), "{path} missing");
        }
        let schemas = &json["components"]["schemas"];
        for name in [
            "CreateTask",
            "TaskDetail",
            "TaskSummary",
            "TaskList",
            "Problem",
            "TaskStatus",
            "LogFrame",
            "SystemView",
        ] {
            assert!(schemas[name].is_object(), "schema {name} missing");
        }
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default().to_owned();
                assert!(
                    ids.insert(id.clone()),
                    "{method} {path}: operationId {id:?} is taken"
                );
            }
        }
        let statuses = schemas["TaskStatus"]["enum"].as_array().unwrap();
        assert_eq!(statuses.len(), kiln_store::TaskStatus::ALL.len());
    }
}
