//! The walking skeleton end to end: the real server, real index, real model
//! (SmolLM2 fixture) and real skill, over real HTTP.

use govassist_e2e::{parse_sse, server};
use reqwest::blocking::Client;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// 教师资格证证书验证 — a service item of the bundled knowledge base.
const TEACHER_CERT_ITEM: &str = "11440000006940116U2442102025000";

fn client() -> Client {
    Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .unwrap()
}

fn post_json(path: &str, body: &str) -> reqwest::blocking::Response {
    client()
        .post(format!("{}{path}", server().base_url))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap()
}

fn assert_error(response: reqwest::blocking::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "status for expected code {code}");
    let body: Value = response.json().expect("error body is JSON");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
}

#[test]
fn chat_streams_sources_then_tokens_then_done() {
    let response = post_json(
        "/v1/chat",
        &json!({"message": "教师资格证证书验证需要什么材料？"}).to_string(),
    );
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_sse(&response.text().unwrap());
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names.first(), Some(&"sources"), "events: {names:?}");
    assert_eq!(names.last(), Some(&"done"), "events: {names:?}");
    assert!(!names.contains(&"error"), "events: {events:?}");

    let sources = events[0].data["sources"].as_array().unwrap();
    assert!(
        sources.iter().any(|s| s["doc_id"] == TEACHER_CERT_ITEM),
        "sources should name the item: {sources:?}"
    );
    let answer: String = events
        .iter()
        .filter(|e| e.name == "token")
        .map(|e| e.data["text"].as_str().unwrap())
        .collect();
    assert!(!answer.trim().is_empty());
    let done = &events.last().unwrap().data;
    assert!(done["generated_tokens"].as_u64().unwrap() > 0);
    let cited: Vec<&str> = done["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(!cited.is_empty());
    for id in &cited {
        assert!(
            sources.iter().any(|s| s["doc_id"] == *id),
            "cited {id} was not retrieved"
        );
        assert!(
            answer.contains(id),
            "the answer text names the cited id {id}: {answer}"
        );
    }
}

#[test]
fn chat_streams_json_lines_to_clients_without_sse() {
    let response = client()
        .post(format!("{}/v1/chat", server().base_url))
        .header("content-type", "application/json")
        .header("accept", "application/x-ndjson")
        .body(json!({"message": "教师资格证证书验证", "lang": "zh-Hans"}).to_string())
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let lines: Vec<Value> = response
        .text()
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["event"], "sources");
    assert_eq!(lines.last().unwrap()["event"], "done");
}

#[test]
fn kb_search_over_http_returns_ids_titles_passages_scores() {
    let response = client()
        .get(format!("{}/v1/kb/search", server().base_url))
        .query(&[("q", "教師資格證證書驗證"), ("k", "3")])
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    let hits = body["hits"].as_array().unwrap();
    assert!(hits.len() <= 3 && !hits.is_empty());
    assert!(
        hits.iter().any(|h| h["doc_id"] == TEACHER_CERT_ITEM),
        "{hits:?}"
    );
    for hit in hits {
        assert!(hit["title"].is_string() && hit["passage"].is_string() && hit["score"].is_number());
    }
}

