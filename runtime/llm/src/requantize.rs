//! Re-quantizing GGUF tensors to a type candle runs fast.
//!
//! candle 0.11 has SIMD kernels for Q4_0/Q8_0/K-quants but not for Q4_1, Q5_0
//! or Q5_1, which then run ~5x slower. The 0.5B Qwen "Q4_K_M" file is mostly
//! Q5_0 (its width 896 is not a multiple of 256, so llama.cpp fell back) and the
//! SmolLM2 fixture is Q4_1, so we convert those tensors to Q8_0 once at fetch
//! time. Q8_0 has more precision than either (8 bits, same 32-element blocks),
//! so answers stay the same. The same code makes the smaller Q4_0 variant of the
//! 0.5B for the benchmark matrix. All metadata (tokenizer, chat template,
//! hyper-parameters) is kept, except `general.file_type`, which is set to the
//! new type so that tools (llama-bench) name the file for what it now holds.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::Device;
use indicatif::ProgressBar;

/// Quantized types candle 0.11 runs without SIMD kernels on x86 (scalar
/// `vec_dot`), several times slower than Q4_0/Q8_0/K-quants.
pub const SLOW_ON_CPU: &[GgmlDType] = &[GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

/// Quantized types re-quantized to Q4_0 for the Q4_0 variant: the 32-block
/// types of more bits (K-quants stay: they are already compact and run fast).
pub const TO_Q4_0: &[GgmlDType] = &[
    GgmlDType::Q4_1,
    GgmlDType::Q5_0,
    GgmlDType::Q5_1,
    GgmlDType::Q8_0,
];

/// One re-quantization: tensors of the types `from` become `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub from: &'static [GgmlDType],
    pub to: GgmlDType,
    /// Leave the output head as it is: `output.weight`, or `token_embd.weight`
    /// where the two are tied. For conversions to fewer bits, as llama.cpp's
    /// own quantizer keeps the head at higher precision: its rounding error
    /// lands directly on the logits.
    pub keep_head: bool,
}

/// The tensor the logits are computed from.
fn head_name(content: &gguf_file::Content) -> &'static str {
    if content.tensor_infos.contains_key("output.weight") {
        "output.weight"
    } else {
        "token_embd.weight"
    }
}

/// Metadata key recording what was converted, for provenance.
pub const PROVENANCE_KEY: &str = "govassist.requantized";

/// Metadata key of the file's overall type (llama.cpp's `llama_ftype`).
pub const FILE_TYPE_KEY: &str = "general.file_type";

/// llama.cpp's `llama_ftype` for a file mostly of `dtype` (`LLAMA_FTYPE_MOSTLY_*`),
/// for the types we convert to.
fn file_type(dtype: GgmlDType) -> Option<u32> {
    match dtype {
        GgmlDType::F32 => Some(0),
        GgmlDType::F16 => Some(1),
        GgmlDType::Q4_0 => Some(2),
        GgmlDType::Q4_1 => Some(3),
        GgmlDType::Q8_0 => Some(7),
        GgmlDType::Q5_0 => Some(8),
        GgmlDType::Q5_1 => Some(9),
        _ => None,
    }
}

/// What a conversion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequantizeStats {
    pub tensors: usize,
    pub converted: usize,
}

