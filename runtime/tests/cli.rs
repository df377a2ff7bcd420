//! The command-line contracts of DESIGN.md, run against the real binary.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const TEACHER_CERT_ITEM: &str = "11440000006940116U2442102025000";

fn govassist(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_govassist"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("GOVASSIST_LOG", "warn")
        .output()
        .expect("the govassist binary runs")
}

fn stdout(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Data-driven: each query, in either script, finds the item in the top 5.
#[test]
fn kb_search_finds_a_known_item_in_simplified_and_traditional() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("教师资格证证书验证", TEACHER_CERT_ITEM),
        ("教師資格證證書驗證", TEACHER_CERT_ITEM),
        ("教师资格证书怎么验证", TEACHER_CERT_ITEM),
        ("教師資格證書怎麼驗證", TEACHER_CERT_ITEM),
    ];
    for (query, expected) in cases {
        let hits: Value = serde_json::from_str(&stdout(&govassist(
            dir.path(),
            &["kb", "search", query, "--k", "5", "--json"],
        )))
        .unwrap();
        let ids: Vec<&str> = hits
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["doc_id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&expected), "{query}: {ids:?}");
    }
}

#[test]
fn kb_eval_prints_the_contract_json_as_its_last_line() {
    let dir = tempfile::tempdir().unwrap();
    let questions = dir.path().join("questions.jsonl");
    std::fs::write(
        &questions,
        format!(
            "{{\"id\":\"q1\",\"question\":\"教师资格证证书验证\",\"expected_ids\":[\"{TEACHER_CERT_ITEM}\"]}}\n\
             {{\"id\":\"q2\",\"question\":\"不存在的事项名称\",\"expected_ids\":[\"NO_SUCH_ID\"]}}\n"
        ),
    )
    .unwrap();
    let out = stdout(&govassist(
        dir.path(),
        &["kb", "eval", "--questions", questions.to_str().unwrap()],
    ));
    let last: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for key in ["n", "recall@1", "recall@5", "mrr", "p50_ms", "p95_ms"] {
        assert!(keys.contains(&key), "missing {key} in {last}");
    }
    assert_eq!(last["n"], 2);
    assert_eq!(
        last["recall@5"], 0.5,
        "one of two questions is answerable: {last}"
    );
}

#[test]
fn unknown_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = govassist(dir.path(), &["models", "fetch", "no-such-model"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no-such-model") && stderr.contains("smollm2-135m"),
        "{stderr}"
    );
}

#[test]
fn skill_invoke_runs_a_bundled_skill_without_the_server() {
    let skills = std::env::var("GOVASSIST_TEST_SKILLS")
        .unwrap_or_else(|_| format!("{}/../target/test-skills", env!("CARGO_MANIFEST_DIR")));
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_govassist"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "skill", "invoke", "policy-matching", "--input"])
        .arg(r#"{"industry":"软件和信息技术服务业","size":"small","district":"福田区","founded_year":2018,"revenue_wan":3000,"headcount":60,"qualifications":["高新技术企业"]}"#)
        .env("GOVASSIST__SKILLS__DIR", &skills)
        .output()
        .unwrap();
    let outcome: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(outcome["status"], "done", "{outcome}");
    assert!(outcome["result"]["eligible"].is_array());
}
