//! Loads and runs the real bundled skills, built from `skills/` once per test
//! run with `build::build_skills` (or taken from `GOVASSIST_TEST_SKILLS` when
//! set, e.g. in CI after a separate build step).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use govassist_skill_host::{build, HostServices, KbHit, Outcome, SkillError, SkillHost};
use serde_json::{json, Value};

/// In-memory services: a real compare-and-set store and no knowledge base.
#[derive(Default)]
struct MemServices {
    kv: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl HostServices for MemServices {
    fn kb_search(&self, _query: &str, _k: u32) -> Vec<KbHit> {
        Vec::new()
    }

    fn kv_get(&self, skill: &str, key: &str) -> Option<Vec<u8>> {
        self.kv
            .lock()
            .unwrap()
            .get(&(skill.to_owned(), key.to_owned()))
            .cloned()
    }

    fn kv_put_if(&self, skill: &str, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        let mut kv = self.kv.lock().unwrap();
        let k = (skill.to_owned(), key.to_owned());
        if kv.get(&k).map(Vec::as_slice) != expect {
            return false;
        }
        kv.insert(k, value.to_vec());
        true
    }
}

/// The directory of installed skills, built at most once per test binary.
fn installed() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("GOVASSIST_TEST_SKILLS") {
            return Ok(PathBuf::from(dir));
        }
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skills-test");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
        eprintln!(
            "building the bundled skills into {} (set GOVASSIST_TEST_SKILLS to skip)",
            out.display()
        );
        build::build_skills(&root, &out)
            .map(|_| out)
            .map_err(|e| e.to_string())
    });
    match dir {
        Ok(dir) => dir,
        Err(e) => panic!("cannot build the bundled skills: {e}"),
    }
}

/// The `spin` test fixture (`skills/fixtures/spin`), installed into its own
/// directory so that it is never mistaken for a bundled skill.
fn spin_fixture() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("skills-fixtures");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
        build::build_crates(&root, &[root.join("fixtures/spin")], &out)
            .map(|_| out.join("spin"))
            .map_err(|e| e.to_string())
    });
    match dir {
        Ok(dir) => dir,
        Err(e) => panic!("cannot build the spin fixture: {e}"),
    }
}

fn host() -> SkillHost {
    let host = SkillHost::new(Arc::new(MemServices::default())).expect("engine");
    for loaded in host.load_dir(installed()) {
        loaded.expect("bundled skill loads");
    }
    host
}

/// A copy of an installed skill with its manifest edited, for negative tests.
fn variant(name: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = installed().join(name);
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
    }
    let manifest = tmp.path().join("skill.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, edit(text)).unwrap();
    tmp
}

fn done(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Done { result } => result,
        other => panic!("expected done, got {other:?}"),
    }
}

const HIGH_TECH_MANUFACTURER: &str = r#"{"industry": "制造业", "size": "small", "district": "福田区",
    "founded_year": 2019, "revenue_wan": 1500, "headcount": 40, "qualifications": ["高新技术企业"]}"#;

#[test]
fn lists_the_bundled_skills_with_their_schema() {
    let host = host();
    let skills = host.skills();
    let names: Vec<_> = skills.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["policy-matching", "template"]);
    let pm = &skills[0];
    assert_eq!(pm.version, "0.1.0");
    assert!(
        pm.input_schema["properties"]["revenue_wan"].is_object(),
        "{}",
        pm.input_schema
    );
    assert!(!pm.examples.is_empty());
    let caps = serde_json::to_value(&pm.capabilities).unwrap();
    assert_eq!(caps, json!(["log", "clock"]));
}

