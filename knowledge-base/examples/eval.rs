//! Builds the bundled knowledge base in a fresh directory and evaluates retrieval on a question file.
//!
//! ```text
//! cargo run -p govassist-kb --example eval --release -- QUESTIONS.jsonl [--k 5] [--index DIR] [--misses]
//! ```
//!
//! Prints the build time and index size, the per-language figures, optionally the missed questions,
//! and — as its last line, like `govassist kb eval` — the summary JSON.

use std::path::{Path, PathBuf};
use std::time::Instant;

use govassist_kb::{eval, KnowledgeBase};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut questions = None;
    let mut k = 5;
    let mut index_dir = None;
    let mut show_misses = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--k" => k = args.next().ok_or("--k needs a number")?.parse()?,
            "--index" => {
                index_dir = Some(PathBuf::from(
                    args.next().ok_or("--index needs a directory")?,
                ))
            }
            "--misses" => show_misses = true,
            _ => questions = Some(PathBuf::from(arg)),
        }
    }
    let questions =
        questions.ok_or("usage: eval QUESTIONS.jsonl [--k 5] [--index DIR] [--misses]")?;

    let scratch = std::env::temp_dir().join(format!("govassist-kb-eval-{}", std::process::id()));
    let dir = index_dir.clone().unwrap_or_else(|| scratch.clone());
    let kb = KnowledgeBase::open(&dir)?;
    if kb.is_new()? {
        let started = Instant::now();
        let report = kb.import_bundled()?;
        eprintln!(
            "built: {} documents, {} entries in {:.2} s; index {:.1} MiB; {} problems",
            report.imported,
            report.entries,
            started.elapsed().as_secs_f64(),
            dir_size(&dir) as f64 / (1024.0 * 1024.0),
            report.problems.len()
        );
    }

    let report = eval::run(&kb, &questions, k)?;
    for (lang, m) in &report.by_lang {
        eprintln!("{lang:8} {}", m.summary_json());
    }
    if show_misses {
        for q in report.questions.iter().filter(|q| q.rank != Some(1)) {
            eprintln!(
                "{} rank={:?} top={:?}",
                q.id,
                q.rank,
                q.hit_ids.iter().take(3).collect::<Vec<_>>()
            );
        }
    }
    println!("{}", report.summary_json());
    if index_dir.is_none() {
        drop(kb);
        std::fs::remove_dir_all(&scratch)?;
    }
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
