//! `GET /v1/kb/search?q=…&k=…[&field=…]`: hybrid search, or lexical search within one service-item
//! field (`materials`/`申请材料`, `location`/`办理地点`, …) when `field` is given.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Json;
use serde_json::json;

use super::ApiError;
use crate::state::AppState;

const DEFAULT_K: usize = 5;

pub async fn search(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let query = params
        .get("q")
        .cloned()
        .ok_or_else(|| ApiError::bad_request("missing_query", "add the search text as `?q=…`"))?;
    let k = match params.get("k") {
        None => DEFAULT_K,
        Some(raw) => raw.trim().parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                "invalid_k",
                format!("`k` must be a whole number, got `{raw}`"),
            )
        })?,
    };
    state.metrics.kb_searches.inc();
    let kb = state.kb.clone();
    let q = query.clone();
    let field = params.get("field").cloned();
    let hits = tokio::task::spawn_blocking(move || match field {
        Some(field) => kb.search_field(&field, &q, k),
        None => kb.search(&q, k),
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(json!({ "query": query, "k": k, "hits": hits })))
}
