//! Writes, for each English question of a question set, the search query the chat builds for it
//! (the chat model's translation, then the question: [`govassist::chat::translate`]), so that
//! English retrieval can be measured and tuned with `govassist kb eval` without running the whole
//! chat. Lines with a Chinese question pass through unchanged; each English line gains
//! `"original"` (the question as asked) and its `"question"` becomes the search query.
//!
//! ```text
//! cargo run --release -p govassist --example english_queries -- MODEL.gguf < set.jsonl > queries.jsonl
//! govassist kb eval --questions queries.jsonl
//! ```

use std::io::{BufRead, Write};

use govassist::chat::translate;
use govassist_llm::Engine;

fn main() -> anyhow::Result<()> {
    let model = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: english_queries MODEL.gguf < set.jsonl"))?;
    let engine = Engine::load(std::path::Path::new(&model))?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let mut case: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line)?;
        let question = case
            .get("question")
            .and_then(|q| q.as_str())
            .unwrap_or_default()
            .to_owned();
        if !question.is_empty() && !question.chars().any(translate::is_han) {
            let mut output = String::new();
            engine.generate(
                &translate::prompt(&question),
                &translate::params(),
                &mut |piece: &str| {
                    output.push_str(piece);
                    true
                },
            )?;
            case.insert("original".into(), question.clone().into());
            case.insert(
                "question".into(),
                translate::search_query(&output, &question).into(),
            );
        }
        writeln!(out, "{}", serde_json::to_string(&case)?)?;
    }
    Ok(())
}
