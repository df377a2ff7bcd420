//! Loads and runs the real bundled skills, built from `skills/` once per test
//! run with `build::build_skills` (or taken from `GOVASSIST_TEST_SKILLS` when
//! set, e.g. in CI after a separate build step).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use govassist_skill_host::{
    bench, build, CacheStatus, HostServices, InvocationRecord, KbHit, Outcome, SkillError,
    SkillHost,
};
use serde_json::{json, Value};

/// One audit record as the test services keep it.
#[derive(Debug, Clone, PartialEq)]
struct Audited {
    skill: String,
    version: Option<String>,
    caller: String,
    outcome: &'static str,
    error_code: Option<&'static str>,
}

/// In-memory services: a real compare-and-set store, no knowledge base, and
/// an audit log in a vector.
#[derive(Default)]
struct MemServices {
    kv: Mutex<HashMap<(String, String), Vec<u8>>>,
    audit: Mutex<Vec<Audited>>,
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

    fn record_invocation(&self, r: &InvocationRecord<'_>) {
        self.audit.lock().unwrap().push(Audited {
            skill: r.skill.to_owned(),
            version: r.version.map(str::to_owned),
            caller: r.caller.to_owned(),
            outcome: r.outcome,
            error_code: r.error_code,
        });
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

/// The test fixtures (`skills/fixtures/*`: `spin`, `bigout`, `echo`),
/// installed into their own directory so that they are never mistaken for
/// bundled skills; `echo-v2` (skill `echo` 0.2.0) into another.
fn fixtures() -> &'static (PathBuf, PathBuf) {
    static DIRS: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let dirs = DIRS.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
        let crates = ["spin", "bigout", "echo"].map(|c| root.join("fixtures").join(c));
        let v1 = tmp.join("skills-fixtures");
        let v2 = tmp.join("skills-fixtures-v2");
        build::build_crates(&root, &crates, &v1)
            .and_then(|_| build::build_crates(&root, &[root.join("fixtures/echo-v2")], &v2))
            .map(|_| (v1, v2))
            .map_err(|e| e.to_string())
    });
    match dirs {
        Ok(dirs) => dirs,
        Err(e) => panic!("cannot build the test fixtures: {e}"),
    }
}

fn fixture(name: &str) -> PathBuf {
    fixtures().0.join(name)
}

/// The installed `echo` fixture at `version` 0.1.0 or 0.2.0.
fn echo_dir(version: &str) -> PathBuf {
    match version {
        "0.1.0" => fixtures().0.join("echo"),
        "0.2.0" => fixtures().1.join("echo"),
        other => panic!("no echo {other}"),
    }
}

/// `(skill.toml text, component bytes)` of an installed skill directory.
fn upload(dir: &Path) -> (String, Vec<u8>) {
    let manifest = std::fs::read_to_string(dir.join("skill.toml")).unwrap();
    let wasm = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "wasm"))
        .unwrap();
    (manifest, std::fs::read(wasm).unwrap())
}

/// Copy the skill directory `src` to `dest` (without its precompiled cache
/// unless `with_cache`).
fn copy_skill(src: &Path, dest: &Path, with_cache: bool) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if !with_cache && path.extension().is_some_and(|e| e == "cwasm") {
            continue;
        }
        std::fs::copy(&path, dest.join(path.file_name().unwrap())).unwrap();
    }
}

fn echo_version(host: &SkillHost) -> String {
    let out = done(host.invoke("echo", &json!({"n": 1}), "en").unwrap());
    out["version"].as_str().unwrap().to_owned()
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
    assert!(
        names.contains(&"policy-matching") && names.contains(&"template"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| ["spin", "echo", "bigout"].contains(n)),
        "no fixtures: {names:?}"
    );
    let pm = skills.iter().find(|s| s.name == "policy-matching").unwrap();
    assert_eq!(pm.sha256.len(), 64);
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
    host.load_skill(&fixture("spin")).expect("spin loads");

    let started = Instant::now();
    let err = host
        .invoke("spin", &json!({"mode": "loop"}), "en")
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code(), "skill_timeout", "{err}");
    assert!(err.to_string().contains("500 ms"), "{err}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(10),
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

/// Invoke `echo` from two threads until `stop`; returns (successes, failures).
fn background_load(
    host: &Arc<SkillHost>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(usize, Vec<String>)>> {
    (0..2)
        .map(|i| {
            let host = Arc::clone(host);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                let (mut ok, mut failures) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) {
                    match host.invoke("echo", &json!({ "thread": i }), "en") {
                        Ok(Outcome::Done { .. }) => ok += 1,
                        other => failures.push(format!("{other:?}")),
                    }
                }
                (ok, failures)
            })
        })
        .collect()
}

