//! For each query line, the closest example line by e5 query-embedding cosine: the figure that
//! `chat.skill_threshold` is chosen from (the chat starts a skill when a message is at least that
//! close to one of the skill's example utterances).
//!
//! ```text
//! cargo run --release -p govassist-kb --example similarity -- EXAMPLES.txt QUERIES.txt
//! ```
//! Both files: one text a line. The model is found as in `examples/embed.rs`.

use govassist_kb::embed::{Embedder, MODEL_FILE_NAME};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [examples, queries] = args.as_slice() else {
        return Err("usage: similarity EXAMPLES.txt QUERIES.txt".into());
    };
    let model = std::env::var_os("GOVASSIST_EMBED_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            std::path::Path::new(&home)
                .join(".cache/govassist/models")
                .join(MODEL_FILE_NAME)
        });
    let embedder = Embedder::load(&model)?;
    let lines = |path: &str| -> Result<Vec<String>, std::io::Error> {
        Ok(std::fs::read_to_string(path)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())
    };
    let examples = lines(examples)?;
    let vectors: Vec<Vec<f32>> = examples
        .iter()
        .map(|e| embedder.embed_query(e))
        .collect::<Result<_, _>>()?;
    for query in lines(queries)? {
        let q = embedder.embed_query(&query)?;
        let (best, score) = vectors
            .iter()
            .enumerate()
            .map(|(i, v)| (i, v.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        println!(
            "{score:.3}\t{query}\t{}",
            examples.get(best).map_or("", String::as_str)
        );
    }
    Ok(())
}
