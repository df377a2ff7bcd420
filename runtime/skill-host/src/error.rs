//! Every way loading, building or invoking a skill can fail, with a stable
//! machine-readable [`SkillError::code`] for the HTTP layer and metrics.

use std::path::PathBuf;

/// A skill-host error. Messages name the skill (never the user's input) and
/// say what to change.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    #[error("no skill named `{name}` is installed")]
    NotFound { name: String },

    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },

    #[error("input to skill `{skill}` is {size} bytes; its manifest allows at most {limit} (limits.max_input_bytes)")]
    InputTooLarge {
        skill: String,
        size: usize,
        limit: usize,
    },

    #[error("skill `{skill}` ran past its time budget of {timeout_ms} ms (limits.timeout_ms)")]
    Timeout { skill: String, timeout_ms: u64 },

    #[error("skill `{skill}` needed more than its {memory_mb} MiB of memory (limits.memory_mb)")]
    MemoryLimit { skill: String, memory_mb: u32 },

    #[error("capability `{capability}` not granted to skill `{skill}`; add it to `capabilities` in its skill.toml if the skill needs it")]
    CapabilityDenied {
        skill: String,
        capability: &'static str,
    },

    #[error("skill `{skill}` trapped: {message}")]
    Trap { skill: String, message: String },

    #[error("skill `{skill}` returned {size} bytes; its manifest allows at most {limit} (limits.max_output_bytes)")]
    OutputTooLarge {
        skill: String,
        size: usize,
        limit: usize,
    },

    #[error("skill `{skill}` returned an invalid result: {reason}")]
    InvalidOutput { skill: String, reason: String },

    #[error("invalid manifest {}: {reason}", path.display())]
    InvalidManifest { path: PathBuf, reason: String },

    #[error("invalid component {}: {reason}", path.display())]
    InvalidComponent { path: PathBuf, reason: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot build skills for wasm32: {reason}. Run scripts/install-wasm-toolchain.sh (or `rustup target add wasm32-unknown-unknown`) and try again")]
    ToolchainMissing { reason: String },

    #[error("building skills failed: {reason}")]
    BuildFailed { reason: String },

    #[error("the WebAssembly engine could not start: {reason}")]
    Engine { reason: String },

    #[error("skill `{skill}` overflowed its call stack (unbounded recursion?)")]
    StackOverflow { skill: String },

    #[error("the URL names skill `{url}` but the manifest names `{manifest}`; deploy to /v1/skills/{manifest} or fix `name` in skill.toml")]
    NameMismatch { url: String, manifest: String },

    #[error("skill `{skill}` {current} is installed and {new} is older; deploy a newer version, or pass allow_downgrade=true to go back on purpose (or use rollback)")]
    VersionDowngrade {
        skill: String,
        current: String,
        new: String,
    },

    #[error("skill `{name}` has no previous version to roll back to")]
    NoPreviousVersion { name: String },

    #[error("this skill host manages no skills directory, so it cannot deploy, roll back or remove skills")]
    NotManaged,
}

impl SkillError {
    /// A stable identifier for API responses and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            SkillError::NotFound { .. } => "skill_not_found",
            SkillError::InvalidInput { .. } => "invalid_input",
            SkillError::InputTooLarge { .. } => "input_too_large",
            SkillError::Timeout { .. } => "skill_timeout",
            SkillError::MemoryLimit { .. } => "skill_memory_limit",
            SkillError::CapabilityDenied { .. } => "capability_denied",
            SkillError::Trap { .. } => "skill_trap",
            SkillError::OutputTooLarge { .. } => "output_too_large",
            SkillError::InvalidOutput { .. } => "invalid_output",
            SkillError::InvalidManifest { .. } => "invalid_manifest",
            SkillError::InvalidComponent { .. } => "invalid_component",
            SkillError::Io { .. } => "io",
            SkillError::ToolchainMissing { .. } => "toolchain_missing",
            SkillError::BuildFailed { .. } => "build_failed",
            SkillError::Engine { .. } => "engine",
            SkillError::StackOverflow { .. } => "skill_stack_overflow",
            SkillError::NameMismatch { .. } => "skill_name_mismatch",
            SkillError::VersionDowngrade { .. } => "version_downgrade",
            SkillError::NoPreviousVersion { .. } => "no_previous_version",
            SkillError::NotManaged => "skills_not_managed",
        }
    }

    /// Whether the caller's request caused this (HTTP 4xx) rather than the
    /// skill or the host (5xx). A skill that misbehaves is never the
    /// client's fault; a bad manifest or component uploaded by an admin is.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            SkillError::NotFound { .. }
                | SkillError::InvalidInput { .. }
                | SkillError::InputTooLarge { .. }
                | SkillError::InvalidManifest { .. }
                | SkillError::InvalidComponent { .. }
                | SkillError::NameMismatch { .. }
                | SkillError::VersionDowngrade { .. }
                | SkillError::NoPreviousVersion { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SkillError::Io {
            path: path.into(),
            source,
        }
    }
}
