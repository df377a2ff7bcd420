//! Retrieval evaluation: the `govassist kb eval` contract.
//!
//! Input: one JSON object a line, `{"id","question","expected_ids":[…]}` with an optional `answer`
//! and `lang` (other fields are ignored). A hit counts when its document id (its id without `#N`) is
//! in `expected_ids` and, if `answer` is given, its passage contains the answer once both are folded
//! ([`crate::text::fold`]: Traditional → Simplified, full-width → half-width, lowercase).
//!
//! Reported: recall@1, recall@k (named `recall@5` in the summary, whatever `k`, as the contract
//! fixes the key), MRR over the top k, and the median and 95th-percentile search latency, overall
//! and per `lang`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::search::Hit;
use crate::text::fold;
use crate::{KbError, KnowledgeBase};

/// Figures over a set of questions.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct EvalMetrics {
    pub n: usize,
    pub recall_at_1: f64,
    /// Recall at the `k` of the run.
    pub recall_at_k: f64,
    pub mrr: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// The outcome of one question.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct QuestionOutcome {
    pub id: String,
    pub lang: Option<String>,
    /// 1-based rank of the first correct hit within the top k.
    pub rank: Option<usize>,
    /// Document ids of the hits, best first.
    pub hit_ids: Vec<String>,
    pub latency_ms: f64,
    /// Why the search refused the question (e.g. `empty_query`); it then counts as a miss.
    pub error: Option<String>,
}

/// The result of an evaluation run.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct EvalReport {
    pub k: usize,
    pub overall: EvalMetrics,
    /// The same figures per `lang` (questions without one are under `"unknown"`).
    pub by_lang: BTreeMap<String, EvalMetrics>,
    pub questions: Vec<QuestionOutcome>,
}

impl EvalReport {
    /// The contract's summary line: exactly `{"n","recall@1","recall@5","mrr","p50_ms","p95_ms"}`.
    pub fn summary_json(&self) -> serde_json::Value {
        self.overall.summary_json()
    }
}

impl EvalMetrics {
    /// The figures under the contract's key names.
    pub fn summary_json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "recall@1": round(self.recall_at_1, 4),
            "recall@5": round(self.recall_at_k, 4),
            "mrr": round(self.mrr, 4),
            "p50_ms": round(self.p50_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
        })
    }

    fn of(outcomes: &[&QuestionOutcome]) -> Self {
        let n = outcomes.len();
        if n == 0 {
            return EvalMetrics::default();
        }
        let share = |pred: &dyn Fn(usize) -> bool| {
            outcomes.iter().filter(|o| o.rank.is_some_and(pred)).count() as f64 / n as f64
        };
        let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        EvalMetrics {
            n,
            recall_at_1: share(&|r| r == 1),
            recall_at_k: share(&|_| true),
            mrr: outcomes
                .iter()
                .filter_map(|o| o.rank)
                .fold(0.0, |acc, r| acc + 1.0 / r as f64)
                / n as f64,
            p50_ms: percentile(&latencies, 50.0),
            p95_ms: percentile(&latencies, 95.0),
        }
    }
}

/// One line of the question file.
#[derive(Deserialize)]
struct Question {
    id: String,
    question: String,
    expected_ids: Vec<String>,
    answer: Option<String>,
    lang: Option<String>,
}

/// Runs every question of `questions` (JSON lines) against `kb`, keeping the top `k` hits.
pub fn run(kb: &KnowledgeBase, questions: &Path, k: usize) -> Result<EvalReport, KbError> {
    if !(1..=crate::search::MAX_K).contains(&k) {
        return Err(KbError::InvalidK {
            k,
            max: crate::search::MAX_K,
        });
    }
    let text = std::fs::read_to_string(questions).map_err(|e| KbError::io(questions, e))?;
    let mut outcomes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let input_error = |message: String| KbError::EvalInput {
            path: questions.to_path_buf(),
            line: i + 1,
            message,
        };
        let q: Question = serde_json::from_str(line).map_err(|e| input_error(e.to_string()))?;
        if q.expected_ids.is_empty() {
            return Err(input_error(
                "`expected_ids` is empty: the question can never be answered".into(),
            ));
        }
        outcomes.push(evaluate(kb, &q, k)?);
    }

    let all: Vec<&QuestionOutcome> = outcomes.iter().collect();
    let mut langs: BTreeMap<String, Vec<&QuestionOutcome>> = BTreeMap::new();
    for o in &outcomes {
        langs
            .entry(o.lang.clone().unwrap_or_else(|| "unknown".into()))
            .or_default()
            .push(o);
    }
    let report = EvalReport {
        k,
        overall: EvalMetrics::of(&all),
        by_lang: langs
            .into_iter()
            .map(|(lang, os)| (lang, EvalMetrics::of(&os)))
            .collect(),
        questions: outcomes,
    };
    tracing::info!(summary = %report.summary_json(), "evaluation finished");
    Ok(report)
}

fn evaluate(kb: &KnowledgeBase, q: &Question, k: usize) -> Result<QuestionOutcome, KbError> {
    let started = Instant::now();
    let result = kb.search(&q.question, k);
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let (hits, error) = match result {
        Ok(hits) => (hits, None),
        Err(e) if e.is_client_error() => (Vec::new(), Some(e.code().to_string())),
        Err(e) => return Err(e),
    };
    let answer = q.answer.as_deref().map(fold);
    let correct = |hit: &Hit| {
        q.expected_ids.contains(&hit.doc_id)
            && answer
                .as_ref()
                .is_none_or(|a| fold(&hit.passage).contains(a.as_str()))
    };
    Ok(QuestionOutcome {
        id: q.id.clone(),
        lang: q.lang.clone(),
        rank: hits.iter().position(correct).map(|p| p + 1),
        hit_ids: hits.iter().map(|h| h.id.clone()).collect(),
        latency_ms,
        error,
    })
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn metrics_from_ranks() {
        let outcome = |rank| QuestionOutcome {
            id: String::new(),
            lang: None,
            rank,
            hit_ids: Vec::new(),
            latency_ms: 1.0,
            error: None,
        };
        let outcomes = [
            outcome(Some(1)),
            outcome(Some(2)),
            outcome(None),
            outcome(Some(4)),
        ];
        let m = EvalMetrics::of(&outcomes.iter().collect::<Vec<_>>());
        assert_eq!((m.n, m.recall_at_1, m.recall_at_k), (4, 0.25, 0.75));
        assert!((m.mrr - (1.0 + 0.5 + 0.25) / 4.0).abs() < 1e-12);
        let keys: Vec<String> = m
            .summary_json()
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut expected = ["n", "recall@1", "recall@5", "mrr", "p50_ms", "p95_ms"]
            .map(String::from)
            .to_vec();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
    }
}
