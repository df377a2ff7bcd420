//! A `tokenizers::Tokenizer` rebuilt from GGUF metadata.
//!
//! The models ship without `tokenizer.json`, but a GGUF made by llama.cpp
//! carries everything needed: the vocabulary (`tokenizer.ggml.tokens`, in
//! GPT-2 byte-level form), the merges, per-token types (control tokens become
//! special added tokens) and the name of the pre-tokenizer (`tokenizer.ggml.pre`),
//! which selects the split regex the model was trained with.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_level::ByteLevel;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// Qwen2's split regex (as in its `tokenizer.json` and llama.cpp's `qwen2` pre-type).
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Llama 3's split regex (llama.cpp `llama-bpe`): digits in groups of up to three.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp `llama_token_type`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Why a tokenizer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("metadata key `{0}` is missing or has the wrong type")]
    MissingKey(&'static str),
    #[error("tokenizer model `{0}` is not supported (only gpt2 byte-level BPE)")]
    UnsupportedModel(String),
    #[error(
        "pre-tokenizer `{0}` is not supported (known: qwen2, smollm, starcoder, gpt2, llama-bpe)"
    )]
    UnsupportedPreTokenizer(String),
    #[error("{0}")]
    Build(String),
}

/// The tokenizer of a GGUF model plus what generation needs around it.
pub struct GgufTokenizer {
    tokenizer: Tokenizer,
    /// Raw bytes each token stands for; empty for control tokens, which are
    /// never shown to users. Lets streaming work byte-exactly.
    token_bytes: Vec<Vec<u8>>,
    eos_ids: Vec<u32>,
    bos_id: Option<u32>,
    pre: String,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab", &self.token_bytes.len())
            .field("pre", &self.pre)
            .field("eos_ids", &self.eos_ids)
            .field("bos_id", &self.bos_id)
            .finish()
    }
}

fn get_str<'a>(
    md: &'a HashMap<String, Value>,
    key: &'static str,
) -> Result<&'a str, TokenizerError> {
    match md.get(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(TokenizerError::MissingKey(key)),
    }
}

fn get_strings<'a>(
    md: &'a HashMap<String, Value>,
    key: &'static str,
) -> Result<Vec<&'a str>, TokenizerError> {
    match md.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.as_str()),
                _ => Err(TokenizerError::MissingKey(key)),
            })
            .collect(),
        _ => Err(TokenizerError::MissingKey(key)),
    }
}

fn get_id(md: &HashMap<String, Value>, key: &str) -> Option<u32> {
    md.get(key).and_then(|v| v.to_u32().ok())
}

