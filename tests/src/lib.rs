//! Helpers for the end-to-end tests: one real `govassist` server per test
//! binary, on a loopback port, with its own data directory, the bundled
//! knowledge base, the built skills and the SmolLM2 test model.

use std::path::PathBuf;
use std::sync::OnceLock;

use govassist::{Config, RunningServer, StartOptions};

pub struct TestServer {
    pub base_url: String,
    pub data_dir: PathBuf,
    // Kept alive for the whole test binary: the server runs on this runtime
    // and stores its files in this directory.
    _runtime: tokio::runtime::Runtime,
    _server: RunningServer,
    _dir: tempfile::TempDir,
}

/// The skills the test script built (`scripts/test.sh` sets this); falls back
/// to the place it builds them into.
/// The test server's admin credential (`Authorization: Bearer …`).
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub fn skills_dir() -> PathBuf {
    std::env::var_os("GOVASSIST_TEST_SKILLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-skills"))
}

pub fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| start().expect("cannot start the test server"))
}

/// Where the test server's log goes: everything it logs at debug level, so
/// that tests can check what never reaches a log (personal data).
pub fn log_path() -> PathBuf {
    server().data_dir.join("server.log")
}

/// The server's log so far.
pub fn log_text() -> String {
    std::fs::read_to_string(log_path()).unwrap_or_default()
}

fn start() -> anyhow::Result<TestServer> {
    let dir = tempfile::tempdir()?;
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    // Debug level for our crates: the strictest test of what logs may contain.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,govassist=debug,govassist_skill_host=debug,govassist_llm=debug,govassist_kb=debug"))
        .with_writer(std::sync::Mutex::new(log))
        .with_ansi(false)
        .try_init();
    let mut config = Config::default();
    config.data_dir = dir.path().to_owned();
    config.server.bind = "127.0.0.1:0".into();
    config.server.max_body_bytes = 16 * 1024;
    config.llm.model = "smollm2-135m".into();
    config.llm.max_tokens = 24;
    config.skills.dir = Some(skills_dir());
    config.server.admin_token = Some(ADMIN_TOKEN.into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let server = runtime.block_on(govassist::start(config, StartOptions { load_model: true }))?;
    Ok(TestServer {
        base_url: format!("http://{}", server.addr),
        data_dir: dir.path().to_owned(),
        _runtime: runtime,
        _server: server,
        _dir: dir,
    })
}

/// One server-sent event.
#[derive(Debug)]
pub struct Event {
    pub name: String,
    pub data: serde_json::Value,
}

/// Splits a complete `text/event-stream` body into events (comments skipped).
pub fn parse_sse(body: &str) -> Vec<Event> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            let data = serde_json::from_str(&data).ok()?;
            Some(Event { name: name?, data })
        })
        .collect()
}
