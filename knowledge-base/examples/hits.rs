//! Each question's first hits with their scores, one JSON line per question; with `--signals`, the
//! first hits *before* the second look ([`govassist_kb::title_match`]), each with the signals it
//! weighs: the input of `scripts/fit-rerank.py`.
//!
//! ```text
//! cargo run -p govassist-kb --example hits --release -- INDEX_DIR QUESTIONS.jsonl [--signals] [--k 5]
//! ```
//!
//! The search is hybrid, with the e5 model at `$GOVASSIST_EMBED_MODEL`, else where `govassist models
//! fetch` puts it (`~/.cache/govassist/models`), and the vector cache beside it; INDEX_DIR is a data
//! directory's `index/` (any `govassist` command makes one). Lines: `{"id", "expected_ids", "hits": [{"id", "title", "kind", "score",
//! "signals"?}]}`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use govassist_kb::embed::{Embedder, MODEL_FILE_NAME};
use govassist_kb::{KbOptions, KnowledgeBase};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: hits INDEX_DIR QUESTIONS.jsonl [--signals] [--k 5]";
    let mut args = std::env::args().skip(1);
    let (mut paths, mut with_signals, mut k) = (Vec::new(), false, 5);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--signals" => with_signals = true,
            "--k" => k = args.next().ok_or(usage)?.parse()?,
            _ => paths.push(PathBuf::from(arg)),
        }
    }
    let [index, questions] = paths.as_slice() else {
        return Err(usage.into());
    };
    let model = std::env::var_os("GOVASSIST_EMBED_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home)
                .join(".cache/govassist/models")
                .join(MODEL_FILE_NAME)
        });
    // The vector cache lies beside the model, where the runtime keeps it.
    let vectors = model.with_file_name("vectors").join(MODEL_FILE_NAME);
    let options = KbOptions {
        embedder: Some(Arc::new(Embedder::load(&model)?)),
        vector_cache: Some(vectors),
        ..KbOptions::default()
    };
    let kb = KnowledgeBase::open_with(index, options)?;
    for line in std::fs::read_to_string(questions)?
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let case: serde_json::Value = serde_json::from_str(line)?;
        let Some(question) = case["question"].as_str() else {
            continue;
        };
        let hits: Vec<serde_json::Value> = if with_signals {
            kb.signals(question)?
                .into_iter()
                .map(|(hit, signals)| {
                    let mut json = hit_json(&hit);
                    json["signals"] = signals.map(|s| s.values().to_vec()).into();
                    json
                })
                .collect()
        } else {
            kb.search(question, k)?.iter().map(hit_json).collect()
        };
        println!(
            "{}",
            serde_json::json!({"id": case["id"], "expected_ids": case["expected_ids"], "hits": hits})
        );
    }
    Ok(())
}

fn hit_json(hit: &govassist_kb::search::Hit) -> serde_json::Value {
    serde_json::json!({"id": hit.id, "title": hit.title, "kind": format!("{:?}", hit.kind), "score": hit.score})
}