impl GgufTokenizer {
    /// Builds the tokenizer from a GGUF file's metadata.
    pub fn from_gguf_metadata(md: &HashMap<String, Value>) -> Result<Self, TokenizerError> {
        let model = get_str(md, "tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(TokenizerError::UnsupportedModel(model.to_owned()));
        }
        let pre = md
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("default");
        let tokens = get_strings(md, "tokenizer.ggml.tokens")?;
        let merges = get_strings(md, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
            Some(Value::Array(v)) => v.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            _ => vec![1; tokens.len()],
        };

        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, tok)| ((*tok).to_owned(), id as u32))
            .collect();
        let merges = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| TokenizerError::Build(format!("malformed merge `{m}`")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| TokenizerError::Build(e.to_string()))?;

        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer(pre)?));
        tokenizer.with_decoder(Some(ByteLevel::default()));
        if pre == "qwen2" {
            // Qwen's own tokenizer.json normalizes to NFC.
            tokenizer
                .with_normalizer(Some(NFC))
                .map_err(|e| TokenizerError::Build(e.to_string()))?;
        }

        let mut special = Vec::new();
        let mut user = Vec::new();
        for (tok, ty) in tokens.iter().zip(&types) {
            match *ty {
                TOKEN_TYPE_CONTROL => special.push(AddedToken::from(*tok, true).normalized(false)),
                TOKEN_TYPE_USER_DEFINED => {
                    user.push(AddedToken::from(*tok, false).normalized(false))
                }
                _ => {}
            }
        }
        tokenizer
            .add_special_tokens(special)
            .map_err(|e| TokenizerError::Build(e.to_string()))?;
        tokenizer
            .add_tokens(user)
            .map_err(|e| TokenizerError::Build(e.to_string()))?;

        let byte_of = unicode_to_byte();
        let token_bytes = tokens
            .iter()
            .zip(types.iter().chain(std::iter::repeat(&1)))
            .map(|(tok, ty)| match *ty {
                TOKEN_TYPE_CONTROL => Vec::new(),
                TOKEN_TYPE_USER_DEFINED => tok.as_bytes().to_vec(),
                _ => byte_level_decode(tok, &byte_of),
            })
            .collect();

        let mut eos_ids: Vec<u32> = get_id(md, "tokenizer.ggml.eos_token_id")
            .into_iter()
            .collect();
        // Chat models end a turn with <|im_end|> (ChatML) or <|endoftext|>,
        // whichever the GGUF names as eos; stop on all of them.
        for name in ["<|im_end|>", "<|endoftext|>", "<|eot_id|>"] {
            if let Some(id) = tokenizer.token_to_id(name) {
                if !eos_ids.contains(&id) {
                    eos_ids.push(id);
                }
            }
        }
        Ok(Self {
            tokenizer,
            token_bytes,
            eos_ids,
            bos_id: get_id(md, "tokenizer.ggml.bos_token_id"),
            pre: pre.to_owned(),
        })
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Token ids of `text`. Special tokens written in the text (e.g.
    /// `<|im_start|>`) become their single ids, as chat templates need.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.tokenizer
            .encode_fast(text, false)
            .map(|e| e.get_ids().to_vec())
            .map_err(|e| TokenizerError::Build(e.to_string()))
    }

    /// Text of `ids`, with or without special tokens.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, TokenizerError> {
        self.tokenizer
            .decode(ids, skip_special)
            .map_err(|e| TokenizerError::Build(e.to_string()))
    }

    /// The raw bytes a token stands for (empty for control tokens).
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes
            .get(id as usize)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Id of a token given by its text form, e.g. `<|im_end|>`.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// Tokens that end generation.
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    /// The `tokenizer.ggml.pre` name the tokenizer was built for.
    pub fn pre_tokenizer_name(&self) -> &str {
        &self.pre
    }
}

fn pre_tokenizer(pre: &str) -> Result<PreTokenizerWrapper, TokenizerError> {
    let byte_level = |use_regex| {
        PreTokenizerWrapper::ByteLevel(tokenizers::pre_tokenizers::byte_level::ByteLevel::new(
            false, false, use_regex,
        ))
    };
    let split = |pattern: &str| -> Result<PreTokenizerWrapper, TokenizerError> {
        Split::new(
            SplitPattern::Regex(pattern.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map(PreTokenizerWrapper::Split)
        .map_err(|e| TokenizerError::Build(e.to_string()))
    };
    Ok(match pre {
        "qwen2" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            split(QWEN2_PATTERN)?,
            byte_level(false),
        ])),
        "llama-bpe" | "llama3" => PreTokenizerWrapper::Sequence(Sequence::new(vec![
            split(LLAMA3_PATTERN)?,
            byte_level(false),
        ])),
        // llama.cpp groups these: every digit alone, then the GPT-2 regex
        // (SmolLM2's tokenizer.json: Digits(individual) + ByteLevel(use_regex)).
        "smollm" | "starcoder" | "refact" | "codeshell" => {
            PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                byte_level(true),
            ]))
        }
        "gpt2" | "default" => byte_level(true),
        other => return Err(TokenizerError::UnsupportedPreTokenizer(other.to_owned())),
    })
}

/// Inverse of GPT-2's `bytes_to_unicode`: byte-level BPE writes every byte as
/// a printable character; this maps those characters back to bytes.
fn unicode_to_byte() -> HashMap<char, u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut map = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
        map.insert(c, b);
    }
    map
}

fn byte_level_decode(token: &str, byte_of: &HashMap<char, u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(token.len());
    for c in token.chars() {
        match byte_of.get(&c) {
            Some(b) => out.push(*b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_round_trips_all_bytes() {
        let map = unicode_to_byte();
        assert_eq!(map.len(), 256);
        assert_eq!(map[&'Ġ'], b' ');
        assert_eq!(map[&'Ċ'], b'\n');
        assert_eq!(byte_level_decode("ĠHello", &map), b" Hello");
        // "你" is E4 BD A0: written as ä ½ ł in byte-level form.
        assert_eq!(byte_level_decode("ä½ł", &map), "你".as_bytes());
    }

    #[test]
    fn unknown_pre_tokenizer_is_an_error() {
        assert!(matches!(
            pre_tokenizer("chatglm-bpe"),
            Err(TokenizerError::UnsupportedPreTokenizer(_))
        ));
    }
}
