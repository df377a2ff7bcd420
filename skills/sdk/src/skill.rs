//! The [`Skill`] trait and the values a skill hands back to the host.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::Context;

/// A govassist skill.
///
/// The host constructs the skill with [`Default`] for every call (each call
/// runs in a fresh instance), so `default()` is the place to parse embedded
/// data; it should be cheap.
pub trait Skill: Default {
    /// The typed `input` object. Make fields `Option` when the skill should
    /// ask for them ([`Outcome::need_input`]) rather than reject the call.
    type Input: DeserializeOwned;

    /// Name, version and description. `name` and `version` must equal the
    /// manifest's, or the host refuses to load the skill.
    fn describe(&self) -> Info;

    /// Handle one call.
    fn invoke(&self, input: Self::Input, cx: &Context) -> Outcome;
}

/// What a skill says about itself (listing, routing, the input schema).
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    /// Utterances a citizen might type that this skill handles.
    pub examples: Vec<String>,
    /// JSON Schema of [`Skill::Input`].
    pub input_schema: serde_json::Value,
}

impl Info {
    /// An `Info` with no examples and a permissive object schema.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Info {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            examples: Vec::new(),
            input_schema: serde_json::json!({ "type": "object" }),
        }
    }

    pub fn with_examples<I, S>(mut self, examples: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.examples = examples.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_input_schema(mut self, schema: serde_json::Value) -> Self {
        self.input_schema = schema;
        self
    }
}

/// The result of one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Finished; the result is shown to the user or used by the assistant.
    Done(serde_json::Value),
    /// Ask the user for `fields` (with `prompt`, in the request's language),
    /// then the host calls again with them filled in.
    NeedInput { fields: Vec<String>, prompt: String },
    /// The request cannot be served; say why so that a person can act on it.
    Failed(String),
}

impl Outcome {
    /// `Done` with any serialisable value. A value that cannot be serialised
    /// (a map with non-string keys, say) becomes `Failed`, never a panic.
    pub fn done<T: Serialize>(value: T) -> Self {
        match serde_json::to_value(value) {
            Ok(v) => Outcome::Done(v),
            Err(e) => Outcome::Failed(format!("the skill produced a result that is not JSON: {e}")),
        }
    }

    pub fn need_input<I, S>(fields: I, prompt: impl Into<String>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Outcome::NeedInput {
            fields: fields.into_iter().map(Into::into).collect(),
            prompt: prompt.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Outcome::Failed(message.into())
    }
}
