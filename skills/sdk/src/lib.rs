//! The guest-side SDK for govassist skills.
//!
//! A skill is a type that implements [`Skill`] plus one [`export_skill!`] line:
//!
//! ```
//! use govassist_skill_sdk::{export_skill, Context, Info, Outcome, Skill};
//! use serde::Deserialize;
//!
//! #[derive(Default)]
//! struct Hello;
//!
//! #[derive(Deserialize)]
//! struct Input { name: Option<String> }
//!
//! impl Skill for Hello {
//!     type Input = Input;
//!
//!     fn describe(&self) -> Info {
//!         Info::new("hello", "0.1.0", "Greets the user")
//!     }
//!
//!     fn invoke(&self, input: Input, cx: &Context) -> Outcome {
//!         match input.name {
//!             Some(name) => Outcome::done(serde_json::json!({ "greeting": format!("hello, {name}") })),
//!             None => Outcome::need_input(["name"], cx.lang().pick("您叫什么名字？", "您叫什麼名字？", "What is your name?")),
//!         }
//!     }
//! }
//!
//! export_skill!(Hello);
//! ```
//!
//! The host creates a fresh instance for every call, so a skill keeps no state
//! in memory between calls; persistent state goes through [`Context::kv_get`]
//! and [`Context::kv_put_if`]. Every host function is granted by the skill's
//! manifest (`skill.toml`); calling one that is not granted ends the call.
//!
//! On the host target (`cargo test`) nothing here touches WebAssembly: tests
//! build a [`Context`] over a [`testing::FakeHost`] and call the skill directly.
//!
//! Helpers that several skills need: [`date`] (local dates from the host
//! clock, weekdays) and [`validate`] (resident ID numbers, unified social
//! credit codes, phone numbers, with messages in the user's language).

#[cfg(target_arch = "wasm32")]
mod arena;
mod context;
pub mod date;
mod host;
pub mod input;
mod skill;
pub mod testing;
pub mod validate;

#[doc(hidden)]
pub mod __private;

pub use context::{Context, Lang};
pub use host::{Host, KbHit, Level};
pub use skill::{Info, Outcome, Skill};

// Re-exported so that skills need not depend on a matching serde_json.
pub use serde_json;

/// Generated bindings for `skills/wit/skill.wit`. Only [`export_skill!`] and
/// the SDK's own wasm host use them; skill code should not need to.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "skill",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_skill_world",
        default_bindings_module: "govassist_skill_sdk::bindings",
    });
}

/// Export a [`Skill`] implementation as the component's `describe` and
/// `invoke`. Use it exactly once per skill crate, at the crate root.
///
/// The export only exists when building for WebAssembly, so the same crate
/// builds and tests natively.
#[macro_export]
macro_rules! export_skill {
    ($skill:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __GovassistSkillExport;

            impl $crate::bindings::Guest for __GovassistSkillExport {
                fn describe() -> $crate::bindings::govassist::skill::types::Info {
                    $crate::__private::describe::<$skill>()
                }

                fn invoke(
                    req: $crate::bindings::govassist::skill::types::Request,
                ) -> $crate::bindings::govassist::skill::types::Outcome {
                    $crate::__private::invoke::<$skill>(req)
                }
            }

            $crate::bindings::__export_skill_world!(__GovassistSkillExport with_types_in $crate::bindings);
        };
    };
}
