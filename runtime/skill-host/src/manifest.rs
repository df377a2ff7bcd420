//! `skill.toml`: what a skill is, what it may do, and how much it may use.
//!
//! Parsing is strict (unknown keys and capabilities are rejected) because a
//! typo in a manifest would otherwise silently change what a skill may do.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SkillError;

/// The manifest's file name inside a skill's directory.
pub const MANIFEST_FILE: &str = "skill.toml";

/// Upper bounds a manifest may ask for. The pooling allocator reserves
/// address space for the largest memory, so this is also an engine setting.
pub const MAX_MEMORY_MB: u32 = 512;
const MAX_TIMEOUT_MS: u64 = 60_000;
const MAX_IO_BYTES: usize = 16 << 20;

/// A host function group a manifest can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// `host.log`
    Log,
    /// `host.now-ms`
    Clock,
    /// `host.kv-get`, `host.kv-put-if`
    Kv,
    /// `host.kb-search`
    Kb,
}

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Log,
        Capability::Clock,
        Capability::Kv,
        Capability::Kb,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Kv => "kv",
            Capability::Kb => "kb",
        }
    }

    fn parse(s: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resource limits for one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub memory_mb: u32,
    pub timeout_ms: u64,
    pub max_input_bytes: usize,
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 64,
            timeout_ms: 100,
            max_input_bytes: 64 << 10,
            max_output_bytes: 1 << 20,
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub description: Option<String>,
    /// The component's file name, relative to the skill's directory.
    pub component: String,
    pub capabilities: Vec<Capability>,
    /// Personal fields (e.g. `phone`) the host may pass to the skill.
    pub personal_fields: Vec<String>,
    pub limits: Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: String,
    version: String,
    description: Option<String>,
    component: Option<String>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    personal_fields: Vec<String>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    memory_mb: Option<u32>,
    timeout_ms: Option<u64>,
    max_input_bytes: Option<usize>,
    max_output_bytes: Option<usize>,
}

impl Manifest {
    /// Read and validate `dir/skill.toml`.
    pub fn load(dir: &Path) -> Result<Manifest, SkillError> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| SkillError::io(&path, e))?;
        Manifest::parse(&text).map_err(|reason| SkillError::InvalidManifest { path, reason })
    }

    /// Parse and validate manifest text; the error says what to fix.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        check_name(&raw.name)?;
        if raw.version.trim().is_empty() {
            return Err("`version` must not be empty".into());
        }
        let component = raw
            .component
            .unwrap_or_else(|| format!("{}.wasm", raw.name));
        if component.is_empty() || component.contains(['/', '\\']) || component.starts_with('.') {
            return Err(format!(
                "`component` must be a file name inside the skill's directory, not `{component}`"
            ));
        }

        let mut capabilities = Vec::new();
        for c in &raw.capabilities {
            let cap = Capability::parse(c).ok_or_else(|| {
                let known: Vec<_> = Capability::ALL.iter().map(|c| c.as_str()).collect();
                format!("unknown capability `{c}` (known: {})", known.join(", "))
            })?;
            if !capabilities.contains(&cap) {
                capabilities.push(cap);
            }
        }

        let d = Limits::default();
        let limits = Limits {
            memory_mb: bounded(
                "limits.memory_mb",
                raw.limits.memory_mb.unwrap_or(d.memory_mb),
                1,
                MAX_MEMORY_MB,
            )?,
            timeout_ms: bounded(
                "limits.timeout_ms",
                raw.limits.timeout_ms.unwrap_or(d.timeout_ms),
                1,
                MAX_TIMEOUT_MS,
            )?,
            max_input_bytes: bounded(
                "limits.max_input_bytes",
                raw.limits.max_input_bytes.unwrap_or(d.max_input_bytes),
                2,
                MAX_IO_BYTES,
            )?,
            max_output_bytes: bounded(
                "limits.max_output_bytes",
                raw.limits.max_output_bytes.unwrap_or(d.max_output_bytes),
                2,
                MAX_IO_BYTES,
            )?,
        };

        Ok(Manifest {
            name: raw.name,
            version: raw.version,
            description: raw.description,
            component,
            capabilities,
            personal_fields: raw.personal_fields,
            limits,
        })
    }

    pub fn grants(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }

    /// Where the component lives, given the skill's directory.
    pub fn component_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.component)
    }
}

/// Skill names appear in URLs, directory names and logs: keep them plain.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("`name` must be 1-64 characters of a-z, 0-9 and `-`, starting with a letter, not `{name}`"))
    }
}

fn bounded<T: PartialOrd + fmt::Display>(key: &str, value: T, min: T, max: T) -> Result<T, String> {
    if value < min || value > max {
        return Err(format!(
            "`{key}` must be between {min} and {max}, not {value}"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_what_is_omitted() {
        let m = Manifest::parse("name = \"demo\"\nversion = \"1.0.0\"").unwrap();
        assert_eq!(m.component, "demo.wasm");
        assert!(m.capabilities.is_empty());
        assert_eq!(m.limits, Limits::default());
        assert_eq!(m.limits.max_input_bytes, 65_536);
    }

    #[test]
    fn unknown_capability_is_rejected_with_the_known_ones() {
        let err =
            Manifest::parse("name = \"demo\"\nversion = \"1\"\ncapabilities = [\"log\", \"net\"]")
                .unwrap_err();
        assert_eq!(err, "unknown capability `net` (known: log, clock, kv, kb)");
    }

    #[test]
    fn typos_and_out_of_range_limits_are_rejected() {
        let typo = Manifest::parse("name = \"demo\"\nversion = \"1\"\ncapabilites = [\"kv\"]")
            .unwrap_err();
        assert!(typo.contains("capabilites"), "{typo}");
        let big = Manifest::parse("name = \"demo\"\nversion = \"1\"\n[limits]\nmemory_mb = 4096")
            .unwrap_err();
        assert_eq!(
            big,
            "`limits.memory_mb` must be between 1 and 512, not 4096"
        );
    }

    #[test]
    fn names_and_component_paths_cannot_escape() {
        assert!(Manifest::parse("name = \"../x\"\nversion = \"1\"").is_err());
        assert!(Manifest::parse(
            "name = \"ok\"\nversion = \"1\"\ncomponent = \"../../etc/x.wasm\""
        )
        .is_err());
    }
}
