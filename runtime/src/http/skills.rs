//! Skills over HTTP.
//!
//! - `GET /v1/skills` — installed skills.
//! - `POST /v1/skills/{name}/invoke` `{"input": {…}, "lang"?}` — run one.
//!
//! Admin (header `Authorization: Bearer <server.admin_token>`; 403
//! `admin_disabled` while no token is configured, 401 without the right one):
//! - `PUT /v1/skills/{name}[?allow_downgrade=true]` — deploy a version. Body:
//!   the component (`Content-Type: application/wasm`, at most
//!   `skills.max_component_bytes`); header `X-Skill-Manifest`: its
//!   `skill.toml`, base64-encoded. 201 (new skill) or 200 (replaced):
//!   `{"deployed": <skill>, "previous_version": "0.1.0" | null}`.
//! - `POST /v1/skills/{name}/rollback` — swap with the previous version; 200 as above.
//! - `DELETE /v1/skills/{name}` — remove (a rollback restores it); 200
//!   `{"removed": name, "version": …}`.
//! - `GET /v1/admin/skills/audit?limit=100&skill=…` — the newest audit records,
//!   newest first: `{"entries": [{"time_ms", "skill", "version", "caller",
//!   "duration_us", "outcome", "error_code"}]}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::ApiJson;
use super::ApiError;
use crate::lang::Lang;
use crate::state::AppState;

/// The header that carries a deployment's `skill.toml`, base64-encoded.
pub const MANIFEST_HEADER: &str = "x-skill-manifest";
const MAX_AUDIT_LIMIT: usize = 10_000;

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
            ApiError::bad_request(
                "invalid_lang",
                format!("unknown language `{code}`; use zh-Hans, zh-Hant or en"),
            )
        })?,
    };
    if !body.input.is_object() {
        return Err(ApiError::bad_request(
            "invalid_input",
            "`input` must be a JSON object",
        ));
    }
    state.metrics.skill_invocations.inc();
    let skills = state.skills.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        skills.invoke_as("http", &name, &body.input, lang.code(), &[])
    })
    .await
    .map_err(ApiError::internal)?;
    match outcome {
        Ok(outcome) => Ok(Json(
            serde_json::to_value(outcome).map_err(ApiError::internal)?,
        )),
        Err(error) => {
            state.metrics.skill_failures.inc();
            Err(error.into())
        }
    }
}

/// Proof that the request carries the admin token. An extractor on the
/// request head, so an unauthorised upload is refused before its body is read.
pub struct Admin;

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        check_admin(state.config.server.admin_token.as_deref(), &parts.headers).map(|()| Admin)
    }
}

fn check_admin(token: Option<&str>, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = token.filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "admin endpoints are off on this server: set server.admin_token (or GOVASSIST__SERVER__ADMIN_TOKEN) \
             and send it as `Authorization: Bearer <token>`",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this is an admin endpoint: send `Authorization: Bearer <server.admin_token>`",
        )),
        Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the bearer token is not this server's admin token (server.admin_token)",
        )),
    }
}

/// Compare without an early exit, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployQuery {
    #[serde(default)]
    allow_downgrade: bool,
}

pub async fn deploy(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    query: Result<Query<DeployQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let component = body.map_err(|e| body_rejection(e, state.config.skills.max_component_bytes))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.split(';').next().map(str::trim) != Some("application/wasm") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the component (.wasm) as the body with `Content-Type: application/wasm`",
        ));
    }
    let manifest = manifest_header(&headers)?;
    if component.is_empty() {
        return Err(ApiError::bad_request(
            "missing_component",
            "the body is empty; send the component (.wasm)",
        ));
    }
    let skills = state.skills.clone();
    let deployed = tokio::task::spawn_blocking(move || {
        skills.deploy(&name, &manifest, &component, query.allow_downgrade)
    })
    .await
    .map_err(ApiError::internal)??;
    let status = if deployed.previous_version.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(json!({ "deployed": deployed.skill, "previous_version": deployed.previous_version })),
    ))
}

