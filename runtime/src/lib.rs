//! The govassist host: configuration, start-up, the HTTP server and the chat
//! orchestrator. The knowledge base, the LLM engine and the skill host are
//! crates of their own; this crate wires them together (see ARCHITECTURE.md).

pub mod chat;
pub mod chat_eval;
pub mod config;
pub mod http;
pub mod lang;
pub mod metrics;
pub mod server;
pub mod sessions;
pub mod state;
pub mod store;

pub use config::Config;
pub use server::{start, RunningServer, StartOptions};
