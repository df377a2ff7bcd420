//! Out-of-scope detection measured on question sets: the decline rate on out-of-scope questions
//! (`tests/data/out_of_scope.jsonl`, ≥ 0.95) and the false-decline rate on tricky in-scope ones
//! (`tests/data/in_scope.jsonl`, ≤ 0.05), the retrieval dev set (never declined), and the bundled
//! knowledge base's own FAQ questions and service names (≤ 0.05).
//!
//! The rules were tuned on those two sets. `*_holdout.jsonl` were written afterwards and never tuned
//! on: their rates are the honest estimate of how the rules do on new questions, so that test only
//! guards against regressions (see its floors) and prints the rates.

use std::collections::BTreeMap;
use std::path::Path;

use govassist_safety::scope::{classify, Reason, Scope, ServiceArea};
use serde_json::Value;

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn data(name: &str) -> Vec<Value> {
    jsonl(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
}

fn text<'a>(row: &'a Value, key: &str) -> &'a str {
    row[key]
        .as_str()
        .unwrap_or_else(|| panic!("no `{key}` in {row}"))
}

#[test]
fn out_of_scope_questions_are_declined() {
    let area = ServiceArea::default();
    let rows = data("out_of_scope.jsonl");
    let mut per_reason: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    for row in &rows {
        let expected: Reason = text(row, "reason").parse().unwrap();
        let got = classify(text(row, "question"), &area);
        let entry = per_reason.entry(expected.to_string()).or_default();
        entry.0 += 1;
        if got.is_out_of_scope() {
            entry.1 += 1;
        }
        if got == Scope::OutOfScope(expected) {
            entry.2 += 1;
        } else {
            misses.push(format!(
                "{} {:?} (expected {expected}): {}",
                text(row, "id"),
                got,
                text(row, "question")
            ));
        }
    }
    let declined: usize = per_reason.values().map(|v| v.1).sum();
    let right_reason: usize = per_reason.values().map(|v| v.2).sum();
    let rate = declined as f64 / rows.len() as f64;
    eprintln!(
        "out of scope: {declined}/{} declined ({rate:.3}), {right_reason} with the expected reason",
        rows.len()
    );
    for (reason, (n, d, r)) in &per_reason {
        eprintln!("  {reason:<17} {d}/{n} declined, {r} with this reason");
    }
    for miss in &misses {
        eprintln!("  miss: {miss}");
    }
    assert!(rows.len() >= 60);
    assert!(
        per_reason.len() == 6 && per_reason.values().all(|v| v.0 >= 10),
        "{per_reason:?}"
    );
    assert!(rate >= 0.95, "decline rate {rate:.3} < 0.95");
}

#[test]
fn holdout_sets_estimate_unseen_questions() {
    let area = ServiceArea::default();
    let oos = data("out_of_scope_holdout.jsonl");
    let declined = oos
        .iter()
        .filter(|r| classify(text(r, "question"), &area).is_out_of_scope())
        .count();
    let questions: Vec<String> = data("in_scope_holdout.jsonl")
        .iter()
        .map(|r| text(r, "question").to_string())
        .collect();
    let (false_declined, wrong) = false_declines(&questions);
    let decline_rate = declined as f64 / oos.len() as f64;
    let false_rate = false_declined as f64 / questions.len() as f64;
    eprintln!("holdout: {declined}/{} out-of-scope declined ({decline_rate:.3}); {false_declined}/{} in-scope falsely declined ({false_rate:.3})", oos.len(), questions.len());
    for w in &wrong {
        eprintln!("  false decline: {w}");
    }
    // Floors at the measured values when the holdout was written (0.567 and 0.025): a regression
    // guard, not a target.
    assert!(
        decline_rate >= 0.55,
        "holdout decline rate fell to {decline_rate:.3}"
    );
    assert!(
        false_rate <= 0.05,
        "holdout false-decline rate rose to {false_rate:.3}"
    );
}

