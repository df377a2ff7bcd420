//! `GET /v1/skills` and `POST /v1/skills/{name}/invoke`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::ApiError;
use crate::lang::Lang;
use crate::state::AppState;

pub async fn list(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(json!({ "skills": state.skills.skills() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvokeBody {
    /// The skill's arguments; its `input_schema` in `GET /v1/skills` says which.
    #[serde(default = "empty_object")]
    input: serde_json::Value,
    lang: Option<String>,
}

fn empty_object() -> serde_json::Value {
    json!({})
}

pub async fn invoke(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<InvokeBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lang = match body.lang.as_deref() {
        None => Lang::Simplified,
        Some(code) => Lang::parse(code).ok_or_else(|| {
            ApiError::bad_request("invalid_lang", format!("unknown language `{code}`; use zh-Hans, zh-Hant or en"))
        })?,
    };
    if !body.input.is_object() {
        return Err(ApiError::bad_request("invalid_input", "`input` must be a JSON object"));
    }
    state.metrics.skill_invocations.inc();
    let skills = state.skills.clone();
    let outcome = tokio::task::spawn_blocking(move || skills.invoke(&name, &body.input, lang.code()))
        .await
        .map_err(ApiError::internal)?;
    match outcome {
        Ok(outcome) => Ok(Json(serde_json::to_value(outcome).map_err(ApiError::internal)?)),
        Err(error) => {
            state.metrics.skill_failures.inc();
            Err(error.into())
        }
    }
}
