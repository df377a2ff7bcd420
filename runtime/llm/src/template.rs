//! Chat prompt rendering.
//!
//! Both supported families (Qwen2.5 and SmolLM2-Instruct) use ChatML. Their
//! GGUFs carry a Jinja `tokenizer.chat_template`; instead of embedding a Jinja
//! engine we render ChatML directly and take from the template only what
//! varies between models: the default system prompt inserted when the
//! conversation has none.

use serde::{Deserialize, Serialize};

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

const IM_START: &str = "<|im_start|>";
const IM_END: &str = "<|im_end|>";

/// A ChatML renderer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatTemplate {
    /// Inserted as the first message when a conversation has no system message,
    /// as the model's own template does.
    pub default_system: Option<String>,
}

impl ChatTemplate {
    /// Derives the renderer from a GGUF `tokenizer.chat_template`, if any.
    pub fn from_jinja(template: Option<&str>) -> Self {
        let default_system = template.and_then(default_system_prompt);
        if let Some(t) = template {
            if !t.contains(IM_START) {
                tracing::warn!("model chat template is not ChatML; rendering ChatML anyway");
            }
        }
        Self { default_system }
    }

    /// Renders `messages` and opens the assistant's turn.
    pub fn render(&self, messages: &[ChatMessage]) -> String {
        let mut out = String::new();
        let has_system = messages.first().is_some_and(|m| m.role == Role::System);
        if let (false, Some(system)) = (has_system, &self.default_system) {
            push_turn(&mut out, Role::System, system);
        }
        for m in messages {
            push_turn(&mut out, m.role, &m.content);
        }
        out.push_str(IM_START);
        out.push_str("assistant\n");
        out
    }
}

fn push_turn(out: &mut String, role: Role, content: &str) {
    out.push_str(IM_START);
    out.push_str(role.as_str());
    out.push('\n');
    out.push_str(content);
    out.push_str(IM_END);
    out.push('\n');
}

/// Finds a literal system turn in a ChatML Jinja template, e.g.
/// `'<|im_start|>system\nYou are Qwen, …<|im_end|>\n'`. The newline may be a
/// real one or a Jinja `\n` escape. Turns built from variables (containing
/// quotes or braces) are skipped.
fn default_system_prompt(template: &str) -> Option<String> {
    let marker = "<|im_start|>system";
    template.match_indices(marker).find_map(|(at, _)| {
        let rest = &template[at + marker.len()..];
        let rest = rest
            .strip_prefix('\n')
            .or_else(|| rest.strip_prefix("\\n"))?;
        let text = &rest[..rest.find(IM_END)?];
        let literal = !text.is_empty() && !text.contains(['\'', '"', '{', '}']);
        literal.then(|| text.replace("\\n", "\n"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_chatml_and_opens_assistant_turn() {
        let t = ChatTemplate::default();
        let s = t.render(&[ChatMessage::system("S"), ChatMessage::user("你好")]);
        assert_eq!(
            s,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn inserts_the_template_default_system_prompt_only_when_missing() {
        // As in Qwen2.5's GGUF: Jinja `\n` escapes, a variable turn first.
        let jinja = r"{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}{%- endif %}";
        let t = ChatTemplate::from_jinja(Some(jinja));
        assert_eq!(
            t.default_system.as_deref(),
            Some("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")
        );
        // As in SmolLM2's GGUF: real newlines.
        let smol = "{{ '<|im_start|>system\nYou are SmolLM<|im_end|>\n' }}";
        assert_eq!(
            ChatTemplate::from_jinja(Some(smol))
                .default_system
                .as_deref(),
            Some("You are SmolLM")
        );
        assert!(t
            .render(&[ChatMessage::user("hi")])
            .starts_with("<|im_start|>system\nYou are Qwen"));
        assert!(t
            .render(&[ChatMessage::system("Mine"), ChatMessage::user("hi")])
            .starts_with("<|im_start|>system\nMine<|im_end|>"));
    }
}