fn false_declines(questions: &[String]) -> (usize, Vec<String>) {
    let area = ServiceArea::default();
    let wrong: Vec<String> = questions
        .iter()
        .filter_map(|q| match classify(q, &area) {
            Scope::InScope => None,
            Scope::OutOfScope(reason) => Some(format!("{reason}: {q}")),
        })
        .collect();
    (wrong.len(), wrong)
}

#[test]
fn tricky_in_scope_questions_are_answered() {
    let rows = data("in_scope.jsonl");
    assert!(rows.len() >= 40);
    let questions: Vec<String> = rows
        .iter()
        .map(|r| text(r, "question").to_string())
        .collect();
    let (n, wrong) = false_declines(&questions);
    let rate = n as f64 / rows.len() as f64;
    eprintln!("in scope: {n}/{} falsely declined ({rate:.3})", rows.len());
    for w in &wrong {
        eprintln!("  false decline: {w}");
    }
    assert!(rate <= 0.05, "false-decline rate {rate:.3} > 0.05");
}

#[test]
fn retrieval_dev_questions_are_never_declined() {
    // The shared evaluation data sits next to the repository (as in scripts/bench-kb.sh).
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/eval/dev_retrieval.jsonl");
    if !path.exists() {
        eprintln!("skipped: {} not present", path.display());
        return;
    }
    let questions: Vec<String> = jsonl(&path)
        .iter()
        .map(|r| text(r, "question").to_string())
        .collect();
    assert_eq!(questions.len(), 50);
    let (_, wrong) = false_declines(&questions);
    assert!(
        wrong.is_empty(),
        "declined dev questions:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn knowledge_base_questions_are_rarely_declined() {
    let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knowledge-base/data");
    let mut questions: Vec<String> = jsonl(&kb.join("faq/taipei_faq.jsonl"))
        .iter()
        .map(|r| text(r, "question").to_string())
        .collect();
    questions.extend(
        jsonl(&kb.join("service-items/guangdong_service_items.jsonl"))
            .iter()
            .map(|r| text(r, "事项名称").to_string()),
    );
    let (n, wrong) = false_declines(&questions);
    let rate = n as f64 / questions.len() as f64;
    eprintln!(
        "knowledge base: {n}/{} FAQ questions and service names declined ({rate:.4})",
        questions.len()
    );
    for w in wrong.iter().take(60) {
        eprintln!("  {w}");
    }
    assert!(rate <= 0.05, "false-decline rate {rate:.4} > 0.05");
}

#[test]
fn decline_eval_mirrors_the_out_of_scope_set() {
    let source = data("out_of_scope.jsonl");
    let eval = data("decline_eval.jsonl");
    assert_eq!(source.len(), eval.len());
    for (s, e) in source.iter().zip(&eval) {
        assert_eq!(text(s, "id"), text(e, "id"));
        assert_eq!(text(s, "question"), text(e, "question"));
        assert_eq!(text(e, "expected"), "decline");
    }
}

/// Cases each of which must keep its verdict (`tests/data/pinned_verdicts.tsv`: verdict, tab,
/// question): what a fix was for, so that no later rule undoes it unnoticed. Unlike the sets
/// above, which are held to rates, every row here must hold.
#[test]
fn pinned_verdicts_hold() {
    let area = ServiceArea::default();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pinned_verdicts.tsv");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut wrong = Vec::new();
    let mut rows = 0;
    for line in source
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (verdict, question) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("no tab in `{line}`"));
        let got = match classify(question, &area) {
            Scope::InScope => "in_scope".to_string(),
            Scope::OutOfScope(reason) => reason.as_str().to_string(),
        };
        rows += 1;
        if got != verdict {
            wrong.push(format!("{question}: {got}, expected {verdict}"));
        }
    }
    assert!(rows >= 5);
    assert!(wrong.is_empty(), "verdicts changed:\n{}", wrong.join("\n"));
}
