//! `govassist chat eval`: runs each question of a file through the same path
//! as `POST /v1/chat`, in a fresh session, and scores the replies.
//!
//! Lines are `{"id","question","expected_ids":[…],"answer"?}` (an in-scope
//! question: the reply must cite one of `expected_ids`, and contain `answer`
//! when given, compared after [`govassist_kb::text::fold`]) or
//! `{"id","question","expected":"decline"}` (the reply's `declined` flag must be set).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use govassist_kb::text::fold;
use serde::{Deserialize, Serialize};

use crate::chat::{self, ChatEvent, ChatRequest};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct EvalQuestion {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub expected_ids: Vec<String>,
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub expected: Option<String>,
}

impl EvalQuestion {
    fn expects_decline(&self) -> bool {
        self.expected.as_deref() == Some("decline")
    }
}

/// One question's result, printed as a JSON line.
#[derive(Debug, Serialize)]
pub struct EvalOutcome {
    pub id: String,
    pub declined: bool,
    pub cited: Vec<String>,
    /// Cites one of `expected_ids` (`None` for decline questions).
    pub citation_ok: Option<bool>,
    /// Contains `answer` and cites (`None` without an `answer`).
    pub answer_ok: Option<bool>,
    /// Wall-clock time from the request to the first text.
    pub ttft_ms: Option<f64>,
    pub route: String,
    /// The start of the reply, for reading the misses.
    pub reply: String,
}

#[derive(Debug, Serialize)]
pub struct EvalSummary {
    pub n: usize,
    pub answer_accuracy: Option<f64>,
    pub citation_accuracy: Option<f64>,
    pub decline_rate: Option<f64>,
    pub false_decline_rate: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
}

pub fn read_questions(path: &Path) -> anyhow::Result<Vec<EvalQuestion>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut questions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let question: EvalQuestion = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a question line ({{\"id\",\"question\",\"expected_ids\"|\"expected\"}})", path.display(), i + 1))?;
        if question.expected_ids.is_empty() && !question.expects_decline() {
            bail!(
                "{}:{}: `{}` has neither `expected_ids` nor `\"expected\":\"decline\"`",
                path.display(),
                i + 1,
                question.id
            );
        }
        questions.push(question);
    }
    if questions.is_empty() {
        bail!("{} has no questions", path.display());
    }
    Ok(questions)
}

/// Asks one question in a fresh session and scores the reply.
pub async fn ask(state: &Arc<AppState>, question: &EvalQuestion) -> anyhow::Result<EvalOutcome> {
    let started = Instant::now();
    let mut request = ChatRequest::new(question.question.clone());
    request.caller = "eval";
    let mut events = chat::answer(state.clone(), request).await;
    let mut reply = String::new();
    let mut ttft_ms = None;
    let mut done = None;
    while let Some(event) = events.recv().await {
        match event {
            ChatEvent::Token { text } => {
                ttft_ms.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                reply.push_str(&text);
            }
            ChatEvent::Done(info) => done = Some(info),
            ChatEvent::Error { code, message } => bail!("{}: {code}: {message}", question.id),
            ChatEvent::Sources { .. } | ChatEvent::Skill(_) => {}
        }
    }
    let done =
        done.with_context(|| format!("{}: the reply ended without a `done` event", question.id))?;
    let cites = |expected: &[String]| {
        done.citations.iter().any(|c| {
            expected
                .iter()
                .any(|e| e == c || e.split('#').next() == Some(c.as_str()))
        })
    };
    let in_scope = !question.expects_decline();
    let citation_ok = in_scope.then(|| cites(&question.expected_ids));
    let answer_ok = question
        .answer
        .as_deref()
        .filter(|_| in_scope)
        .map(|answer| fold(&reply).contains(&fold(answer)) && cites(&question.expected_ids));
    Ok(EvalOutcome {
        id: question.id.clone(),
        declined: done.declined,
        cited: done.citations.clone(),
        citation_ok,
        answer_ok,
        ttft_ms: ttft_ms.filter(|_| done.generated_tokens > 0),
        route: serde_json::to_value(done.route)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        reply: reply.chars().take(200).collect(),
    })
}

pub fn summarize(questions: &[EvalQuestion], outcomes: &[EvalOutcome]) -> EvalSummary {
    let rate = |hits: usize, n: usize| (n > 0).then(|| hits as f64 / n as f64);
    let answers: Vec<bool> = outcomes.iter().filter_map(|o| o.answer_ok).collect();
    let citations: Vec<bool> = outcomes.iter().filter_map(|o| o.citation_ok).collect();
    let (declines, in_scope): (Vec<(&EvalQuestion, &EvalOutcome)>, Vec<_>) = questions
        .iter()
        .zip(outcomes)
        .partition(|(q, _)| q.expects_decline());
    let mut ttfts: Vec<f64> = outcomes.iter().filter_map(|o| o.ttft_ms).collect();
    ttfts.sort_by(f64::total_cmp);
    EvalSummary {
        n: outcomes.len(),
        answer_accuracy: rate(answers.iter().filter(|ok| **ok).count(), answers.len()),
        citation_accuracy: rate(citations.iter().filter(|ok| **ok).count(), citations.len()),
        decline_rate: rate(
            declines.iter().filter(|(_, o)| o.declined).count(),
            declines.len(),
        ),
        false_decline_rate: rate(
            in_scope.iter().filter(|(_, o)| o.declined).count(),
            in_scope.len(),
        ),
        ttft_p50_ms: (!ttfts.is_empty()).then(|| ttfts[ttfts.len() / 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(
        id: &str,
        declined: bool,
        citation_ok: Option<bool>,
        answer_ok: Option<bool>,
        ttft: Option<f64>,
    ) -> EvalOutcome {
        EvalOutcome {
            id: id.into(),
            declined,
            cited: vec![],
            citation_ok,
            answer_ok,
            ttft_ms: ttft,
            route: String::new(),
            reply: String::new(),
        }
    }

    #[test]
    fn rates_count_only_their_own_questions() {
        let q = |id: &str, decline: bool| EvalQuestion {
            id: id.into(),
            question: "q".into(),
            expected_ids: if decline { vec![] } else { vec!["x".into()] },
            answer: None,
            expected: decline.then(|| "decline".into()),
        };
        let questions = [q("a", false), q("b", false), q("c", true), q("d", true)];
        let outcomes = [
            outcome("a", false, Some(true), Some(true), Some(900.0)),
            outcome("b", true, Some(false), None, None),
            outcome("c", true, None, None, None),
            outcome("d", false, None, None, None),
        ];
        let s = summarize(&questions, &outcomes);
        assert_eq!(s.n, 4);
        assert_eq!(s.answer_accuracy, Some(1.0));
        assert_eq!(s.citation_accuracy, Some(0.5));
        assert_eq!(s.decline_rate, Some(0.5));
        assert_eq!(s.false_decline_rate, Some(0.5));
        assert_eq!(s.ttft_p50_ms, Some(900.0));
    }

    #[test]
    fn a_line_without_ids_or_decline_is_refused_with_its_line_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.jsonl");
        std::fs::write(&path, "{\"id\":\"a\",\"question\":\"q\",\"expected\":\"decline\"}\n{\"id\":\"b\",\"question\":\"q\"}\n").unwrap();
        let error = read_questions(&path).unwrap_err().to_string();
        assert!(error.contains(":2:") && error.contains("`b`"), "{error}");
    }
}
