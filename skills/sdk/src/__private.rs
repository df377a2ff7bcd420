//! Glue that [`export_skill!`](crate::export_skill) expands to: converts
//! between the WIT types and the SDK's. Not part of the public API.

use crate::{Context, Outcome, Skill};

/// Run one call against any [`crate::Host`]: parse the input JSON, invoke.
/// Shared by the wasm export and native tests, so both parse input the same way.
pub fn run<S: Skill>(skill: &S, input_json: &str, cx: &Context) -> Outcome {
    match serde_json::from_str::<S::Input>(input_json) {
        Ok(input) => skill.invoke(input, cx),
        Err(e) => Outcome::Failed(
            cx.lang()
                .pick("输入格式有误：", "輸入格式有誤：", "invalid input: ")
                .to_owned()
                + &e.to_string(),
        ),
    }
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::*;
    use crate::bindings::govassist::skill::types as wit;
    use crate::Lang;

    pub fn describe<S: Skill>() -> wit::Info {
        let info = S::default().describe();
        wit::Info {
            name: info.name,
            version: info.version,
            description: info.description,
            examples: info.examples,
            input_schema: info.input_schema.to_string(),
        }
    }

    pub fn invoke<S: Skill>(req: wit::Request) -> wit::Outcome {
        let host = crate::host::WasmHost;
        let cx = Context::new(Lang::from_tag(&req.lang), &host).with_personal(req.personal);
        match run(&S::default(), &req.input, &cx) {
            Outcome::Done(value) => wit::Outcome::Done(value.to_string()),
            Outcome::NeedInput { fields, prompt } => {
                wit::Outcome::NeedInput(wit::NeedInput { fields, prompt })
            }
            Outcome::Failed(msg) => wit::Outcome::Failed(msg),
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub use wasm::{describe, invoke};