#[test]
fn policy_matching_finds_policies_with_reasons() {
    let host = host();
    let input: Value = serde_json::from_str(HIGH_TECH_MANUFACTURER).unwrap();
    let result = done(host.invoke("policy-matching", &input, "zh-Hans").unwrap());
    let award = result["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "P-2025-01")
        .unwrap_or_else(|| panic!("high-tech award missing: {result}"));
    assert_eq!(award["name"], "国家高新技术企业认定奖励");
    assert_eq!(award["reasons"].as_array().unwrap().len(), 3);
    let near: Vec<_> = result["near_misses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert!(near.contains(&json!("P-2025-06")), "{result}");
    // The whole response serialises the way the HTTP API sends it.
    let wire = serde_json::to_value(host.invoke("policy-matching", &input, "en").unwrap()).unwrap();
    assert_eq!(wire["status"], "done");
    assert_eq!(
        wire["result"]["eligible"][0]["benefit"],
        "one-off award of CNY 200,000"
    );
}

#[test]
fn policy_matching_asks_for_missing_fields_in_the_users_language() {
    let host = host();
    match host.invoke("policy-matching", &json!({}), "zh-TW").unwrap() {
        Outcome::NeedInput { fields, prompt } => {
            assert!(fields.iter().any(|f| f == "district"), "{fields:?}");
            assert!(prompt.starts_with("為匹配"), "{prompt}");
        }
        other => panic!("expected need_input, got {other:?}"),
    }
}

#[test]
fn template_greets() {
    let host = host();
    let result = done(
        host.invoke("template", &json!({"name": "Li"}), "en")
            .unwrap(),
    );
    assert_eq!(result, json!({"greeting": "Hello, Li"}));
}

#[test]
fn unknown_skill_is_not_found_and_the_clients_fault() {
    let err = host()
        .invoke("no-such-skill", &json!({}), "en")
        .unwrap_err();
    assert!(matches!(err, SkillError::NotFound { .. }));
    assert_eq!(err.code(), "skill_not_found");
    assert!(err.is_client_error());
}

#[test]
fn bad_requests_are_rejected_before_running_the_skill() {
    let host = host();
    let not_object = host
        .invoke("policy-matching", &json!([1, 2]), "en")
        .unwrap_err();
    assert_eq!(not_object.code(), "invalid_input");
    let huge = json!({ "industry": "x".repeat(10_000) }); // manifest: max_input_bytes = 8192
    let err = host.invoke("policy-matching", &huge, "en").unwrap_err();
    assert_eq!(err.code(), "input_too_large");
    assert!(err.is_client_error());
    assert_eq!(
        host.invoke("policy-matching", &json!({}), "fr")
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

#[test]
fn unknown_capability_in_manifest_is_rejected() {
    let dir = variant("policy-matching", |m| {
        m.replace(r#"["log", "clock"]"#, r#"["log", "clock", "net"]"#)
    });
    let err = host().load_skill(dir.path()).unwrap_err();
    assert_eq!(err.code(), "invalid_manifest");
    assert!(
        err.to_string().contains("unknown capability `net`"),
        "{err}"
    );
}

#[test]
fn ungranted_capability_fails_that_call_only() {
    let dir = variant("policy-matching", |m| {
        m.replace(r#"["log", "clock"]"#, r#"["log"]"#)
    });
    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    host.load_skill(dir.path())
        .expect("loads: describe needs no clock");
    // founded_year needs the clock.
    let input: Value = serde_json::from_str(HIGH_TECH_MANUFACTURER).unwrap();
    let err = host.invoke("policy-matching", &input, "en").unwrap_err();
    assert!(
        matches!(
            err,
            SkillError::CapabilityDenied {
                capability: "clock",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string().split(';').next().unwrap(),
        "capability `clock` not granted to skill `policy-matching`"
    );
    assert!(!err.is_client_error());
    // Without founded_year the same skill still works.
    let ok = host.invoke(
        "policy-matching",
        &json!({"district": "福田区", "size": "small", "qualifications": ["专精特新"]}),
        "en",
    );
    assert!(matches!(ok, Ok(Outcome::Done { .. })), "{ok:?}");
}

#[test]
fn manifest_must_match_the_components_own_description() {
    let dir = variant("policy-matching", |m| {
        m.replace("version = \"0.1.0\"", "version = \"9.9.9\"")
    });
    let err = host().load_skill(dir.path()).unwrap_err();
    assert_eq!(err.code(), "invalid_component");
    assert!(
        err.to_string()
            .contains("describes itself as `policy-matching` 0.1.0"),
        "{err}"
    );
}

#[test]
fn memory_cap_is_enforced() {
    // A Rust guest's initial memory (1 MiB stack plus data) exceeds 1 MiB.
    let dir = variant("policy-matching", |m| {
        m.replace("memory_mb = 32", "memory_mb = 1")
    });
    let err = host().load_skill(dir.path()).unwrap_err();
    assert_eq!(err.code(), "skill_memory_limit", "{err}");
}

#[test]
fn one_bad_skill_does_not_stop_the_others_loading() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("policy-matching");
    std::fs::create_dir(&good).unwrap();
    for entry in std::fs::read_dir(installed().join("policy-matching")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, good.join(path.file_name().unwrap())).unwrap();
    }
    let bad = root.path().join("broken");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("skill.toml"),
        "name = \"broken\"\nversion = \"1\"\n",
    )
    .unwrap();
    std::fs::write(bad.join("broken.wasm"), b"not wasm").unwrap();

    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    let results = host.load_dir(root.path());
    assert_eq!(results.len(), 2);
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let err = results.into_iter().find_map(Result::err).unwrap();
    assert_eq!(err.code(), "invalid_component");
    assert_eq!(host.skills().len(), 1);
}

#[test]
fn unload_removes_a_skill() {
    let host = host();
    assert!(host.unload("template"));
    assert_eq!(
        host.invoke("template", &json!({}), "en")
            .unwrap_err()
            .code(),
        "skill_not_found"
    );
    assert!(!host.unload("template"));
}

#[test]
fn runaway_skills_hit_their_limits_and_the_host_carries_on() {
    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    host.load_skill(spin_fixture()).expect("spin loads");

    let started = Instant::now();
    let err = host
        .invoke("spin", &json!({"mode": "loop"}), "en")
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), "skill_timeout", "{err}");
    assert!(err.to_string().contains("50 ms"), "{err}");
    assert!(
        took >= Duration::from_millis(50) && took < Duration::from_secs(10),
        "stopped after {took:?}"
    );

    let err = host
        .invoke("spin", &json!({"mode": "alloc"}), "en")
        .unwrap_err();
    assert_eq!(err.code(), "skill_memory_limit", "{err}");

    let ok = host.invoke("spin", &json!({"mode": "ok"}), "en").unwrap();
    assert_eq!(
        ok,
        Outcome::Done {
            result: json!({"ok": true})
        }
    );
}

