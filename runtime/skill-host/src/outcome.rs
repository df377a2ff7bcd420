//! What the skill host hands back to the runtime: outcomes of calls and
//! summaries of installed skills, both ready to serialise into API responses.

use serde::Serialize;

use crate::bindings::govassist::skill::types;
use crate::manifest::{Capability, Limits};
use crate::SkillError;

/// The result of one successful call (the skill ran to completion).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Finished; `result` is the skill's JSON result.
    Done { result: serde_json::Value },
    /// Ask the user for `fields` with `prompt`, then call again.
    NeedInput { fields: Vec<String>, prompt: String },
    /// The skill declined the request; `message` is for the user.
    Failed { message: String },
}

impl Outcome {
    /// Convert the guest's outcome, enforcing `limits.max_output_bytes` and
    /// that `done` carries JSON.
    pub(crate) fn from_guest(
        skill: &str,
        out: types::Outcome,
        max_bytes: usize,
    ) -> Result<Outcome, SkillError> {
        let size = match &out {
            types::Outcome::Done(json) => json.len(),
            types::Outcome::NeedInput(n) => {
                n.prompt.len() + n.fields.iter().map(String::len).sum::<usize>()
            }
            types::Outcome::Failed(msg) => msg.len(),
        };
        if size > max_bytes {
            return Err(SkillError::OutputTooLarge {
                skill: skill.to_owned(),
                size,
                limit: max_bytes,
            });
        }
        Ok(match out {
            types::Outcome::Done(json) => Outcome::Done {
                result: serde_json::from_str(&json).map_err(|e| SkillError::InvalidOutput {
                    skill: skill.to_owned(),
                    reason: format!("`done` is not JSON: {e}"),
                })?,
            },
            types::Outcome::NeedInput(n) => Outcome::NeedInput {
                fields: n.fields,
                prompt: n.prompt,
            },
            types::Outcome::Failed(message) => Outcome::Failed { message },
        })
    }

    /// `"done"`, `"need_input"` or `"failed"`, for logs and metrics.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Done { .. } => "done",
            Outcome::NeedInput { .. } => "need_input",
            Outcome::Failed { .. } => "failed",
        }
    }
}

/// An installed skill, as `GET /v1/skills` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillSummary {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Utterances a citizen might type that this skill handles.
    pub examples: Vec<String>,
    /// JSON Schema of the skill's `input`.
    pub input_schema: serde_json::Value,
    pub capabilities: Vec<Capability>,
    pub personal_fields: Vec<String>,
    pub limits: Limits,
    /// sha256 of the component's bytes: which build is installed.
    pub sha256: String,
}

/// The languages skills are asked to answer in.
pub const LANGS: [&str; 3] = ["zh-Hans", "zh-Hant", "en"];

/// Map a client's language tag onto one of [`LANGS`]: empty means the
/// default (`zh-Hans`), common regional tags are accepted, anything else is
/// the caller's mistake.
pub fn normalize_lang(tag: &str) -> Result<&'static str, SkillError> {
    let t = tag.trim().to_ascii_lowercase();
    let lang = match t.as_str() {
        "" | "zh" | "zh-cn" | "zh-sg" | "zh-hans" => "zh-Hans",
        "zh-tw" | "zh-hk" | "zh-mo" | "zh-hant" => "zh-Hant",
        _ if t.starts_with("zh-hans-") => "zh-Hans",
        _ if t.starts_with("zh-hant-") => "zh-Hant",
        _ if t == "en" || t.starts_with("en-") => "en",
        _ => {
            return Err(SkillError::InvalidInput {
                reason: format!("unsupported lang `{tag}`; use one of {}", LANGS.join(", ")),
            })
        }
    };
    Ok(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn langs_normalise_or_are_rejected() {
        assert_eq!(normalize_lang("").unwrap(), "zh-Hans");
        assert_eq!(normalize_lang("zh-TW").unwrap(), "zh-Hant");
        assert_eq!(normalize_lang("en-GB").unwrap(), "en");
        assert_eq!(normalize_lang("fr").unwrap_err().code(), "invalid_input");
    }

    #[test]
    fn outcome_serialises_with_a_status_tag() {
        let o = Outcome::NeedInput {
            fields: vec!["size".into()],
            prompt: "?".into(),
        };
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::json!({"status": "need_input", "fields": ["size"], "prompt": "?"})
        );
    }

    #[test]
    fn oversized_or_non_json_output_is_an_error() {
        let big = types::Outcome::Done("[1,2,3]".into());
        assert_eq!(
            Outcome::from_guest("s", big, 3).unwrap_err().code(),
            "output_too_large"
        );
        let bad = types::Outcome::Done("{oops".into());
        assert_eq!(
            Outcome::from_guest("s", bad, 100).unwrap_err().code(),
            "invalid_output"
        );
    }
}