pub async fn rollback(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let skills = state.skills.clone();
    let restored = tokio::task::spawn_blocking(move || skills.rollback(&name))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(
        json!({ "deployed": restored.skill, "previous_version": restored.previous_version }),
    ))
}

pub async fn remove(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let skills = state.skills.clone();
    let removed_name = name.clone();
    let version = tokio::task::spawn_blocking(move || skills.remove(&name))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(json!({ "removed": removed_name, "version": version })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<usize>,
    skill: Option<String>,
}

pub async fn audit(
    _admin: Admin,
    State(state): State<Arc<AppState>>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_AUDIT_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("`limit` must be 1-{MAX_AUDIT_LIMIT}"),
        ));
    }
    let store = state.store.clone();
    let entries =
        tokio::task::spawn_blocking(move || store.audit_recent(limit, query.skill.as_deref()))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    Ok(Json(json!({ "entries": entries })))
}

fn body_rejection(rejection: BytesRejection, limit: usize) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "body_too_large",
            format!("the component is larger than this server accepts ({limit} bytes, skills.max_component_bytes)"),
        )
    } else {
        ApiError::new(status, "invalid_body", rejection.body_text())
    }
}

fn manifest_header(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers.get(MANIFEST_HEADER).ok_or_else(|| {
        ApiError::bad_request(
            "missing_manifest",
            "send the skill's skill.toml, base64-encoded, in the `X-Skill-Manifest` header",
        )
    })?;
    let invalid = || {
        ApiError::bad_request(
            "invalid_manifest_header",
            "`X-Skill-Manifest` must be skill.toml as UTF-8, base64-encoded",
        )
    };
    let bytes = base64_decode(value.as_bytes()).ok_or_else(invalid)?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

/// Standard or URL-safe base64, padding optional, whitespace ignored.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    }
    let digits: Vec<u8> = input
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let digits = digits
        .strip_suffix(b"==")
        .or_else(|| digits.strip_suffix(b"="))
        .unwrap_or(&digits);
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&acc.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(
            base64_decode(b"bmFtZSA9ICJlY2hvIg==").unwrap(),
            b"name = \"echo\""
        );
        assert_eq!(
            base64_decode(b"bmFtZSA9ICJlY2hvIg").unwrap(),
            b"name = \"echo\""
        );
        assert_eq!(base64_decode(b"YWJj").unwrap(), b"abc");
        assert_eq!(base64_decode(b"YW Jj\n").unwrap(), b"abc");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert!(base64_decode(b"Y").is_none());
        assert!(base64_decode(b"a*bc").is_none());
    }

    #[test]
    fn admin_needs_a_configured_token_and_the_right_bearer() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            check_admin(None, &headers).unwrap_err().code,
            "admin_disabled"
        );
        assert_eq!(
            check_admin(Some(""), &headers).unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let missing = check_admin(Some("s3cret"), &headers).unwrap_err();
        assert_eq!(
            (missing.status, missing.code),
            (StatusCode::UNAUTHORIZED, "unauthorized")
        );
        headers.insert(header::AUTHORIZATION, "Bearer s3creT".parse().unwrap());
        assert_eq!(
            check_admin(Some("s3cret"), &headers).unwrap_err().code,
            "invalid_token"
        );
        headers.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(check_admin(Some("s3cret"), &headers).is_ok());
    }

    /// Over real HTTP: a server on a loopback port with the admin token set,
    /// an empty skills directory, and the `echo` fixture at 0.1.0 and 0.2.0.
    mod over_http {
        use std::path::{Path as FsPath, PathBuf};
        use std::sync::Arc;

        use govassist_skill_host::{build, SkillHost};
        use serde_json::Value;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        use crate::config::Config;
        use crate::state::{AppState, SkillServices};
        use crate::store::Store;

        const TOKEN: &str = "t0ken";

        /// `(skill.toml, component)` of echo 0.1.0 and 0.2.0, built from skills/fixtures.
        fn echo_uploads(tmp: &FsPath) -> [(String, Vec<u8>); 2] {
            let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("../skills");
            ["echo", "echo-v2"].map(|c| {
                let out = tmp.join(c);
                build::build_crates(&root, &[root.join("fixtures").join(c)], &out)
                    .expect("fixture builds");
                let dir = out.join("echo");
                (
                    std::fs::read_to_string(dir.join("skill.toml")).unwrap(),
                    std::fs::read(dir.join("echo.wasm")).unwrap(),
                )
            })
        }

        struct Reply {
            status: u16,
            headers: String,
            body: Value,
        }

        async fn request(
            addr: std::net::SocketAddr,
            method: &str,
            path: &str,
            headers: &[(&str, String)],
            body: &[u8],
        ) -> Reply {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            // The server may answer (413, 401) before reading the whole body.
            let _ = stream.write_all(body).await;
            let mut raw = Vec::new();
            let _ = stream.read_to_end(&mut raw).await;
            let text = String::from_utf8_lossy(&raw);
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            Reply {
                status,
                headers: head.to_ascii_lowercase(),
                body: serde_json::from_str(body).unwrap_or(Value::Null),
            }
        }

        fn b64(bytes: &[u8]) -> String {
            const A: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let b = [
                    chunk[0],
                    *chunk.get(1).unwrap_or(&0),
                    *chunk.get(2).unwrap_or(&0),
                ];
                let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
                for i in 0..4 {
                    if i <= chunk.len() {
                        out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                    } else {
                        out.push('=');
                    }
                }
            }
            out
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn deploy_rollback_delete_and_audit() {
            let tmp = tempfile::tempdir().unwrap();
            let [(m1, c1), (m2, c2)] = echo_uploads(tmp.path());
            assert_eq!(
                super::base64_decode(b64(m1.as_bytes()).as_bytes()).unwrap(),
                m1.as_bytes()
            );

            let mut config = Config::default();
            config.data_dir = tmp.path().join("data");
            config.server.admin_token = Some(TOKEN.into());
            config.skills.max_component_bytes = 4 << 20;
            config.skills.watch_interval_ms = 0;
            std::fs::create_dir_all(&config.data_dir).unwrap();
            let kb = Arc::new(govassist_kb::KnowledgeBase::open(&config.index_dir()).unwrap());
            let store = Arc::new(Store::open(&config.database_path()).unwrap());
            let skills = Arc::new(
                SkillHost::new(Arc::new(SkillServices {
                    kb: kb.clone(),
                    store: store.clone(),
                }))
                .unwrap(),
            );
            let skills_dir: PathBuf = config.skills_dir();
            crate::server::manage_skills_dir(&config, &skills);
            let database = config.database_path();
            let state =
                Arc::new(AppState::new(config, &database, kb, None, skills, store).unwrap());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = crate::http::router(state.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });

            let auth = ("Authorization", format!("Bearer {TOKEN}"));
            let wasm = ("Content-Type", "application/wasm".to_owned());
            let put = |manifest: &str, component: &[u8], path: &str, with_auth: bool| {
                let mut headers =
                    vec![wasm.clone(), ("X-Skill-Manifest", b64(manifest.as_bytes()))];
                if with_auth {
                    headers.push(auth.clone());
                }
                let (path, component) = (path.to_owned(), component.to_vec());
                async move { request(addr, "PUT", &path, &headers, &component).await }
            };
            let invoke = || async {
                let json = ("Content-Type", "application/json".to_owned());
                request(
                    addr,
                    "POST",
                    "/v1/skills/echo/invoke",
                    &[json],
                    br#"{"input":{"secret":"110101199003074578"}}"#,
                )
                .await
            };

            // Refusals before anything is deployed.
            let r = put(&m1, &c1, "/v1/skills/echo", false).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (401, Some("unauthorized")),
                "{}",
                r.body
            );
            assert!(r.headers.contains("www-authenticate: bearer"));
            let r = request(addr, "PUT", "/v1/skills/echo", &[auth.clone()], &c1).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (415, Some("unsupported_media_type"))
            );
            let r = request(
                addr,
                "PUT",
                "/v1/skills/echo",
                &[auth.clone(), wasm.clone()],
                &c1,
            )
            .await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("missing_manifest"))
            );
            let r = put(&m1, &vec![0u8; 5 << 20], "/v1/skills/echo", true).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (413, Some("body_too_large")),
                "{}",
                r.body
            );
            let r = put(&m1, &c1, "/v1/skills/other", true).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("skill_name_mismatch"))
            );
            let r = put(&m1, b"\0asm", "/v1/skills/echo", true).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (422, Some("invalid_component")),
                "{}",
                r.body
            );
            assert_eq!(invoke().await.status, 404);

            // Deploy, upgrade, refuse a downgrade, roll back, delete.
            assert!(
                c1.len() > state.config.server.max_body_bytes,
                "exercises the route's own body limit"
            );
            let r = put(&m1, &c1, "/v1/skills/echo", true).await;
            assert_eq!(r.status, 201, "{}", r.body);
            assert_eq!(r.body["deployed"]["version"], "0.1.0");
            assert_eq!(invoke().await.body["result"]["version"], "0.1.0");
            assert!(skills_dir.join("echo/echo.wasm").is_file());
            let r = put(&m2, &c2, "/v1/skills/echo", true).await;
            assert_eq!(
                (r.status, r.body["previous_version"].as_str()),
                (200, Some("0.1.0")),
                "{}",
                r.body
            );
            assert_eq!(invoke().await.body["result"]["version"], "0.2.0");
            let r = put(&m1, &c1, "/v1/skills/echo", true).await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (409, Some("version_downgrade"))
            );
            assert_eq!(invoke().await.body["result"]["version"], "0.2.0");
            let r = request(
                addr,
                "POST",
                "/v1/skills/echo/rollback",
                &[auth.clone()],
                b"",
            )
            .await;
            assert_eq!(
                (r.status, r.body["deployed"]["version"].as_str()),
                (200, Some("0.1.0")),
                "{}",
                r.body
            );
            assert_eq!(invoke().await.body["result"]["version"], "0.1.0");
            let r = request(addr, "DELETE", "/v1/skills/echo", &[], b"").await;
            assert_eq!(r.status, 401);
            let r = request(addr, "DELETE", "/v1/skills/echo", &[auth.clone()], b"").await;
            assert_eq!(
                (r.status, r.body["version"].as_str()),
                (200, Some("0.1.0")),
                "{}",
                r.body
            );
            assert_eq!(invoke().await.status, 404);
            let r = request(addr, "DELETE", "/v1/skills/echo", &[auth.clone()], b"").await;
            assert_eq!(r.status, 404);

            // The audit log: every call, never its input.
            let r = request(addr, "GET", "/v1/admin/skills/audit?limit=3", &[], b"").await;
            assert_eq!(r.status, 401);
            let r = request(
                addr,
                "GET",
                "/v1/admin/skills/audit?limit=0",
                &[auth.clone()],
                b"",
            )
            .await;
            assert_eq!(
                (r.status, r.body["error"]["code"].as_str()),
                (400, Some("invalid_limit"))
            );
            let r = request(
                addr,
                "GET",
                "/v1/admin/skills/audit?limit=100&skill=echo",
                &[auth.clone()],
                b"",
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let entries = r.body["entries"].as_array().unwrap();
            assert_eq!(entries.len(), 6, "{}", r.body);
            assert_eq!(entries[0]["outcome"], "error");
            assert_eq!(entries[0]["error_code"], "skill_not_found");
            assert_eq!(entries[1]["outcome"], "done");
            assert_eq!(entries[1]["version"], "0.1.0");
            assert_eq!(entries[1]["caller"], "http");
            assert!(entries[1]["duration_us"].as_i64().unwrap() > 0);
            assert!(
                !r.body.to_string().contains("110101199003074578"),
                "no input in the audit log"
            );
        }
    }
}
