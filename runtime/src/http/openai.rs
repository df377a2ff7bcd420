//! `POST /v1/chat/completions`: the OpenAI chat-completions shape over the
//! same grounded path as `/v1/chat`, so existing OpenAI clients and tools can
//! talk to the assistant. The last user message is the question; the user and
//! assistant messages before it are the conversation so far (a new session's
//! history: OpenAI clients keep the conversation themselves). `system`
//! messages are ignored: the operator's system prompt is the only one. Answers
//! carry their sources in an extra `sources` field that OpenAI clients ignore.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;

use super::extract::ApiJson;
use super::ApiError;
use crate::chat::{self, ChatEvent, ChatRequest};
use crate::sessions::Speaker;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<CompletionMessage>,
    #[serde(default)]
    stream: bool,
    // Other OpenAI parameters (temperature, max_tokens, …) are accepted and
    // ignored: the operator's configuration decides how the model samples.
}

#[derive(Deserialize)]
struct CompletionMessage {
    role: String,
    #[serde(default)]
    content: Value,
}

pub async fn completions(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let Some(last_user) = body.messages.iter().rposition(|m| m.role == "user") else {
        return Err(ApiError::bad_request(
            "no_user_message",
            "`messages` has no message with role `user`; add the question as one",
        ));
    };
    let question =
        super::chat::validate_message(&state, &content_text(&body.messages[last_user].content))?;
    let history: Vec<(Speaker, String)> = body.messages[..last_user]
        .iter()
        .filter_map(|m| match m.role.as_str() {
            "user" => Some((Speaker::User, content_text(&m.content))),
            "assistant" => Some((Speaker::Assistant, content_text(&m.content))),
            _ => None,
        })
        .filter(|(_, text)| !text.trim().is_empty())
        .collect();
    let model = body
        .model
        .or_else(|| state.engine.as_ref().map(|e| e.model_name().to_owned()))
        .unwrap_or_else(|| "govassist".into());
    let id = format!("chatcmpl-{}", unix_nanos());
    let created = unix_nanos() / 1_000_000_000;
    let events = chat::answer(
        state,
        ChatRequest {
            session_id: None,
            message: question,
            lang: None,
            caller: "openai",
            history,
        },
    )
    .await;

    if body.stream {
        let chunk = move |delta: Value, finish: Option<&str>| {
            json!({
                "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            })
        };
        let stream = ReceiverStream::new(events)
            .filter_map(move |event| {
                let data = match event {
                    ChatEvent::Sources { .. } => Some(chunk(json!({ "role": "assistant" }), None)),
                    ChatEvent::Skill(_) => None,
                    ChatEvent::Token { text } => Some(chunk(json!({ "content": text }), None)),
                    ChatEvent::Done(_) => Some(chunk(json!({}), Some("stop"))),
                    ChatEvent::Error { code, message } => {
                        Some(json!({ "error": { "code": code, "message": message } }))
                    }
                };
                futures::future::ready(data.map(|d| Event::default().data(d.to_string())))
            })
            .chain(futures::stream::once(async {
                Event::default().data("[DONE]")
            }))
            .map(Ok::<_, Infallible>);
        return Ok(Sse::new(stream).into_response());
    }

    let mut events = events;
    let mut content = String::new();
    let mut sources = Value::Null;
    while let Some(event) = events.recv().await {
        match event {
            ChatEvent::Sources { sources: s, .. } => sources = json!(s),
            ChatEvent::Token { text } => content.push_str(&text),
            ChatEvent::Skill(_) => {}
            ChatEvent::Error { code, message } => {
                return Err(ApiError::unavailable(code, message));
            }
            ChatEvent::Done(done) => {
                return Ok(Json(json!({
                    "id": id, "object": "chat.completion", "created": created, "model": model,
                    "choices": [{
                        "index": 0,
                        "message": { "role": "assistant", "content": content },
                        "finish_reason": "stop",
                    }],
                    "usage": {
                        "prompt_tokens": done.prompt_tokens,
                        "completion_tokens": done.generated_tokens,
                        "total_tokens": done.prompt_tokens + done.generated_tokens,
                    },
                    "sources": sources,
                    "citations": done.citations,
                }))
                .into_response());
            }
        }
    }
    Err(ApiError::internal(
        "the answer stream ended without a result",
    ))
}

/// OpenAI content is a string or a list of parts; only text parts count here.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}
