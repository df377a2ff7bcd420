//! Building the `skills/` workspace into installable components.
//!
//! Skills are built for `wasm32-unknown-unknown`: with the rustup target
//! when it is installed, otherwise with Debian's `rustc-web` and its standard
//! library source (`-Zbuild-std`), linked by rustup's `rust-lld`, because
//! on offline machines `rustup target add` cannot download anything. The
//! core module wit-bindgen produces carries its component type; wrapping it
//! into a component needs no external tool. See TOOLCHAIN notes in
//! `skills/README.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::SkillError;

const TARGET: &str = "wasm32-unknown-unknown";
const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
const DEBIAN_CARGO: &str = "/usr/bin/cargo";
const DEBIAN_STD_SRC: &str = "/usr/lib/rustlib/src/rust/library";

/// Linear memory every skill starts with beyond its stack and static data
/// (`wasm-ld --initial-heap`), which the SDK's allocator uses before it grows
/// memory.
///
/// Why: a call that executes `memory.grow` makes the host unprotect pages of
/// its pooled memory slot (`mprotect`), and reusing the slot for the next call
/// protects them again; both take the process's address-space lock for
/// writing, and the second interrupts every other host thread to flush its
/// TLB. With two threads invoking a trivial skill that was most of the cost
/// of a call (p50 36 µs, against 10 µs when no call grows). Untouched
/// headroom costs nothing: its pages are never faulted in, and the host
/// resets only the pages a call dirtied. 512 KiB holds a call of every
/// bundled skill (`policy-matching`, the largest, needs under 256 KiB) and
/// keeps the initial memory (1 MiB stack, data, headroom) under 2 MiB, far
/// below any useful `memory_mb`.
pub const HEAP_HEADROOM_BYTES: usize = 512 << 10;

/// Wrap a core module carrying its component type (wit-bindgen's output)
/// into a component.
pub fn componentize(core_module: &[u8]) -> Result<Vec<u8>, SkillError> {
    wit_component::ComponentEncoder::default()
        .module(core_module)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| SkillError::InvalidComponent {
            path: PathBuf::from("<core module>"),
            reason: format!(
                "cannot make a component of it (was it built with the govassist skill SDK?): {e:#}"
            ),
        })
}

/// Build every skill crate directly under `skills_root` (a `Cargo.toml` with
/// a `skill.toml` beside it) for wasm32 and install each as
/// `out_dir/<name>/{skill.toml,<component>}`. Returns the installed names.
/// Cargo's output goes to the user's terminal.
pub fn build_skills(skills_root: &Path, out_dir: &Path) -> Result<Vec<String>, SkillError> {
    let dirs = skill_crate_dirs(skills_root)?;
    if dirs.is_empty() {
        return Err(SkillError::BuildFailed {
            reason: format!(
                "no skill crates (a Cargo.toml with a {MANIFEST_FILE} beside it) under {}",
                skills_root.display()
            ),
        });
    }
    build_crates(skills_root, &dirs, out_dir)
}

/// Build and install the given skill crates of the skills workspace rooted
/// at `workspace` (e.g. test fixtures that `build_skills` skips).
pub fn build_crates(
    workspace: &Path,
    crate_dirs: &[PathBuf],
    out_dir: &Path,
) -> Result<Vec<String>, SkillError> {
    let crates = crate_dirs
        .iter()
        .map(|d| SkillCrate::read(d))
        .collect::<Result<Vec<_>, _>>()?;
    let toolchain = Toolchain::detect()?;
    // Cargo runs inside `workspace`, so a relative path would be resolved twice.
    let workspace = &workspace
        .canonicalize()
        .map_err(|e| SkillError::BuildFailed {
            reason: format!(
                "cannot find the skills workspace {}: {e}",
                workspace.display()
            ),
        })?;
    let target_dir = workspace.join("target");
    let mut cmd = toolchain.cargo_build(&target_dir);
    cmd.current_dir(workspace);
    for c in &crates {
        cmd.arg("-p").arg(&c.package);
    }
    tracing::info!(
        toolchain = toolchain.describe(),
        "building {} skill(s)",
        crates.len()
    );
    let status = cmd.status().map_err(|e| SkillError::BuildFailed {
        reason: format!("cannot run cargo: {e}"),
    })?;
    if !status.success() {
        return Err(SkillError::BuildFailed {
            reason: format!("cargo exited with {status}; see its output above"),
        });
    }

    let wasm_dir = target_dir.join(TARGET).join("release");
    crates
        .iter()
        .map(|c| install(c, &wasm_dir, out_dir))
        .collect()
}

/// One skill crate in the workspace.
struct SkillCrate {
    dir: PathBuf,
    package: String,
}

impl SkillCrate {
    fn read(dir: &Path) -> Result<SkillCrate, SkillError> {
        let cargo_toml = dir.join("Cargo.toml");
        let text =
            std::fs::read_to_string(&cargo_toml).map_err(|e| SkillError::io(&cargo_toml, e))?;
        let package = toml::from_str::<toml::Table>(&text)
            .ok()
            .and_then(|t| t.get("package")?.get("name")?.as_str().map(str::to_owned))
            .ok_or_else(|| SkillError::BuildFailed {
                reason: format!("{} has no [package] name", cargo_toml.display()),
            })?;
        Ok(SkillCrate {
            dir: dir.to_owned(),
            package,
        })
    }
}

