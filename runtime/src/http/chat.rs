//! `POST /v1/chat` → a stream of chat events.
//!
//! Server-sent events by default. Clients that cannot read SSE (WeChat
//! mini-programs' `wx.request` with `enableChunked`) send
//! `Accept: application/x-ndjson` and get the same events as JSON lines.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use tokio_stream::wrappers::ReceiverStream;

use super::extract::ApiJson;
use super::ApiError;
use crate::chat::{self, ChatRequest};
use crate::lang::Lang;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    session_id: Option<String>,
    message: String,
    lang: Option<String>,
}

pub async fn chat(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response, ApiError> {
    let request = validate(&state, body)?;
    let events = ReceiverStream::new(chat::answer(state, request).await);
    let wants_lines = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept.contains("application/x-ndjson") || accept.contains("application/jsonl")
        });
    if wants_lines {
        let lines = events.map(|event| {
            let mut line = serde_json::to_vec(&event).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, Infallible>(Bytes::from(line))
        });
        return Ok((
            [(header::CONTENT_TYPE, "application/x-ndjson")],
            Body::from_stream(lines),
        )
            .into_response());
    }
    let sse = events.map(|event| {
        // The SSE event name carries the tag; the data line carries the payload.
        let data = serde_json::to_value(&event)
            .map(|mut v| v["data"].take())
            .unwrap_or_default();
        Ok::<_, Infallible>(Event::default().event(event.name()).data(data.to_string()))
    });
    Ok(Sse::new(sse)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// A question must have text and fit `server.max_message_chars`; returns it trimmed.
pub(super) fn validate_message(state: &AppState, message: &str) -> Result<String, ApiError> {
    let message = message.trim();
    if message.is_empty() {
        return Err(ApiError::bad_request(
            "empty_message",
            "the message is empty; type a question",
        ));
    }
    let limit = state.config.server.max_message_chars;
    if message.chars().count() > limit {
        return Err(ApiError::bad_request(
            "message_too_long",
            format!("the message is longer than {limit} characters; shorten the question"),
        ));
    }
    Ok(message.to_owned())
}

fn validate(state: &AppState, body: ChatBody) -> Result<ChatRequest, ApiError> {
    let message = validate_message(state, &body.message)?;
    let lang = match body.lang.as_deref() {
        None | Some("") | Some("auto") => None,
        Some(code) => Some(Lang::parse(code).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_lang",
                format!("unknown language `{code}`; use zh-Hans, zh-Hant or en"),
            )
        })?),
    };
    let session_id = match body.session_id {
        Some(id)
            if id.is_empty()
                || id.len() > 128
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            return Err(ApiError::bad_request(
                "invalid_session_id",
                "`session_id` must be 1-128 letters, digits, `-` or `_`",
            ))
        }
        other => other,
    };
    Ok(ChatRequest {
        session_id,
        message,
        lang,
        caller: "chat",
        history: Vec::new(),
    })
}
