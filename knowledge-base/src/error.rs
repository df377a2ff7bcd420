//! The one error type of the knowledge base.
//!
//! Every variant carries what a person needs to act on it (the path, the line, the limit that was
//! exceeded), and [`KbError::code`] gives a stable machine-readable code that the HTTP layer puts in
//! its error bodies, so clients can branch on it without parsing messages.

use std::path::PathBuf;

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KbError {
    /// The query was empty or only whitespace.
    #[error("the query is empty: type a few words describing what you are looking for")]
    EmptyQuery,

    /// The query is longer than [`crate::search::MAX_QUERY_CHARS`]. We reject rather than truncate so
    /// that a caller never silently gets results for a different question than the one it sent.
    #[error(
        "the query is {chars} characters long; the limit is {max}: shorten it to the key words"
    )]
    QueryTooLong { chars: usize, max: usize },

    /// The query has no searchable words (only punctuation, symbols or emoji).
    #[error(
        "the query has no searchable words (only punctuation, symbols or emoji): type a few words"
    )]
    InvalidQuery,

    /// `k` (the number of hits asked for) is outside `1..=max`.
    #[error("k must be between 1 and {max}, got {k}")]
    InvalidK { k: usize, max: usize },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Another writer (in this or another process) holds the index's write lock.
    #[error(
        "the index at {} is being written by another process (e.g. a running `govassist serve` \
         while `govassist kb import` runs): stop the other writer or import through it",
        path.display()
    )]
    IndexLocked { path: PathBuf },

    /// The index directory holds an index built with another schema (an older version of govassist).
    #[error(
        "the index at {} was built by an incompatible version (field `{field}` is missing or has \
         another type): move the directory away and import the data again",
        path.display()
    )]
    IncompatibleIndex { path: PathBuf, field: &'static str },

    /// Any other failure of the search engine (tantivy).
    #[error("index error while {action} ({}): {source}", path.display())]
    Index {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },

    /// A search was restricted to a field the schema does not have.
    #[error("unknown field `{field}`: search one of {known}")]
    UnknownField { field: String, known: String },

    /// The embedding model failed (loading it, or embedding a text).
    #[error("embedding model: {0}")]
    Embedding(#[from] crate::embed::EmbedError),

    /// A line of an evaluation question file could not be used.
    #[error("{}:{line}: {message}", path.display())]
    EvalInput {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl KbError {
    /// A stable, machine-readable code for the error (used in HTTP error bodies and CLI JSON).
    pub fn code(&self) -> &'static str {
        match self {
            KbError::EmptyQuery => "empty_query",
            KbError::QueryTooLong { .. } => "query_too_long",
            KbError::InvalidQuery => "invalid_query",
            KbError::InvalidK { .. } => "invalid_k",
            KbError::Io { .. } => "io",
            KbError::IndexLocked { .. } => "index_locked",
            KbError::IncompatibleIndex { .. } => "incompatible_index",
            KbError::Index { .. } => "index",
            KbError::EvalInput { .. } => "invalid_eval_input",
            KbError::UnknownField { .. } => "unknown_field",
            KbError::Embedding(_) => "embedding",
        }
    }

    /// Whether the caller's input caused the error (HTTP 4xx) rather than the server (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            KbError::EmptyQuery
                | KbError::QueryTooLong { .. }
                | KbError::InvalidQuery
                | KbError::InvalidK { .. }
                | KbError::EvalInput { .. }
                | KbError::UnknownField { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        KbError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a tantivy error, singling out the write-lock conflict, which a person can resolve.
    pub(crate) fn index(
        action: &'static str,
        path: &std::path::Path,
        source: tantivy::TantivyError,
    ) -> Self {
        match source {
            tantivy::TantivyError::LockFailure(..) => KbError::IndexLocked {
                path: path.to_path_buf(),
            },
            source => KbError::Index {
                action,
                path: path.to_path_buf(),
                source,
            },
        }
    }
}
