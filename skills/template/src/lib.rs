//! A minimal skill: greets the user by name, asking for the name first.
//! Copy this crate, rename it (here, in `Cargo.toml` and in `skill.toml`),
//! and replace `invoke`.

use govassist_skill_sdk::{export_skill, serde_json::json, Context, Info, Level, Outcome, Skill};
use serde::Deserialize;

#[derive(Default)]
pub struct Template;

#[derive(Deserialize)]
pub struct Input {
    name: Option<String>,
}

impl Skill for Template {
    type Input = Input;

    fn describe(&self) -> Info {
        Info::new(
            "template",
            env!("CARGO_PKG_VERSION"),
            "Greets the user by name.",
        )
        .with_examples(["say hello from the template skill"])
        .with_input_schema(json!({
            "type": "object",
            "properties": { "name": { "type": "string" } }
        }))
    }

    fn invoke(&self, input: Input, cx: &Context) -> Outcome {
        let Some(name) = input.name.filter(|n| !n.trim().is_empty()) else {
            let prompt = cx.lang().pick(
                "请问怎么称呼您？",
                "請問怎麼稱呼您？",
                "What should I call you?",
            );
            return Outcome::need_input(["name"], prompt);
        };
        cx.log(Level::Debug, "greeting a user"); // no personal data in logs
        let greeting = cx.lang().pick("您好，", "您好，", "Hello, ").to_owned() + name.trim();
        Outcome::done(json!({ "greeting": greeting }))
    }
}

export_skill!(Template);

#[cfg(test)]
mod tests {
    use super::*;
    use govassist_skill_sdk::{testing, Lang};

    #[test]
    fn asks_for_a_missing_name_in_the_users_language() {
        let host = testing::FakeHost::new();
        let out = testing::invoke::<Template>(&json!({}), Lang::En, &host);
        assert_eq!(
            out,
            Outcome::need_input(["name"], "What should I call you?")
        );
    }

    #[test]
    fn greets_by_name() {
        let host = testing::FakeHost::new();
        let out = testing::invoke::<Template>(&json!({ "name": " 李明 " }), Lang::ZhHans, &host);
        assert_eq!(out, Outcome::Done(json!({ "greeting": "您好，李明" })));
        assert_eq!(host.logs().len(), 1);
    }
}