/// Reads the GGUF at `src` and writes it to `out` with every tensor whose type
/// is in `plan.from` re-quantized to `plan.to` (but the head if
/// `plan.keep_head`); other tensors are copied bit for bit.
/// The whole model is held in memory while writing (GGUF's header needs all
/// tensor sizes first); that is fine for the sub-2 GB models we ship.
pub fn requantize<W: Write + Seek>(
    src: &Path,
    out: &mut W,
    plan: &Plan,
    progress: &ProgressBar,
) -> candle_core::Result<RequantizeStats> {
    let Plan {
        from,
        to,
        keep_head,
    } = *plan;
    let mut reader = BufReader::new(File::open(src)?);
    let content = gguf_file::Content::read(&mut reader)?;
    let keep = keep_head.then(|| head_name(&content));
    let device = Device::Cpu;

    // Keep the original tensor order (by offset) so the file layout is familiar.
    let mut names: Vec<(&String, u64)> = content
        .tensor_infos
        .iter()
        .map(|(name, info)| (name, info.offset))
        .collect();
    names.sort_by_key(|(_, offset)| *offset);

    progress.set_length(names.len() as u64);
    let mut tensors = Vec::with_capacity(names.len());
    let mut converted = 0;
    for (name, _) in &names {
        let tensor = content.tensor(&mut reader, name, &device)?;
        let tensor = if from.contains(&tensor.dtype()) && keep != Some(name.as_str()) {
            converted += 1;
            QTensor::quantize(&tensor.dequantize(&device)?, to)?
        } else {
            tensor
        };
        tensors.push(((*name).as_str(), tensor));
        progress.inc(1);
    }
    progress.finish_and_clear();

    let provenance =
        gguf_file::Value::String(format!("{} tensors {:?} -> {:?}", converted, from, to));
    let ftype = file_type(to).map(gguf_file::Value::U32);
    let mut metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        // candle's writer always aligns to 32 bytes; a different recorded
        // alignment would make readers look for tensors in the wrong place.
        .filter(|(key, _)| {
            let key = key.as_str();
            key != "general.alignment"
                && key != PROVENANCE_KEY
                && !(key == FILE_TYPE_KEY && ftype.is_some() && converted > 0)
        })
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    metadata.push((PROVENANCE_KEY, &provenance));
    if let (Some(ftype), true) = (&ftype, converted > 0) {
        metadata.push((FILE_TYPE_KEY, ftype));
    }
    metadata.sort_by_key(|(key, _)| *key);

    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    gguf_file::write(&mut writer, &metadata, &tensor_refs)?;
    writer.flush()?;
    tracing::info!(
        src = %src.display(),
        tensors = tensors.len(),
        converted,
        "re-quantized GGUF"
    );
    Ok(RequantizeStats {
        tensors: tensors.len(),
        converted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    #[test]
    fn converts_only_the_requested_types_and_keeps_metadata() {
        let dev = Device::Cpu;
        let values: Vec<f32> = (0..64 * 32)
            .map(|i| ((i % 97) as f32 - 48.0) / 17.0)
            .collect();
        let t = Tensor::from_vec(values, (64, 32), &dev).unwrap();
        let q5 = QTensor::quantize(&t, GgmlDType::Q5_0).unwrap();
        let f32t = QTensor::quantize(&t, GgmlDType::F32).unwrap();
        let name = gguf_file::Value::String("tiny".into());
        let q4_1_file = gguf_file::Value::U32(3);

        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.gguf");
        let mut f = File::create(&src).unwrap();
        gguf_file::write(
            &mut f,
            &[("general.name", &name), (FILE_TYPE_KEY, &q4_1_file)],
            &[("a", &q5), ("b", &f32t), ("output.weight", &q5)],
        )
        .unwrap();
        drop(f);

        let dst = dir.path().join("out.gguf");
        let mut out = File::create(&dst).unwrap();
        let stats = requantize(
            &src,
            &mut out,
            &Plan {
                from: &[GgmlDType::Q5_0],
                to: GgmlDType::Q8_0,
                keep_head: true,
            },
            &ProgressBar::hidden(),
        )
        .unwrap();
        drop(out);
        assert_eq!(
            stats,
            RequantizeStats {
                tensors: 3,
                converted: 1
            }
        );

        let mut r = File::open(&dst).unwrap();
        let c = gguf_file::Content::read(&mut r).unwrap();
        assert_eq!(c.metadata["general.name"].to_string().unwrap(), "tiny");
        assert!(c.metadata.contains_key(PROVENANCE_KEY));
        assert_eq!(
            c.metadata[FILE_TYPE_KEY].to_u32().unwrap(),
            7,
            "MOSTLY_Q8_0"
        );
        let kept = c.tensor(&mut r, "output.weight", &dev).unwrap();
        assert_eq!(kept.dtype(), GgmlDType::Q5_0);
        let a = c.tensor(&mut r, "a", &dev).unwrap();
        assert_eq!(a.dtype(), GgmlDType::Q8_0);
        assert_eq!(c.tensor(&mut r, "b", &dev).unwrap().dtype(), GgmlDType::F32);
        // Q8_0 of the Q5_0 values stays within Q5_0's own error of the original.
        let diff = (a.dequantize(&dev).unwrap() - &t).unwrap().abs().unwrap();
        let max = diff
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(max < 0.2, "max abs error {max}");
    }
}
