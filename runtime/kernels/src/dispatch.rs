//! Which kernel runs: CPU feature detection at run time, with an environment override.
//!
//! - [`Kernel::Avx512`]: AVX-512 F/BW/VL + VNNI (`vpdpbusd`), 16 weight rows per 512-bit vector.
//! - [`Kernel::Avx2`]: AVX2 + FMA + F16C (`vpmaddubsw` / `vpmaddwd`), 8 weight rows per vector.
//! - [`Kernel::Portable`]: plain Rust over the same packed layout; any CPU, and the reference the
//!   SIMD paths are tested against.
//!
//! `GOVASSIST_KERNELS=portable|avx2|avx512` forces a path (for tests and comparisons); a forced
//! path this CPU lacks falls back to the best supported path below it. Unset, empty or `auto`
//! means the best path. AMX is never used: these CPUs advertise it but fault on its instructions.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// The environment variable that forces a kernel path.
pub const ENV_VAR: &str = "GOVASSIST_KERNELS";

/// A kernel implementation. All share one packed weight layout, so a [`crate::PackedMatrix`]
/// runs on any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kernel {
    /// Plain Rust, no SIMD intrinsics.
    Portable,
    /// AVX2 + FMA + F16C.
    Avx2,
    /// AVX-512 F/BW/VL + VNNI.
    Avx512,
}

impl Kernel {
    /// All kernels, slowest first.
    pub const ALL: [Kernel; 3] = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512];

    /// Whether this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
                    // the quantization of activations runs the AVX2 code
                    && Kernel::Avx2.is_supported()
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The kernels this CPU supports, slowest first.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|k| k.is_supported())
            .collect()
    }

    /// The fastest kernel this CPU supports, ignoring the environment.
    pub fn best() -> Kernel {
        *Kernel::available()
            .last()
            .expect("portable is always supported")
    }

    /// The kernel [`crate::matmul`] uses: [`ENV_VAR`] if set and supported (else the best
    /// supported one below it), otherwise [`Kernel::best`]. Decided once per process.
    pub fn selected() -> Kernel {
        static SELECTED: OnceLock<Kernel> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let forced = std::env::var(ENV_VAR)
                .ok()
                .and_then(|v| v.parse::<Kernel>().ok());
            match forced {
                Some(k) => Kernel::available()
                    .into_iter()
                    .rfind(|a| *a <= k)
                    .unwrap_or(Kernel::Portable),
                None => Kernel::best(),
            }
        })
    }

    /// The name used by [`ENV_VAR`].
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown kernel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kernel {0:?} (expected portable, avx2 or avx512)")]
pub struct UnknownKernel(pub String);

impl FromStr for Kernel {
    type Err = UnknownKernel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "portable" | "scalar" => Ok(Kernel::Portable),
            "avx2" => Ok(Kernel::Avx2),
            "avx512" | "avx512vnni" | "avx-512" => Ok(Kernel::Avx512),
            other => Err(UnknownKernel(other.to_string())),
        }
    }
}
