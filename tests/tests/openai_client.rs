//! `/v1/chat/completions` with the official `openai` Python client as the
//! real client (`tests/openai/client.py`), against the test server.
//! `scripts/test.sh` installs the client (`scripts/install-openai-client.sh`).

use std::path::PathBuf;
use std::process::Command;

use govassist_e2e::server;

#[test]
fn the_official_openai_client_gets_answers_streams_and_errors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let python = target.join("openai-venv/bin/python");
    assert!(
        python.exists(),
        "the openai client is not installed at {}; run scripts/install-openai-client.sh (scripts/test.sh does)",
        python.display()
    );
    let output = Command::new(&python)
        .arg(root.join("tests/openai/client.py"))
        .arg(&server().base_url)
        .output()
        .expect("cannot run the openai client script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the openai client failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("streaming ok") && stdout.contains("bad request ok"),
        "{stdout}"
    );
}
