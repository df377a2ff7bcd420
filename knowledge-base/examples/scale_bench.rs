//! Lexical search latency at scale: a synthetic knowledge base of many passages.
//!
//! The bundled knowledge base has ~4,600 entries; a city's could have hundreds of thousands. This
//! builds an index of `--passages N` (default 200,000) synthetic FAQ entries whose questions and
//! answers are recombined from the bundled data's own sentences (so the vocabulary and term
//! statistics are those of real government text), then times lexical search (no embedding model)
//! for every question of a question file, and prints p50/p95/max latency and, last, one JSON line.
//!
//! ```sh
//! cargo run --release -p govassist-kb --example scale_bench -- \
//!     --questions ../shared/data/eval/dev_retrieval.jsonl [--passages 200000] [--rounds 5]
//! ```
//! The index is built once under `target/scale-bench-<N>` and reused by later runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use govassist_kb::KnowledgeBase;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut passages = 200_000usize;
    let mut rounds = 5usize;
    let mut questions: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--passages" => passages = args.next().ok_or("--passages N")?.parse()?,
            "--rounds" => rounds = args.next().ok_or("--rounds N")?.parse()?,
            "--questions" => questions = Some(args.next().ok_or("--questions FILE")?.into()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let questions = questions.ok_or("--questions FILE.jsonl is required")?;
    let queries: Vec<String> = std::fs::read_to_string(&questions)?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["question"].as_str().map(str::to_string))
        .collect();

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(format!("target/scale-bench-{passages}"));
    let kb = KnowledgeBase::open(&dir.join("index"))?;
    if kb.doc_count() < passages as u64 {
        let started = Instant::now();
        let source = synthesize(&root.join("knowledge-base/data"), &dir, passages)?;
        let report = kb.import_paths(&[source])?;
        eprintln!(
            "built an index of {} entries in {:.1} s",
            report.entries,
            started.elapsed().as_secs_f64()
        );
    }

    // One untimed pass warms the OS page cache and jieba's dictionary.
    for q in &queries {
        let _ = kb.search(q, 5);
    }
    let mut latencies = Vec::new();
    for _ in 0..rounds {
        for q in &queries {
            let started = Instant::now();
            let _ = kb.search(q, 5);
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            [((p / 100.0 * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1]
    };
    println!(
        "{} entries, {} searches: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        kb.doc_count(),
        latencies.len(),
        pct(50.0),
        pct(95.0),
        pct(100.0)
    );
    println!(
        "{}",
        serde_json::json!({"entries": kb.doc_count(), "searches": latencies.len(),
            "p50_ms": pct(50.0), "p95_ms": pct(95.0), "max_ms": pct(100.0)})
    );
    Ok(())
}

/// Writes `n` synthetic FAQ records recombined from the bundled sentences into `dir/synthetic.jsonl`.
fn synthesize(data: &Path, dir: &Path, n: usize) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let mut sentences = Vec::new();
    for file in [
        "faq/taipei_faq.jsonl",
        "service-items/guangdong_service_items.jsonl",
    ] {
        for line in std::fs::read_to_string(data.join(file))?.lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            for key in ["question", "answer", "事项名称", "受理条件", "办理地点"] {
                if let Some(text) = v[key].as_str() {
                    sentences.extend(
                        text.split(['。', '！', '？', '\n'])
                            .map(str::trim)
                            .filter(|s| s.chars().count() >= 6)
                            .map(str::to_string),
                    );
                }
            }
        }
    }
    std::fs::create_dir_all(dir)?;
    let path = dir.join("synthetic.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut rng = StdRng::seed_from_u64(20261122);
    for i in 0..n {
        let mut pick = || sentences[rng.gen_range(0..sentences.len())].as_str();
        let question = pick().to_string();
        let answer: Vec<&str> = (0..4).map(|_| pick()).collect();
        let record = serde_json::json!({"id": format!("SYN_{i}"), "question": question, "answer": answer.join("。")});
        writeln!(out, "{record}")?;
    }
    out.flush()?;
    Ok(path)
}
