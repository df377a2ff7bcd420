//! Embeds a text and prints the start of its vector and the time taken; with `--bench`, measures
//! query latency and passage throughput.
//!
//! ```text
//! cargo run --release -p govassist-kb --example embed -- [--model FILE] [--passage] TEXT
//! cargo run --release -p govassist-kb --example embed -- [--model FILE] --bench [--batch-tokens N]
//! cargo run --release -p govassist-kb --example embed -- [--model FILE] [--passage] --lines < questions.txt
//! ```
//!
//! `--lines` embeds each line of standard input as a query (with `--passage`, as a passage) and prints its vector as a JSON array,
//! one per line: the input for trying classifiers over the embeddings (e.g. the scope examples).
//!
//! The model defaults to `$GOVASSIST_EMBED_MODEL`, else
//! `$GOVASSIST_CACHE_DIR/multilingual-e5-small-q4.bin`, else
//! `~/.cache/govassist/models/multilingual-e5-small-q4.bin`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use govassist_kb::embed::{Embedder, EmbedderOptions, MODEL_FILE_NAME};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut model = None;
    let mut is_query = true;
    let mut bench = false;
    let mut lines = false;
    let mut options = EmbedderOptions::default();
    let mut text = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next().map(PathBuf::from),
            "--passage" => is_query = false,
            "--bench" => bench = true,
            "--lines" => lines = true,
            "--batch-tokens" => {
                options.batch_tokens = args
                    .next()
                    .ok_or("--batch-tokens needs a number")?
                    .parse()?
            }
            _ => text.push(arg),
        }
    }
    let model = model.unwrap_or_else(default_model_path);

    let started = Instant::now();
    let embedder = Embedder::load_with(&model, options)?;
    eprintln!(
        "loaded {} in {:.0} ms, RSS {} MB",
        model.display(),
        ms(started.elapsed()),
        rss_mb()
    );
    if bench {
        return run_bench(&embedder);
    }
    if lines {
        for line in std::io::stdin().lines() {
            let line = line?;
            let vector = if is_query {
                embedder.embed_query(line.trim())?
            } else {
                embedder.embed_passages(&[line.trim()])?.remove(0)
            };
            let numbers: Vec<String> = vector.iter().map(|x| format!("{x:.5}")).collect();
            println!("[{}]", numbers.join(","));
        }
        return Ok(());
    }

    let text = text.join(" ");
    let started = Instant::now();
    let vector = if is_query {
        embedder.embed_query(&text)?
    } else {
        embedder.embed_passages(&[&text])?.remove(0)
    };
    let elapsed = started.elapsed();
    println!(
        "{} tokens, {} dims, {:.1} ms",
        embedder.token_count(&text, is_query),
        vector.len(),
        ms(elapsed)
    );
    println!("ids {:?}", embedder.tokenize(&text, is_query));
    println!("[{:?} ...]", &vector[..8]);
    Ok(())
}

fn run_bench(embedder: &Embedder) -> Result<(), Box<dyn std::error::Error>> {
    let question = "营业执照要交什么材料，需要本人到场吗？";
    for _ in 0..5 {
        embedder.embed_query(question)?;
    }
    let mut times = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        embedder.embed_query(question)?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "query ({} tokens): p50 {:.1} ms, p90 {:.1} ms, min {:.1} ms",
        embedder.token_count(question, true),
        ms(times[25]),
        ms(times[45]),
        ms(times[0])
    );

    let sentences = [
        "个体工商户办理营业执照，申请人应当向经营场所所在地的市场监督管理部门提交申请材料。",
        "申请材料齐全、符合法定形式的，登记机关应当当场予以登记。",
        "經營者也可以通過政務服務網在線提交申請，上傳材料的電子掃描件。",
        "Applicants may submit the form online or at any service window.",
        "办理过程中不收取任何费用，如有疑问请拨打政务服务热线12345咨询。",
    ];
    for target in [128, 256] {
        // 32 passages of about `target` tokens, each a different rotation of the sentences.
        let passages: Vec<String> = (0..32)
            .map(|i| {
                let mut p = String::new();
                let mut k = i;
                while embedder.token_count(&p, false) < target {
                    p.push_str(sentences[k % sentences.len()]);
                    k += 1;
                }
                p
            })
            .collect();
        let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
        let tokens: usize = refs.iter().map(|p| embedder.token_count(p, false)).sum();
        embedder.embed_passages(&refs[..4])?;
        let started = Instant::now();
        embedder.embed_passages(&refs)?;
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "passages of ~{} tokens: {:.1} passages/s ({:.0} tokens/s, batch_tokens {})",
            tokens / refs.len(),
            refs.len() as f64 / elapsed,
            tokens as f64 / elapsed,
            embedder.options().batch_tokens
        );
    }
    println!("RSS {} MB", rss_mb());
    Ok(())
}

fn default_model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("GOVASSIST_EMBED_MODEL") {
        return PathBuf::from(path);
    }
    if let Some(dir) = std::env::var_os("GOVASSIST_CACHE_DIR") {
        return PathBuf::from(dir).join(MODEL_FILE_NAME);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home)
        .join(".cache/govassist/models")
        .join(MODEL_FILE_NAME)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Resident set size from /proc (Linux); 0 elsewhere.
fn rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
