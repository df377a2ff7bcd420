//! Re-quantizing GGUF tensors to a type candle runs fast.
//!
//! candle 0.11 has SIMD kernels for Q4_0/Q8_0/K-quants but not for Q4_1, Q5_0
//! or Q5_1, which then run ~5x slower. The 0.5B Qwen "Q4_K_M" file is mostly
//! Q5_0 (its width 896 is not a multiple of 256, so llama.cpp fell back) and the
//! SmolLM2 fixture is Q4_1, so we convert those tensors to Q8_0 once at fetch
//! time. Q8_0 has more precision than either (8 bits, same 32-element blocks),
//! so answers stay the same. All metadata (tokenizer, chat template,
//! hyper-parameters) is kept.

use std::fs::File;
use std::io::{BufReader, BufWriter, Seek, Write};
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::Device;
use indicatif::ProgressBar;

/// Quantized types candle 0.11 runs without SIMD kernels on x86 (scalar
/// `vec_dot`), several times slower than Q4_0/Q8_0/K-quants.
pub const SLOW_ON_CPU: &[GgmlDType] = &[GgmlDType::Q4_1, GgmlDType::Q5_0, GgmlDType::Q5_1];

/// Metadata key recording what was converted, for provenance.
pub const PROVENANCE_KEY: &str = "govassist.requantized";

/// What a conversion did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequantizeStats {
    pub tensors: usize,
    pub converted: usize,
}

/// Reads the GGUF at `src` and writes it to `out` with every tensor whose type
/// is in `from` re-quantized to `to`; other tensors are copied bit for bit.
/// The whole model is held in memory while writing (GGUF's header needs all
/// tensor sizes first); that is fine for the sub-2 GB models we ship.
pub fn requantize<W: Write + Seek>(
    src: &Path,
    out: &mut W,
    from: &[GgmlDType],
    to: GgmlDType,
    progress: &ProgressBar,
) -> candle_core::Result<RequantizeStats> {
    let mut reader = BufReader::new(File::open(src)?);
    let content = gguf_file::Content::read(&mut reader)?;
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
        let tensor = if from.contains(&tensor.dtype()) {
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
    let mut metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        // candle's writer always aligns to 32 bytes; a different recorded
        // alignment would make readers look for tensors in the wrong place.
        .filter(|(key, _)| key.as_str() != "general.alignment" && key.as_str() != PROVENANCE_KEY)
        .map(|(key, value)| (key.as_str(), value))
        .collect();
    metadata.push((PROVENANCE_KEY, &provenance));
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

        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.gguf");
        let mut f = File::create(&src).unwrap();
        gguf_file::write(
            &mut f,
            &[("general.name", &name)],
            &[("a", &q5), ("b", &f32t)],
        )
        .unwrap();
        drop(f);

        let dst = dir.path().join("out.gguf");
        let mut out = File::create(&dst).unwrap();
        let stats = requantize(
            &src,
            &mut out,
            &[GgmlDType::Q5_0],
            GgmlDType::Q8_0,
            &ProgressBar::hidden(),
        )
        .unwrap();
        drop(out);
        assert_eq!(
            stats,
            RequantizeStats {
                tensors: 2,
                converted: 1
            }
        );

        let mut r = File::open(&dst).unwrap();
        let c = gguf_file::Content::read(&mut r).unwrap();
        assert_eq!(c.metadata["general.name"].to_string().unwrap(), "tiny");
        assert!(c.metadata.contains_key(PROVENANCE_KEY));
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
