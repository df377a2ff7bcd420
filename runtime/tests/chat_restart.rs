//! A skill dialog waiting for the user's answer survives a restart: the
//! second turn, on a freshly built server state over the same data
//! directory, continues the dialog the first turn opened. Lexical search and
//! no language model (the rules read the arguments), so it runs in seconds.

use std::path::PathBuf;
use std::sync::Arc;

use govassist::chat::{self, ChatEvent, ChatRequest, DoneInfo, SkillEvent};
use govassist::server::{build_state, StartOptions};
use govassist::Config;

fn config(data_dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.data_dir = data_dir.to_owned();
    config.kb.embedding_model = "none".into();
    config.skills.watch_interval_ms = 0;
    let skills = std::env::var_os("GOVASSIST_TEST_SKILLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-skills"));
    config.skills.dir = Some(skills);
    config
}

/// What one turn produced. `error` is set on the answer route, which needs the model these
/// states do not load; `session_id` comes from the `sources` or `done` event.
struct TurnResult {
    skill: Option<SkillEvent>,
    done: Option<DoneInfo>,
    text: String,
    session_id: Option<String>,
    error: Option<String>,
}

async fn turn(config: &Config, session: Option<&str>, message: &str) -> TurnResult {
    let state = Arc::new(
        build_state(config.clone(), StartOptions { load_model: false })
            .await
            .unwrap(),
    );
    let mut request = ChatRequest::new(message);
    request.session_id = session.map(str::to_owned);
    let mut events = chat::answer(state, request).await;
    let mut result = TurnResult {
        skill: None,
        done: None,
        text: String::new(),
        session_id: None,
        error: None,
    };
    while let Some(event) = events.recv().await {
        match event {
            ChatEvent::Skill(event) => result.skill = Some(event),
            ChatEvent::Done(info) => {
                result.session_id = Some(info.session_id.clone());
                result.done = Some(info);
            }
            ChatEvent::Token { text: piece } => result.text.push_str(&piece),
            ChatEvent::Error { code, .. } => result.error = Some(code.to_string()),
            ChatEvent::Sources { session_id, .. } => result.session_id = Some(session_id),
        }
    }
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_dialog_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    let first = turn(&config, None, "查一下我的预约").await;
    let (skill, done) = (
        first.skill.expect("the booking skill ran"),
        first.done.expect("a done event"),
    );
    assert_eq!(
        (skill.name.as_str(), skill.status),
        ("appointment-booking", "need_input"),
        "{done:?}"
    );
    assert_eq!(skill.fields, vec!["phone".to_owned()]);
    let session = done.session_id.clone();

    // A new state over the same directory: everything in memory is gone.
    let second = turn(&config, Some(&session), "13800138000").await;
    let (done, text) = (second.done.expect("a done event"), second.text);
    assert_eq!(done.session_id, session);
    let skill = second.skill.expect("the dialog continued");
    assert_eq!(skill.status, "done", "{text}");
    assert_eq!(skill.input["action"], "list");
    assert_eq!(
        skill.input["phone"], "〔电话1〕",
        "the skill event carries the placeholder"
    );
    assert_eq!(serde_json::to_value(done.route).unwrap(), "dialog");
    assert!(text.contains("没有预约"), "{text}");

    // The stored history has the phone masked.
    let sessions = govassist::sessions::SessionStore::open(&config.database_path()).unwrap();
    let turns = sessions.recent_turns(&session, 10).unwrap();
    assert_eq!(turns.len(), 4);
    assert!(
        turns.iter().all(|t| !t.text.contains("13800138000")),
        "{turns:?}"
    );

    // A made-up id reaches nothing: the turn runs in a new session under a server-made id, where
    // no dialog waits for a phone number (so it goes to the answer route, which needs the model).
    let third = turn(&config, Some("restart-1"), "查一下我的预约").await;
    let new_id = third.session_id.expect("the turn names its session");
    assert!(new_id != "restart-1" && new_id != session, "{new_id}");
    let fourth = turn(&config, Some("restart-1"), "13800138000").await;
    assert!(
        fourth.skill.is_none(),
        "no dialog of another session continued"
    );
    assert_eq!(fourth.error.as_deref(), Some("model_unavailable"));
}
