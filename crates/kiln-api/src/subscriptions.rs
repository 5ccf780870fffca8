//! Outbound webhook subscriptions through the API (admins): register a URL and the event
//! kinds wanted, see how deliveries are going (failing ones stand out), read every attempt,
//! and remove it. `kiln-webhooks`, running in the API process, does the sending.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kiln_store::audit;
use kiln_webhooks::store::{self, DeliveryQuery, DeliveryStatus, NewSubscription};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Error, Problem};
use crate::tokens::json_body;

/// Body of `POST /api/v1/subscriptions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// `http` or `https`, without credentials.
    pub url: String,
    /// Task event kinds (`created`, `stage_started`, `stage_finished`, `stage_failed`,
    /// `waiting`, `resumed`, `cancelled`, ...); empty or absent: all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only events that leave the task in one of these statuses (`deployed`, `failed`,
    /// `blocked`, ...: see `TaskStatus`); empty or absent: any.
    #[serde(default)]
    pub statuses: Vec<String>,
    #[serde(default)]
    pub description: String,
}

/// A subscription and how its deliveries are going; never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionView {
    pub id: Uuid,
    pub url: String,
    pub kinds: Vec<String>,
    pub statuses: Vec<String>,
    /// Only this task's events (a `POST /api/v1/tasks/ready` callback), when set.
    pub task_id: Option<Uuid>,
    pub description: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    pub pending: i64,
    pub failed: i64,
    pub delivered: i64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_attempt_at: Option<OffsetDateTime>,
    /// The latest attempt failed, or a delivery was given up on in the last day.
    pub failing: bool,
}

impl From<store::SubscriptionStatus> for SubscriptionView {
    fn from(s: store::SubscriptionStatus) -> Self {
        let sub = s.subscription;
        Self {
            id: sub.id,
            url: sub.url,
            kinds: sub.kinds,
            statuses: sub.statuses,
            task_id: sub.task_id,
            description: sub.description,
            created_by: sub.created_by,
            created_at: sub.created_at,
            disabled_at: sub.disabled_at,
            pending: s.pending,
            failed: s.failed,
            delivered: s.delivered,
            last_error: s.last_error,
            last_attempt_at: s.last_attempt_at,
            failing: s.failing,
        }
    }
}

/// A new subscription with the secret its deliveries are signed with, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedSubscription {
    pub subscription: SubscriptionView,
    /// HMAC-SHA256 key: `Kiln-Signature: t=<unix>,v1=<hex hmac of "<t>.<body>">`.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionView>,
}

/// Deliveries of a subscription, newest first, each with every attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryList {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<store::Delivery>,
    /// More, older deliveries exist (raise `limit` to see them).
    pub more: bool,
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
}

fn webhook_error(e: kiln_webhooks::Error) -> Error {
    match e {
        kiln_webhooks::Error::Database(e) => Error::Store(kiln_store::Error::Database(e)),
        e if e.is_invalid_input() => Error::InvalidDecision(e.to_string()),
        e => Error::Nats {
            context: "webhooks",
            message: e.to_string(),
        },
    }
}

fn subscription_id(path: Result<Path<String>, PathRejection>) -> Result<Uuid, Error> {
    let Path(raw) = path.map_err(|e| Error::InvalidPath(e.body_text()))?;
    Uuid::parse_str(&raw)
        .map_err(|_| Error::InvalidPath(format!("subscription id {raw:?} is not a UUID")))
}

#[utoipa::path(get, path = "/api/v1/subscriptions", operation_id = "list_subscriptions", tag = "access",
    responses((status = 200, description = "Every subscription, failing ones flagged", body = SubscriptionList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<SubscriptionList>, Error> {
    let items = store::list(&state.ctx.db).await.map_err(webhook_error)?;
    Ok(Json(SubscriptionList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/subscriptions", operation_id = "create_subscription", tag = "access",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "Subscribed; the secret is shown this once", body = CreatedSubscription),
        (status = 422, description = "A URL, kind or description Kiln refuses", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Error> {
    let req: CreateSubscription = json_body(body)?;
    if let Some(bad) = req
        .statuses
        .iter()
        .find(|s| kiln_store::TaskStatus::parse(s).is_none())
    {
        return Err(Error::InvalidDecision(format!(
            "status {bad:?} is not a task status (deployed, failed, blocked, ...)"
        )));
    }
    let mut tx = state.ctx.db.begin().await?;
    let created = store::create(
        &mut *tx,
        &NewSubscription {
            url: req.url,
            kinds: req.kinds,
            statuses: req.statuses,
            description: req.description,
            created_by: who.name.clone(),
            ..Default::default()
        },
    )
    .await
    .map_err(webhook_error)?;
    let sub = &created.subscription;
    audit::append(
        &mut *tx,
        &who.audit("subscription.create", sub.id.to_string())
            .detail(serde_json::json!({
                "url": sub.url,
                "kinds": sub.kinds,
                "statuses": sub.statuses,
            })),
    )
    .await?;
    let status = store::get(&mut *tx, sub.id)
        .await
        .map_err(webhook_error)?
        .ok_or(Error::Store(kiln_store::Error::Corrupt {
            what: "subscription just created",
            value: sub.id.to_string(),
        }))?;
    tx.commit().await?;
    let body = CreatedSubscription {
        subscription: status.into(),
        secret: created.secret,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/v1/subscriptions/{id}/deliveries", operation_id = "list_deliveries", tag = "access",
    params(("id" = Uuid, Path), DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries with every attempt, newest first", body = DeliveryList),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<DeliveryList>, Error> {
    let id = subscription_id(path)?;
    let Query(q) = query.map_err(|e| Error::InvalidQuery(e.body_text()))?;
    let status = match q.status.as_deref() {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("delivered") => Some(DeliveryStatus::Delivered),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(other) => {
            return Err(Error::InvalidQuery(format!(
                "status {other:?}: use pending, delivered or failed"
            )));
        }
    };
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::InvalidQuery("limit must be 1 to 100".into()));
    }
    if store::get(&state.ctx.db, id)
        .await
        .map_err(webhook_error)?
        .is_none()
    {
        return Err(Error::SubscriptionNotFound(id));
    }
    let (items, more) = store::deliveries(
        &state.ctx.db,
        id,
        &DeliveryQuery {
            status,
            after: None,
            limit,
        },
    )
    .await
    .map_err(webhook_error)?;
    Ok(Json(DeliveryList { items, more }))
}

#[utoipa::path(delete, path = "/api/v1/subscriptions/{id}", operation_id = "delete_subscription", tag = "access",
    params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "Removed with its deliveries; nothing more is sent"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, Error> {
    let id = subscription_id(path)?;
    let mut tx = state.ctx.db.begin().await?;
    if !store::delete(&mut *tx, id).await.map_err(webhook_error)? {
        return Err(Error::SubscriptionNotFound(id));
    }
    audit::append(&mut *tx, &who.audit("subscription.delete", id.to_string())).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
