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

async fn turn(config: &Config, session: &str, message: &str) -> (Option<SkillEvent>, DoneInfo, String) {
    let state = Arc::new(build_state(config.clone(), StartOptions { load_model: false }).await.unwrap());
    let mut request = ChatRequest::new(message);
    request.session_id = Some(session.to_owned());
    let mut events = chat::answer(state, request).await;
    let (mut skill, mut done, mut text) = (None, None, String::new());
    while let Some(event) = events.recv().await {
        match event {
            ChatEvent::Skill(event) => skill = Some(event),
            ChatEvent::Done(info) => done = Some(info),
            ChatEvent::Token { text: piece } => text.push_str(&piece),
            ChatEvent::Error { code, message } => panic!("{code}: {message}"),
            ChatEvent::Sources { .. } => {}
        }
    }
    (skill, done.expect("a done event"), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_dialog_continues_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());

    let (skill, done, _) = turn(&config, "restart-1", "查一下我的预约").await;
    let skill = skill.expect("the booking skill ran");
    assert_eq!((skill.name.as_str(), skill.status), ("appointment-booking", "need_input"), "{done:?}");
    assert_eq!(skill.fields, vec!["phone".to_owned()]);

    // A new state over the same directory: everything in memory is gone.
    let (skill, done, text) = turn(&config, "restart-1", "13800138000").await;
    let skill = skill.expect("the dialog continued");
    assert_eq!(skill.status, "done", "{text}");
    assert_eq!(skill.input["action"], "list");
    assert_eq!(skill.input["phone"], "〔电话1〕", "the skill event carries the placeholder");
    assert_eq!(serde_json::to_value(done.route).unwrap(), "dialog");
    assert!(text.contains("没有预约"), "{text}");

    // The stored history has the phone masked.
    let sessions = govassist::sessions::SessionStore::open(&config.database_path()).unwrap();
    let turns = sessions.recent_turns("restart-1", 10).unwrap();
    assert_eq!(turns.len(), 4);
    assert!(turns.iter().all(|t| !t.text.contains("13800138000")), "{turns:?}");
}
