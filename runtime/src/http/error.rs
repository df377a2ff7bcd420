//! The one error shape every endpoint returns:
//! `{"error": {"code": "...", "message": "..."}}` with a fitting HTTP status.
//!
//! Codes are stable identifiers a client can branch on; messages are for the
//! person reading them and say what to do.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// For failures that are ours, not the client's; the detail goes to the log.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; the operator can find the cause in the server log",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the request body as JSON with `Content-Type: application/json`",
            ),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request(
                "malformed_json",
                format!("the request body is not valid JSON: {}", e.body_text()),
            ),
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("the JSON does not have the expected fields: {}", e.body_text()),
            ),
            JsonRejection::BytesRejection(_) if status == StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                status,
                "body_too_large",
                "the request body is larger than this server accepts (see server.max_body_bytes)",
            ),
            other => Self::new(status, "invalid_body", other.body_text()),
        }
    }
}

impl From<govassist_kb::KbError> for ApiError {
    fn from(error: govassist_kb::KbError) -> Self {
        if error.is_client_error() {
            Self::bad_request(error.code(), error.to_string())
        } else {
            Self::internal(error)
        }
    }
}

impl From<govassist_skill_host::SkillError> for ApiError {
    fn from(error: govassist_skill_host::SkillError) -> Self {
        let code = error.code();
        let status = match code {
            "skill_not_found" | "no_previous_version" => Some(StatusCode::NOT_FOUND),
            "version_downgrade" => Some(StatusCode::CONFLICT),
            "skill_name_mismatch" => Some(StatusCode::BAD_REQUEST),
            "skills_not_managed" => Some(StatusCode::SERVICE_UNAVAILABLE),
            // The host's own failures (disk, engine) while deploying: ours, not the skill's.
            "io" | "engine" => return Self::internal(error),
            _ => None,
        };
        if let Some(status) = status {
            Self::new(status, code, error.to_string())
        } else if error.is_client_error() {
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string())
        } else {
            // A skill that traps or overruns is the skill's fault, not ours:
            // say so plainly rather than hiding it behind "internal".
            tracing::warn!(code, %error, "skill invocation failed");
            Self::new(StatusCode::BAD_GATEWAY, code, error.to_string())
        }
    }
}
