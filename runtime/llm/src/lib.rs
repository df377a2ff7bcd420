//! govassist's LLM engine and model fetching.
//!
//! - [`catalog`]: the models we know, by name, and where they come from.
//! - [`bench`]: `govassist bench llm`, our engine against llama.cpp's `llama-bench`.
//! - [`fetch()`]: obtain (pip or a local directory), verify, convert, cache.
//! - [`Engine`]: load a GGUF chat model and stream answers, with the forward pass of [`fast`]
//!   (candle only parses the GGUF and, in tests and benches, is the reference), a cache of the
//!   shared prompt prefix, and constrained decoding ([`Engine::generate_constrained`] with a
//!   [`JsonSchemaConstraint`] from [`constrain`]).
//!
//! Everything runs on the CPU; see `shared/MODELS.md` for the measured speeds
//! that shaped the choices here (e.g. re-quantizing Q5_0 to Q8_0).

mod assemble;
pub mod bench;
pub mod catalog;
pub mod constrain;
mod engine;
mod error;
pub mod fast;
pub mod fetch;
mod gguf;
mod pip;
pub mod requantize;
mod sampling;
mod stream;
mod template;
pub mod tokenizer;

pub use catalog::{ModelKind, ModelSpec, DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL};
pub use constrain::{JsonSchema, JsonSchemaConstraint, TokenConstraint};
pub use engine::{Engine, EngineOptions, FinishReason, GenerationStats, DEFAULT_MAX_CONTEXT};
pub use error::{FetchError, LlmError, SchemaError};
pub use fetch::{cached_path, default_cache_dir, fetch, FetchOptions, ModelSource};
pub use gguf::Architecture;
pub use sampling::GenerationParams;
pub use template::{ChatMessage, ChatTemplate, Role};
pub use tokenizer::GgufTokenizer;
