//! The govassist skill host: runs WebAssembly skill components (the
//! `govassist:skill@0.1.0` world in `skills/wit`) with wasmtime, each call in a
//! fresh sandbox limited by the skill's manifest.
//!
//! - [`manifest`]: `skill.toml`, strictly parsed.
//! - [`host`]: the services skills may use and the capability checks.
//! - [`limits`]: memory caps and epoch-based timeouts.
//! - [`build`]: building the `skills/` workspace into installable components.
//! - [`cache`]: precompiled components beside the installed ones.
//! - `deploy`: hot deployment, rollback and removal in the skills directory,
//!   and the watcher that follows it ([`SkillHost::deploy`], [`SkillHost::watch`]).
//! - [`bench`]: invocation latency and throughput.
//!
//! Invariants: components are compiled only when loaded, never on the
//! request path; a call never sees another call's memory; an import the
//! manifest does not grant ends that call only; a deployment that fails
//! validation changes nothing, and calls in flight finish on the version they
//! started with.

pub mod bench;
mod bindings;
pub mod build;
pub mod cache;
mod deploy;
mod error;
pub mod host;
pub mod limits;
pub mod manifest;
mod outcome;
mod skill_host;

pub use cache::CacheStatus;
pub use deploy::{Deployed, SyncReport};
pub use error::SkillError;
pub use host::{HostServices, InvocationRecord, KbHit};
pub use manifest::{Capability, Limits, Manifest};
pub use outcome::{normalize_lang, Outcome, SkillSummary, LANGS};
pub use skill_host::SkillHost;