fn skill_crate_dirs(root: &Path) -> Result<Vec<PathBuf>, SkillError> {
    let entries = std::fs::read_dir(root).map_err(|e| SkillError::io(root, e))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|d| d.join(MANIFEST_FILE).is_file() && d.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Componentize one built crate and write it with its manifest. Files are
/// written to temporaries and renamed, so a host loading the directory at
/// the same time never reads half a file.
fn install(c: &SkillCrate, wasm_dir: &Path, out_dir: &Path) -> Result<String, SkillError> {
    let manifest = Manifest::load(&c.dir)?;
    let wasm = wasm_dir.join(format!("{}.wasm", c.package.replace('-', "_")));
    let core = std::fs::read(&wasm).map_err(|e| SkillError::io(&wasm, e))?;
    let component = componentize(&core).map_err(|e| match e {
        SkillError::InvalidComponent { reason, .. } => SkillError::InvalidComponent {
            path: wasm.clone(),
            reason,
        },
        other => other,
    })?;

    let dest = out_dir.join(&manifest.name);
    std::fs::create_dir_all(&dest).map_err(|e| SkillError::io(&dest, e))?;
    write_atomic(&manifest.component_path(&dest), &component)?;
    let manifest_src = c.dir.join(MANIFEST_FILE);
    let manifest_text =
        std::fs::read(&manifest_src).map_err(|e| SkillError::io(&manifest_src, e))?;
    write_atomic(&dest.join(MANIFEST_FILE), &manifest_text)?;
    tracing::info!(skill = %manifest.name, bytes = component.len(), dir = %dest.display(), "skill installed");
    Ok(manifest.name)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SkillError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| SkillError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| SkillError::io(path, e))
}

/// How to compile for wasm32 on this machine.
enum Toolchain {
    /// `rustup target add wasm32-unknown-unknown` has been done.
    Rustup,
    /// Debian's rustc-web building std from source, linked by `lld`.
    DebianBuildStd { lld: PathBuf },
}

impl Toolchain {
    fn detect() -> Result<Toolchain, SkillError> {
        let rustup_has_target = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .is_ok_and(|o| {
                o.status.success()
                    && String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .any(|l| l.trim() == TARGET)
            });
        if rustup_has_target {
            return Ok(Toolchain::Rustup);
        }
        for (path, what) in [
            (DEBIAN_RUSTC, "rustc-web"),
            (DEBIAN_CARGO, "cargo-web"),
            (DEBIAN_STD_SRC, "rust-web-src"),
        ] {
            if !Path::new(path).exists() {
                return Err(SkillError::ToolchainMissing {
                    reason: format!("the rustup target {TARGET} is not installed and neither is {path} (Debian package {what})"),
                });
            }
        }
        let lld = find_lld().ok_or_else(|| SkillError::ToolchainMissing {
            reason: "no working wasm linker: expected rust-lld in the rustup toolchain (`rustc --print sysroot`)".into(),
        })?;
        Ok(Toolchain::DebianBuildStd { lld })
    }

    fn describe(&self) -> &'static str {
        match self {
            Toolchain::Rustup => "rustup",
            Toolchain::DebianBuildStd { .. } => "debian-build-std",
        }
    }

    fn cargo_build(&self, target_dir: &Path) -> Command {
        let mut cmd = match self {
            Toolchain::Rustup => {
                Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            }
            Toolchain::DebianBuildStd { .. } => Command::new(DEBIAN_CARGO),
        };
        // Settings inherited from an outer cargo (e.g. when run from `cargo
        // test`) would retarget this build; it must stand alone.
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "CARGO_BUILD_TARGET",
            "CARGO_TARGET_DIR",
            "RUSTC",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
        ] {
            cmd.env_remove(var);
        }
        cmd.args(["build", "--release", "--target", TARGET])
            .arg("--target-dir")
            .arg(target_dir)
            // Merged with any rustflags the workspace configures.
            .arg("--config")
            .arg(format!(
                "target.{TARGET}.rustflags = [\"-C\", \"link-arg=--initial-heap={HEAP_HEADROOM_BYTES}\"]"
            ));
        if let Toolchain::DebianBuildStd { lld } = self {
            cmd.env("RUSTC", DEBIAN_RUSTC)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", lld)
                .arg("-Zbuild-std=std,panic_abort");
        }
        cmd
    }
}

/// rustup's `rust-lld` (Debian's points to an `lld` that is usually not
/// installed).
fn find_lld() -> Option<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    let host = Command::new("rustc")
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8(o.stdout)
                .ok()?
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        })?;
    let lld = sysroot
        .join("lib/rustlib")
        .join(host)
        .join("bin")
        .join(exe("rust-lld"));
    lld.is_file().then_some(lld)
}

fn exe(name: &str) -> String {
    Path::new(name)
        .with_extension(std::env::consts::EXE_EXTENSION)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_componentized() {
        // (Whether a component fits the skill world is checked when loading.)
        let err = componentize(b"not wasm").unwrap_err();
        assert_eq!(err.code(), "invalid_component");
    }

    #[test]
    fn finds_the_bundled_skill_crates() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../skills");
        let dirs = skill_crate_dirs(&root).unwrap();
        let names: Vec<_> = dirs
            .iter()
            .map(|d| SkillCrate::read(d).unwrap().package)
            .collect();
        assert!(names.contains(&"policy-matching".to_owned()), "{names:?}");
        assert!(names.contains(&"template".to_owned()), "{names:?}");
        for not_a_skill in ["govassist-skill-sdk", "spin", "echo", "echo-v2", "bigout"] {
            assert!(
                !names.iter().any(|n| n == not_a_skill),
                "no SDK, no fixtures: {names:?}"
            );
        }
    }
}