#[test]
fn hostile_skills_fail_alone_while_others_keep_serving() {
    let host = Arc::new(SkillHost::new(Arc::new(MemServices::default())).unwrap());
    for name in ["spin", "bigout", "echo"] {
        host.load_skill(&fixture(name)).expect("fixture loads");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = background_load(&host, &stop);

    let cases: [(&str, Value, &[&str]); 7] = [
        ("spin", json!({"mode": "loop"}), &["skill_timeout"]),
        ("spin", json!({"mode": "alloc"}), &["skill_memory_limit"]),
        // Rust guests keep their stack in linear memory: running off its end
        // is an out-of-bounds access unless the wasm stack overflows first.
        (
            "spin",
            json!({"mode": "recurse"}),
            &["skill_stack_overflow", "skill_trap"],
        ),
        ("spin", json!({"mode": "panic"}), &["skill_trap"]),
        ("spin", json!({"mode": "unreachable"}), &["skill_trap"]),
        ("spin", json!({"mode": "kv"}), &["capability_denied"]),
        ("bigout", json!({}), &["output_too_large"]),
    ];
    for (skill, input, codes) in cases {
        for _ in 0..3 {
            let started = Instant::now();
            let err = host.invoke(skill, &input, "en").unwrap_err();
            eprintln!(
                "{skill} {input}: {} after {:?}: {}",
                err.code(),
                started.elapsed(),
                err.to_string().lines().next().unwrap_or("")
            );
            assert!(codes.contains(&err.code()), "{skill} {input}: {err}");
            assert!(!err.is_client_error());
            assert!(started.elapsed() < Duration::from_secs(5));
        }
    }
    assert_eq!(
        done(host.invoke("spin", &json!({"mode": "ok"}), "en").unwrap()),
        json!({"ok": true})
    );

    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut failures) = (0, Vec::new());
    for h in load {
        let (o, f) = h.join().unwrap();
        ok += o;
        failures.extend(f);
    }
    eprintln!("{ok} concurrent echo calls succeeded while the hostile ones ran");
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ok > 100, "only {ok} concurrent calls");
}

#[test]
fn every_invocation_is_audited_without_its_input() {
    let services = Arc::new(MemServices::default());
    let host = SkillHost::new(services.clone()).unwrap();
    host.load_skill(&fixture("spin")).unwrap();
    host.invoke_as("http", "spin", &json!({"mode": "ok"}), "en", &[])
        .unwrap();
    host.invoke_as("chat", "spin", &json!({"mode": "kv"}), "en", &[])
        .unwrap_err();
    host.invoke_as("cli", "nope", &json!({}), "en", &[])
        .unwrap_err();
    let audit = services.audit.lock().unwrap().clone();
    let spin = |caller: &str, outcome, error_code| Audited {
        skill: "spin".into(),
        version: Some("0.1.0".into()),
        caller: caller.into(),
        outcome,
        error_code,
    };
    assert_eq!(
        audit,
        [
            spin("http", "done", None),
            spin("chat", "error", Some("capability_denied")),
            Audited {
                skill: "nope".into(),
                version: None,
                caller: "cli".into(),
                outcome: "error",
                error_code: Some("skill_not_found"),
            },
        ]
    );
}