#[test]
fn policy_matching_skill_answers_over_http() {
    let skills: Value = client()
        .get(format!("{}/v1/skills", server().base_url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        skills["skills"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "policy-matching"),
        "installed skills: {skills}"
    );

    let input = json!({
        "industry": "软件和信息技术服务业", "size": "small", "district": "福田区",
        "founded_year": 2018, "revenue_wan": 3000, "headcount": 60,
        "qualifications": ["高新技术企业"]
    });
    let response = post_json(
        "/v1/skills/policy-matching/invoke",
        &json!({"input": input}).to_string(),
    );
    assert_eq!(response.status(), StatusCode::OK);
    let outcome: Value = response.json().unwrap();
    assert_eq!(outcome["status"], "done", "{outcome}");
    let eligible = outcome["result"]["eligible"].as_array().unwrap();
    assert!(
        !eligible.is_empty(),
        "a small high-tech software firm qualifies for something: {outcome}"
    );
    for policy in eligible {
        assert!(
            !policy["reasons"].as_array().unwrap().is_empty(),
            "each match says why: {policy}"
        );
    }

    // Too little to judge: the skill asks for more instead of guessing.
    let response = post_json(
        "/v1/skills/policy-matching/invoke",
        r#"{"input": {}, "lang": "en"}"#,
    );
    let outcome: Value = response.json().unwrap();
    assert_eq!(outcome["status"], "need_input", "{outcome}");
    assert!(!outcome["fields"].as_array().unwrap().is_empty());
}

#[test]
fn bad_input_gets_a_clear_4xx_and_the_server_keeps_serving() {
    assert_error(
        post_json("/v1/chat", "{\"message\": "),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    );
    assert_error(
        post_json("/v1/chat", r#"{"message": "   "}"#),
        StatusCode::BAD_REQUEST,
        "empty_message",
    );
    assert_error(
        post_json("/v1/chat", r#"{"text": "hi"}"#),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );
    let oversized = json!({ "message": "办".repeat(20_000) }).to_string();
    assert_error(
        post_json("/v1/chat", &oversized),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
    );
    assert_error(
        post_json("/v1/skills/no-such-skill/invoke", r#"{"input": {}}"#),
        StatusCode::NOT_FOUND,
        "skill_not_found",
    );

    let search = |q: &str, k: &str| {
        client()
            .get(format!("{}/v1/kb/search", server().base_url))
            .query(&[("q", q), ("k", k)])
            .send()
            .unwrap()
    };
    assert_error(search("   ", "5"), StatusCode::BAD_REQUEST, "empty_query");
    assert_error(
        search("营业执照", "0"),
        StatusCode::BAD_REQUEST,
        "invalid_k",
    );
    assert_error(
        search("营业执照", "many"),
        StatusCode::BAD_REQUEST,
        "invalid_k",
    );
    // Query syntax is never interpreted: these are searched as plain text.
    for odd in [
        "title:(AND OR \"",
        "😀😀😀",
        "！？。，",
        &"营业执照".repeat(300),
    ] {
        let status = search(odd, "5").status();
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{odd:?} gave {status}"
        );
    }
    assert_error(
        client()
            .get(format!("{}/v1/nowhere", server().base_url))
            .send()
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // Still serving.
    let health: Value = client()
        .get(format!("{}/healthz", server().base_url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert!(search("教师资格证证书验证", "5").status().is_success());
}

#[test]
fn page_widget_and_metrics_are_served() {
    let page = client().get(&server().base_url).send().unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().unwrap().contains("/widget.js"));
    let widget = client()
        .get(format!("{}/widget.js", server().base_url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(widget.contains("/v1/chat"));
    let metrics = client()
        .get(format!("{}/metrics", server().base_url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("# TYPE govassist_http_requests_total counter"));
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("govassist_kb_documents ") && !l.ends_with(" 0")));
}

#[test]
fn openai_compatible_completions_answer_with_sources() {
    let request = json!({
        "model": "govassist",
        "messages": [
            {"role": "system", "content": "ignored: the server keeps its own rules"},
            {"role": "user", "content": "教师资格证证书验证需要什么材料？"}
        ]
    });
    let response = post_json("/v1/chat/completions", &request.to_string());
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(!body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .trim()
        .is_empty());
    assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(
        body["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["doc_id"] == TEACHER_CERT_ITEM),
        "{body}"
    );

    let mut streaming = request.clone();
    streaming["stream"] = json!(true);
    let text = post_json("/v1/chat/completions", &streaming.to_string())
        .text()
        .unwrap();
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"),
        "{text}"
    );
    assert!(chunks
        .iter()
        .any(|c| c["choices"][0]["delta"]["content"].is_string()));

    assert_error(
        post_json(
            "/v1/chat/completions",
            r#"{"messages": [{"role": "user", "content": ""}]}"#,
        ),
        StatusCode::BAD_REQUEST,
        "empty_message",
    );
}

#[test]
fn a_question_without_evidence_gets_the_honest_fixed_reply_not_a_guess() {
    let response = post_json(
        "/v1/chat",
        &json!({"message": "qwertyuiop zxcvbnm"}).to_string(),
    );
    let events = parse_sse(&response.text().unwrap());
    let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["sources", "token", "done"], "{events:?}");
    assert!(events[0].data["sources"].as_array().unwrap().is_empty());
    assert!(
        events[1].data["text"].as_str().unwrap().contains("12345"),
        "{events:?}"
    );
    assert_eq!(
        events[2].data["generated_tokens"], 0,
        "the model is not asked without sources"
    );
    assert!(events[2].data["citations"].as_array().unwrap().is_empty());
}
