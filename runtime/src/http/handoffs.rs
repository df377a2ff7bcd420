//! Handoffs to a person, for staff (admin credential):
//! - `GET /v1/admin/handoffs?status=open&limit=50` — newest first;
//! - `POST /v1/admin/handoffs/{id}` `{"status":"closed"|"open"}` — mark one worked through.
//!
//! A handoff carries the session id and the question as masked text: staff
//! answer inside the conversation, and personal values never leave the session.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::ApiJson;
use super::skills::Admin;
use super::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

pub async fn list(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = query.status.map(|s| check_status(&s)).transpose()?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "`limit` must be between 1 and 1000",
        ));
    }
    let sessions = state.sessions.clone();
    let handoffs = tokio::task::spawn_blocking(move || sessions.handoffs(limit, status))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(json!({ "handoffs": handoffs })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    status: String,
}

pub async fn update(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<Value>, ApiError> {
    let status = check_status(&body.status)?;
    let sessions = state.sessions.clone();
    let updated = tokio::task::spawn_blocking(move || sessions.set_handoff_status(id, status))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if !updated {
        return Err(ApiError::not_found(
            "handoff_not_found",
            format!("no handoff with id {id}"),
        ));
    }
    Ok(Json(json!({ "id": id, "status": status })))
}

fn check_status(status: &str) -> Result<&'static str, ApiError> {
    match status {
        "open" => Ok("open"),
        "closed" => Ok("closed"),
        other => Err(ApiError::bad_request(
            "invalid_status",
            format!("unknown status `{other}`; use `open` or `closed`"),
        )),
    }
}
