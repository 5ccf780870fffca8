//! The OpenAPI 3.1 description of the API, generated from the handlers and wire types
//! themselves so it cannot drift from what the server does; the frontend generates its
//! TypeScript types from it.

use axum::Json;
use utoipa::OpenApi;

use crate::error::Problem;
use crate::model::{LogFrame, TaskStatusSchema};
use crate::{apps, diff, logs, memory, people, projects, system, tasks, templates};

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
        logs::stream_logs,
        system::get_system,
    ),
    components(schemas(Problem, LogFrame, TaskStatusSchema)),
    tags(
        (name = "tasks", description = "Create, follow and control tasks"),
        (name = "catalog", description = "Templates and projects"),
        (name = "logs", description = "Live task logs over WebSocket"),
        (name = "system", description = "Services, queues and dead letters"),
    )
)]
struct ApiDoc;

/// The API's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
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
        let statuses = schemas["TaskStatus"]["enum"].as_array().unwrap();
        assert_eq!(statuses.len(), kiln_store::TaskStatus::ALL.len());
    }
}
