//! Scores the verbatim quote under answers offline, without a model. Each line of standard input
//! is a case from `scripts/quote-cases.py`: a question, the passages the chat would get (best
//! first) and either the answer string (staff questions) or the expected document ids (service
//! questions). A staff case passes when the quote `grounding::best_quote` picks holds the answer;
//! a service case when the quoted passage is an expected document (the quote's passage is cited).
//! The staff answers mostly live in that quote, so this is the fast loop for tuning it.
//!
//! ```text
//! scripts/quote-cases.py --url http://127.0.0.1:8099 knowledge-base/eval/staff_factual_5.jsonl \
//!     | cargo run --release -p govassist --example quote_eval
//! ```

use std::io::BufRead;

use govassist::chat::{grounding, QUOTE_CHARS};

#[derive(serde::Deserialize)]
struct Case {
    id: String,
    question: String,
    passages: Vec<String>,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    expected_ids: Vec<String>,
    #[serde(default)]
    hit_ids: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let (mut n, mut passed) = (0usize, 0usize);
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(&line)?;
        let passages: Vec<&str> = case.passages.iter().map(String::as_str).collect();
        let quote = grounding::best_quote(&case.question, &passages, QUOTE_CHARS);
        let text = quote
            .as_ref()
            .map(|(_, lines)| lines.join(" "))
            .unwrap_or_default();
        let from = quote.as_ref().map_or(0, |(n, _)| *n);
        let ok = if case.answer.is_empty() {
            from > 0
                && case
                    .hit_ids
                    .get(from - 1)
                    .is_some_and(|id| case.expected_ids.contains(id))
        } else {
            text.contains(&case.answer)
        };
        n += 1;
        passed += ok as usize;
        println!(
            "{}\t{}\t[{from}]\t{}",
            case.id,
            if ok { "ok" } else { "MISS" },
            text.replace('\n', " ")
        );
    }
    println!(
        "passed: {passed}/{n} = {:.3}",
        passed as f64 / n.max(1) as f64
    );
    Ok(())
}
