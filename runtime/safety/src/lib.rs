//! Safety checks that run on every chat turn, as pure functions over text.
//!
//! Map: [`pii`] finds personal data (ID numbers, phones, credit codes, bank cards, e-mail) and masks
//! it with readable placeholders before text is logged or reaches the model, and puts values back for
//! a skill granted them; [`sensitive`] is the configurable sensitive-word list (matched across scripts,
//! widths and case, censored in place); [`scope`] tells a government-service question from one the
//! assistant must decline (medical or investment advice, other people's data, gossip, another city's
//! services, prompt injection); [`script`] turns Simplified model output into Traditional for users
//! who write Traditional. `fold` (private) is the shared matching normalisation. Word lists, rules,
//! place names and the conversion table are data files under `data/`, compiled into the crate; the
//! crate does no I/O, so the runtime decides where configured lists come from. Everything is fast
//! enough for every turn: tens of microseconds for a 500-character message (`examples/bench.rs`).
//!
//! ```
//! use govassist_safety::{classify, mask, to_traditional, Reason, Scope, SensitiveWords, ServiceArea};
//!
//! let masked = mask("我的手机号是13812345678，帮我预约");
//! assert_eq!(masked.text, "我的手机号是〔手机号1〕，帮我预约");
//! assert_eq!(masked.unmask("已为〔手机号1〕预约"), "已为13812345678预约");
//!
//! let area = ServiceArea::default();
//! assert_eq!(classify("北京居住证怎么办理？", &area), Scope::OutOfScope(Reason::OtherCity));
//! assert_eq!(classify("外地户口在深圳办居住证需要什么材料？", &area), Scope::InScope);
//!
//! let words = SensitiveWords::new(["诈骗".to_string()]).unwrap();
//! assert_eq!(words.censor("這是詐騙嗎"), "這是＊＊嗎");
//!
//! assert_eq!(to_traditional("办理营业执照需要哪些材料"), "辦理營業執照需要哪些材料");
//! ```

mod fold;
pub mod pii;
pub mod scope;
pub mod script;
pub mod sensitive;

pub use pii::{mask, redact, Masked, PersonalValue, PiiKind};
pub use scope::{classify, Reason, Scope, ServiceArea};
pub use script::to_traditional;
pub use sensitive::SensitiveWords;
