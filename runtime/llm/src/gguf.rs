//! Opening GGUF files and checking them before candle touches the weights.
//!
//! candle reports a truncated or corrupt file only when it reaches the
//! broken tensor, with a low-level message. We check the header and that
//! every tensor lies inside the file up front, so a bad download is reported
//! as such, with the fix, before any loading work is done.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};

use crate::error::LlmError;

/// Model families the engine can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Qwen2,
    Llama,
}

impl Architecture {
    /// The GGUF `general.architecture` name, also the metadata key prefix.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qwen2 => "qwen2",
            Self::Llama => "llama",
        }
    }
}

/// A parsed GGUF header with a reader positioned anywhere in the file.
pub(crate) struct GgufFile {
    pub content: Content,
    pub reader: BufReader<File>,
}

/// Opens `path`, parses the header and verifies the tensor data is complete.
pub(crate) fn open(path: &Path) -> Result<GgufFile, LlmError> {
    let corrupt = |detail: String| LlmError::CorruptModel {
        path: path.to_owned(),
        detail,
    };
    let file = File::open(path).map_err(|source| LlmError::Io {
        path: path.to_owned(),
        source,
    })?;
    let file_len = file
        .metadata()
        .map_err(|source| LlmError::Io {
            path: path.to_owned(),
            source,
        })?
        .len();
    let mut reader = BufReader::new(file);
    let content =
        Content::read(&mut reader).map_err(|e| corrupt(format!("bad GGUF header: {e}")))?;

    let mut needed = content.tensor_data_offset;
    for (name, info) in &content.tensor_infos {
        let elems = info.shape.elem_count() as u64;
        let block = info.ggml_dtype.block_size() as u64;
        if elems.checked_rem(block) != Some(0) {
            return Err(corrupt(format!("tensor {name} has an impossible shape")));
        }
        let end = content.tensor_data_offset
            + info.offset
            + elems / block * info.ggml_dtype.type_size() as u64;
        needed = needed.max(end);
    }
    if needed > file_len {
        return Err(corrupt(format!(
            "truncated: the file is {file_len} bytes but its tensors need {needed}"
        )));
    }
    Ok(GgufFile { content, reader })
}

/// The model family named in the header.
pub(crate) fn architecture(content: &Content, path: &Path) -> Result<Architecture, LlmError> {
    let name =
        metadata_str(content, "general.architecture").ok_or_else(|| LlmError::CorruptModel {
            path: path.to_owned(),
            detail: "no general.architecture in metadata".into(),
        })?;
    match name {
        "qwen2" => Ok(Architecture::Qwen2),
        "llama" => Ok(Architecture::Llama),
        other => Err(LlmError::UnsupportedArchitecture {
            path: path.to_owned(),
            architecture: other.to_owned(),
        }),
    }
}

pub(crate) fn metadata_str<'a>(content: &'a Content, key: &str) -> Option<&'a str> {
    match content.metadata.get(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

pub(crate) fn metadata_usize(content: &Content, key: &str) -> Option<usize> {
    content.metadata.get(key)?.to_u64().ok().map(|v| v as usize)
}