#[test]
fn precompiled_cache_is_reused_and_a_corrupt_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let skill = dir.path().join("echo");
    copy_skill(&echo_dir("0.1.0"), &skill, false);
    let cache = skill.join("echo.cwasm");

    let load = || {
        let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
        let started = Instant::now();
        let (_, status) = host.load_skill_cached(&skill).unwrap();
        let took = started.elapsed();
        assert_eq!(echo_version(&host), "0.1.0");
        (status, took)
    };
    let (status, cold) = load();
    assert_eq!(status, CacheStatus::Compiled);
    assert!(cache.is_file());
    let (status, warm) = load();
    assert_eq!(status, CacheStatus::Hit);
    eprintln!("load: compiled {cold:?}, from the cache {warm:?}");

    // A flipped bit in the native code, a truncated file, a foreign file:
    // never deserialised, compiled again and rewritten.
    let good = std::fs::read(&cache).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    for bad in [
        flipped,
        good[..good.len() / 2].to_vec(),
        b"GASKCW01 garbage".to_vec(),
    ] {
        std::fs::write(&cache, &bad).unwrap();
        assert_eq!(load().0, CacheStatus::Replaced);
        assert_eq!(std::fs::read(&cache).unwrap(), good, "rewritten");
    }
    // Another component in the same place does not get this entry.
    std::fs::copy(echo_dir("0.2.0").join("echo.wasm"), skill.join("echo.wasm")).unwrap();
    std::fs::copy(
        echo_dir("0.2.0").join("skill.toml"),
        skill.join("skill.toml"),
    )
    .unwrap();
    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    assert_eq!(
        host.load_skill_cached(&skill).unwrap().1,
        CacheStatus::Replaced
    );
    assert_eq!(echo_version(&host), "0.2.0");
}

/// A host managing an empty skills directory.
fn managed_host() -> (Arc<SkillHost>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(SkillHost::new(Arc::new(MemServices::default())).unwrap());
    host.manage(dir.path());
    (host, dir)
}

/// Every file under `dir`, with its contents, for "nothing changed" checks.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn deployments_are_validated_swapped_and_can_be_rolled_back() {
    let (host, dir) = managed_host();
    let (m1, c1) = upload(&echo_dir("0.1.0"));
    let (m2, c2) = upload(&echo_dir("0.2.0"));

    let first = host.deploy("echo", &m1, &c1, false).unwrap();
    assert_eq!(first.skill.version, "0.1.0");
    assert_eq!(first.previous_version, None);
    assert_eq!(echo_version(&host), "0.1.0");
    let second = host.deploy("echo", &m2, &c2, false).unwrap();
    assert_eq!(second.previous_version.as_deref(), Some("0.1.0"));
    assert_eq!(echo_version(&host), "0.2.0");
    assert!(
        dir.path().join("echo/echo.cwasm").is_file(),
        "precompiled on deploy"
    );

    // Every rejection leaves the directory and the running version alone.
    let before = snapshot(dir.path());
    let rejections: Vec<(&str, String, Vec<u8>, &str)> = vec![
        ("echo", m1.clone(), c1.clone(), "version_downgrade"),
        ("other", m2.clone(), c2.clone(), "skill_name_mismatch"),
        (
            "echo",
            "name = \"echo\"".into(),
            c2.clone(),
            "invalid_manifest",
        ),
        (
            "echo",
            m2.replace("capabilities = []", "capabilities = [\"net\"]"),
            c2.clone(),
            "invalid_manifest",
        ),
        (
            "echo",
            m2.replace("memory_mb = 16", "memory_mb = 100000"),
            c2.clone(),
            "invalid_manifest",
        ),
        (
            "echo",
            m2.replace("version = \"0.2.0\"", "version = \"two\""),
            c2.clone(),
            "invalid_manifest",
        ),
        (
            "echo",
            m2.replace("version = \"0.2.0\"", "version = \"0.3.0\""),
            c2.clone(),
            "invalid_component",
        ),
        (
            "echo",
            m2.clone(),
            b"\0asm garbage".to_vec(),
            "invalid_component",
        ),
        (
            "echo",
            m2.replace("memory_mb = 16", "memory_mb = 1"),
            c2.clone(),
            "invalid_component",
        ),
    ];
    for (name, manifest, component, code) in rejections {
        let err = host.deploy(name, &manifest, &component, false).unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(err.is_client_error(), "{err}");
        assert_eq!(echo_version(&host), "0.2.0");
        assert_eq!(snapshot(dir.path()), before, "after {code}");
    }
    let err = host.deploy("echo", &m1, &c1, false).unwrap_err();
    assert!(err.to_string().contains("allow_downgrade"), "{err}");

    // Rollback swaps with the previous version, both ways.
    assert_eq!(host.rollback("echo").unwrap().skill.version, "0.1.0");
    assert_eq!(echo_version(&host), "0.1.0");
    assert_eq!(host.rollback("echo").unwrap().skill.version, "0.2.0");
    assert_eq!(echo_version(&host), "0.2.0");
    // A deliberate downgrade.
    let down = host.deploy("echo", &m1, &c1, true).unwrap();
    assert_eq!(down.previous_version.as_deref(), Some("0.2.0"));
    assert_eq!(echo_version(&host), "0.1.0");

    // Removal unloads; a rollback brings it back.
    assert_eq!(host.remove("echo").unwrap().as_deref(), Some("0.1.0"));
    assert_eq!(
        host.invoke("echo", &json!({}), "en").unwrap_err().code(),
        "skill_not_found"
    );
    assert!(!dir.path().join("echo").exists());
    assert_eq!(host.remove("echo").unwrap_err().code(), "skill_not_found");
    assert_eq!(host.rollback("echo").unwrap().skill.version, "0.1.0");
    assert_eq!(echo_version(&host), "0.1.0");

    // Names from URLs never reach the file system.
    assert_eq!(
        host.remove("../echo").unwrap_err().code(),
        "skill_not_found"
    );
    assert_eq!(host.rollback("..").unwrap_err().code(), "skill_not_found");
    assert_eq!(
        host.rollback("nothing").unwrap_err().code(),
        "no_previous_version"
    );
    assert!(std::fs::read_dir(dir.path().join(".staging"))
        .unwrap()
        .next()
        .is_none());

    // A restarted host loads what was deployed.
    let restarted = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    for r in restarted.load_dir(dir.path()) {
        r.unwrap();
    }
    assert_eq!(restarted.skills().len(), 1);
    assert_eq!(echo_version(&restarted), "0.1.0");

    let unmanaged = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    assert_eq!(
        unmanaged
            .deploy("echo", &m1, &c1, false)
            .unwrap_err()
            .code(),
        "skills_not_managed"
    );
}

