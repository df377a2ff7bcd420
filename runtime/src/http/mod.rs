//! The HTTP surface (axum): routes, request validation and response shapes.
//!
//! Handlers stay small: they validate, call into the knowledge base, the chat
//! orchestrator or the skill host, and shape the answer. Every failure leaves
//! as an [`ApiError`] with a stable code.

mod chat;
mod error;
mod extract;
mod handoffs;
mod kb;
mod openai;
mod skills;
mod web;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

pub use error::ApiError;

use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/widget.js", get(web::widget_js))
        .route("/widget.css", get(web::widget_css))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/v1/chat", post(chat::chat))
        .route("/v1/chat/completions", post(openai::completions))
        .route("/v1/kb/search", get(kb::search))
        .route("/v1/skills", get(skills::list))
        .route("/v1/skills/{name}/invoke", post(skills::invoke))
        .route(
            "/v1/skills/{name}",
            put(skills::deploy)
                .delete(skills::remove)
                .layer(DefaultBodyLimit::max(
                    state.config.skills.max_component_bytes,
                )),
        )
        .route("/v1/skills/{name}/rollback", post(skills::rollback))
        .route("/v1/admin/skills/audit", get(skills::audit))
        .route("/v1/admin/handoffs", get(handoffs::list))
        .route("/v1/admin/handoffs/{id}", post(handoffs::update))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn healthz(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "kb_documents": state.kb.doc_count(),
        "model": state.engine.as_ref().map(|engine| engine.model_name().to_owned()),
        "skills": state.skills.skills().len(),
    }))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.kb.doc_count()),
    )
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!(
            "no endpoint {} {}; see README.md for the API",
            request.method(),
            request.uri().path()
        ),
    )
}

async fn count_requests(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    state.metrics.http_requests.inc();
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() {
        state.metrics.http_client_errors.inc();
    } else if status.is_server_error() {
        state.metrics.http_server_errors.inc();
    }
    response
}
