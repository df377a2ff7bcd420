//! Multi-turn conversations, as data: each file in `tests/dialogs/` is a list
//! of dialogs, each a list of turns (what the user says, what must happen).
//! Run against the real server (SmolLM2, the bundled knowledge base, the
//! built skills), each dialog in its own session.
//!
//! A turn's expectations (all optional):
//! - `route`: `answer`, `no_evidence`, `skill`, `dialog`, `cancelled`, `handoff`, `declined`;
//! - `skill`, `status`: the skill that ran and its outcome (`done`, `need_input`, `failed`);
//! - `input`: arguments the skill must have been called with (a JSON object; each key compared);
//! - `fields`: the skill asked for at least these fields;
//! - `declined`, `decline_reason`: the structured decline;
//! - `reply_contains`, `reply_lacks`: text of the reply.

use std::path::PathBuf;

use govassist_e2e::{parse_sse, server};
use serde_json::{json, Value};

fn dialog_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dialogs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dialog files in {}", dir.display());
    files
}

struct Reply {
    text: String,
    skill: Option<Value>,
    done: Value,
}

/// One turn in `session`: the first turn leaves it `None` and adopts the id the server made, as
/// the widget does (a client cannot choose a new session's id).
fn say(session: &mut Option<String>, message: &str) -> Reply {
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(300))
        .build()
        .unwrap();
    let response = client
        .post(format!("{}/v1/chat", server().base_url))
        .json(&json!({ "session_id": session.as_deref(), "message": message }))
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "{message}: status {}",
        response.status()
    );
    let events = parse_sse(&response.text().unwrap());
    assert!(
        !events.iter().any(|e| e.name == "error"),
        "{message}: {events:?}"
    );
    let done = events
        .iter()
        .find(|e| e.name == "done")
        .map(|e| e.data.clone())
        .expect("a done event");
    let id = done["session_id"]
        .as_str()
        .expect("the done event names the session")
        .to_owned();
    if let Some(previous) = session.as_deref() {
        assert_eq!(
            previous, id,
            "{message}: the turn continued the same session"
        );
    }
    *session = Some(id);
    Reply {
        text: events
            .iter()
            .filter(|e| e.name == "token")
            .map(|e| e.data["text"].as_str().unwrap_or_default())
            .collect(),
        skill: events
            .iter()
            .find(|e| e.name == "skill")
            .map(|e| e.data.clone()),
        done,
    }
}

fn check_turn(where_: &str, turn: &Value, reply: &Reply) {
    let context = || {
        format!(
            "{where_}\n  reply: {}\n  skill: {:?}\n  done: {}",
            reply.text, reply.skill, reply.done
        )
    };
    if let Some(route) = turn.get("route") {
        assert_eq!(&reply.done["route"], route, "route; {}", context());
    }
    if let Some(skill) = turn.get("skill") {
        assert_eq!(
            reply.skill.as_ref().map(|s| &s["name"]),
            Some(skill),
            "skill; {}",
            context()
        );
    }
    if let Some(status) = turn.get("status") {
        assert_eq!(
            reply.skill.as_ref().map(|s| &s["status"]),
            Some(status),
            "status; {}",
            context()
        );
    }
    if let Some(expected) = turn.get("input").and_then(Value::as_object) {
        let input = &reply
            .skill
            .as_ref()
            .unwrap_or_else(|| panic!("no skill ran; {}", context()))["input"];
        for (key, value) in expected {
            assert_eq!(&input[key], value, "argument `{key}`; {}", context());
        }
    }
    if let Some(fields) = turn.get("fields").and_then(Value::as_array) {
        let asked = &reply
            .skill
            .as_ref()
            .unwrap_or_else(|| panic!("no skill ran; {}", context()))["fields"];
        for field in fields {
            assert!(
                asked.as_array().is_some_and(|a| a.contains(field)),
                "asked for {field}; {}",
                context()
            );
        }
    }
    if let Some(declined) = turn.get("declined") {
        assert_eq!(&reply.done["declined"], declined, "declined; {}", context());
    }
    if let Some(reason) = turn.get("decline_reason") {
        assert_eq!(
            &reply.done["decline_reason"],
            reason,
            "decline reason; {}",
            context()
        );
    }
    for text in turn
        .get("reply_contains")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert!(
            reply.text.contains(text.as_str().unwrap()),
            "reply should contain {text}; {}",
            context()
        );
    }
    for text in turn
        .get("reply_lacks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert!(
            !reply.text.contains(text.as_str().unwrap()),
            "reply should not contain {text}; {}",
            context()
        );
    }
}

#[test]
fn dialogs_from_files() {
    let mut count = 0;
    for file in dialog_files() {
        let dialogs: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for dialog in dialogs.as_array().expect("a list of dialogs") {
            let name = dialog["name"].as_str().unwrap_or("unnamed");
            let mut session = None;
            for (t, turn) in dialog["turns"]
                .as_array()
                .expect("turns")
                .iter()
                .enumerate()
            {
                let message = turn["say"].as_str().expect("say");
                let reply = say(&mut session, message);
                check_turn(
                    &format!(
                        "{}: dialog `{name}`, turn {} ({message})",
                        file.display(),
                        t + 1
                    ),
                    turn,
                    &reply,
                );
            }
            count += 1;
        }
    }
    assert!(count >= 5, "only {count} dialogs ran");

    // Staff see the handoffs the dialogs asked for: masked questions, never personal values.
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/v1/admin/handoffs?status=open", server().base_url);
    assert_eq!(
        client.get(&url).send().unwrap().status(),
        401,
        "handoffs need the admin credential"
    );
    let listed: Value = client
        .get(&url)
        .header(
            "Authorization",
            format!("Bearer {}", govassist_e2e::ADMIN_TOKEN),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    let handoffs = listed["handoffs"].as_array().expect("a list of handoffs");
    assert!(
        handoffs
            .iter()
            .any(|h| h["reason"] == "requested" && h["question"] == "转人工"),
        "the requested handoff is listed: {listed}"
    );
    let id = handoffs[0]["id"].as_i64().unwrap();
    let closed = client
        .post(format!("{}/v1/admin/handoffs/{id}", server().base_url))
        .header(
            "Authorization",
            format!("Bearer {}", govassist_e2e::ADMIN_TOKEN),
        )
        .json(&json!({"status": "done"}))
        .send()
        .unwrap();
    assert_eq!(closed.status(), 400, "an unknown status is refused");

    // The dialogs above gave an ID number, phones and an e-mail address; none of them may be in the
    // server's log, at debug level, in any form.
    let log = govassist_e2e::log_text();
    assert!(
        log.contains("chat turn answered"),
        "the log is being written"
    );
    for value in [
        "110101199003074514",
        "13800138000",
        "13912345678",
        "li.ming@example.com",
        "138 0013 8000",
    ] {
        assert!(
            !log.contains(value),
            "a personal value reached the log: {value}"
        );
    }
}