#[test]
fn the_watcher_follows_the_skills_directory() {
    let (host, dir) = managed_host();
    let live = dir.path().join("echo");
    // One pass at a time, deterministically.
    copy_skill(&echo_dir("0.1.0"), &live, false);
    let report = host.sync();
    assert_eq!(report.loaded, ["echo"]);
    assert_eq!(echo_version(&host), "0.1.0");
    assert!(
        host.sync().is_empty(),
        "nothing changed (the cache file is not a change)"
    );

    // A half-copied update fails to load; the running version stays.
    std::fs::write(
        live.join("skill.toml"),
        std::fs::read(echo_dir("0.2.0").join("skill.toml")).unwrap(),
    )
    .unwrap();
    let report = host.sync();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(echo_version(&host), "0.1.0");
    std::fs::copy(echo_dir("0.2.0").join("echo.wasm"), live.join("echo.wasm")).unwrap();
    assert_eq!(host.sync().loaded, ["echo"]);
    assert_eq!(echo_version(&host), "0.2.0");

    // The background thread: removal unloads, a new directory loads, within ~1 s.
    assert!(host.watch(dir.path(), Duration::from_millis(100)));
    assert!(
        !host.watch(dir.path(), Duration::from_millis(100)),
        "one watcher"
    );
    std::fs::remove_dir_all(&live).unwrap();
    let wait = |pred: &dyn Fn() -> bool| {
        let started = Instant::now();
        while !pred() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "watcher too slow"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        started.elapsed()
    };
    let took = wait(&|| host.skills().is_empty());
    eprintln!("removed skill unloaded after {took:?}");
    // With its precompiled cache, so that this measures the watcher, not the compiler.
    copy_skill(&fixture("spin"), &dir.path().join("spin"), true);
    let took = wait(&|| host.skills().iter().any(|s| s.name == "spin"));
    eprintln!("added skill loaded after {took:?}");
    assert!(took < Duration::from_secs(2));
}

#[test]
fn deployment_under_load_drops_no_call() {
    let (host, _dir) = managed_host();
    let (m1, c1) = upload(&echo_dir("0.1.0"));
    let (m2, c2) = upload(&echo_dir("0.2.0"));
    host.deploy("echo", &m1, &c1, false).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let deployed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let first_v2: Arc<Mutex<Option<Instant>>> = Arc::default();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (host, stop, calls) = (Arc::clone(&host), Arc::clone(&stop), Arc::clone(&calls));
            let first_v2 = Arc::clone(&first_v2);
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match host.invoke("echo", &json!({"x": 1}), "en") {
                        Ok(Outcome::Done { result }) => {
                            if result["version"] == "0.2.0" {
                                first_v2.lock().unwrap().get_or_insert_with(Instant::now);
                            }
                        }
                        other => failures.push(format!("{other:?}")),
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
                failures
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let deployed = host.deploy("echo", &m2, &c2, false).unwrap();
    let deploy_took = started.elapsed();
    *deployed_at.lock().unwrap() = Some(Instant::now());
    assert_eq!(deployed.previous_version.as_deref(), Some("0.1.0"));
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let failures: Vec<String> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();

    let first_v2 = first_v2.lock().unwrap().expect("0.2.0 never answered");
    let swapped = deployed_at.lock().unwrap().unwrap();
    // The first 0.2.0 answer may come just before `deploy` returns (the swap
    // is its last step), so measure from the start and from the return.
    let after_start = first_v2.saturating_duration_since(started);
    let after_return = first_v2.saturating_duration_since(swapped);
    let total = calls.load(Ordering::Relaxed);
    eprintln!(
        "{total} calls, {} failed; deploy (validate, compile, describe, swap) took {deploy_took:?}; \
         0.2.0 answered {after_start:?} after the deploy started, {after_return:?} after it returned",
        failures.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!(after_return < Duration::from_secs(1), "{after_return:?}");
    assert!(deploy_took < Duration::from_secs(10), "{deploy_took:?}");
    assert_eq!(echo_version(&host), "0.2.0");
}

#[test]
fn bench_reports_percentiles_and_throughput() {
    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    host.load_skill(&echo_dir("0.1.0")).unwrap();
    let report = bench::run(
        &host,
        &bench::BenchOptions {
            skill: "echo".into(),
            input: json!({"name": "Li"}),
            lang: "en".into(),
            invocations: 400,
            threads: 2,
            warmup: 10,
            hostile_dir: None,
        },
    )
    .unwrap();
    eprint!("{}", report.table());
    assert_eq!(report.invocations, 400);
    assert_eq!(report.failures, 0);
    assert!(report.p50_us > 0.0 && report.p50_us <= report.p99_us);
    let summary: Value = serde_json::from_str(&report.summary_json()).unwrap();
    for key in ["p50_us", "p99_us", "invocations_per_s"] {
        assert!(summary[key].as_f64().unwrap() > 0.0, "{summary}");
    }
}

#[test]
fn bench_compares_latency_alone_and_under_hostile_load() {
    let host = SkillHost::new(Arc::new(MemServices::default())).unwrap();
    host.load_skill(&echo_dir("0.1.0")).unwrap();
    let report = bench::run(
        &host,
        &bench::BenchOptions {
            skill: "echo".into(),
            input: json!({"name": "Li"}),
            lang: "en".into(),
            invocations: 300,
            threads: 1,
            warmup: 10,
            hostile_dir: Some(fixtures().0.clone()),
        },
    )
    .unwrap();
    eprint!("{}", report.table());
    let hostile = report.hostile.as_ref().expect("a hostile report");
    assert!(hostile.normal.invocations >= 300, "{hostile:?}");
    assert!(hostile.under_hostile.invocations >= 300, "{hostile:?}");
    assert_eq!(hostile.normal.failures + hostile.under_hostile.failures, 0);
    assert_eq!(hostile.cases.len(), 7);
    for case in &hostile.cases {
        assert_eq!(case.calls, hostile.rounds, "{case:?}");
        assert_eq!(case.as_expected, case.calls, "{case:?}");
    }
    let summary: Value = serde_json::from_str(&report.summary_json()).unwrap();
    assert!(
        summary["hostile_p99_ratio"].as_f64().unwrap() > 0.0,
        "{summary}"
    );
    assert_eq!(summary["hostile_all_as_expected"], json!(true), "{summary}");
}
