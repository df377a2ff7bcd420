//! Hot deployment: the skills directory the host manages, and every way it
//! changes while the host runs: [`SkillHost::deploy`] (an admin uploads a new
//! version), [`SkillHost::rollback`], [`SkillHost::remove`], and the watcher
//! ([`SkillHost::watch`]) that picks up skills an operator copies in or
//! deletes by hand.
//!
//! All of them take the same path: **validate → precompile → swap**. The new
//! version is written to `<dir>/.staging/…`, loaded from there (manifest
//! parsed, component compiled through the cache, its `describe` checked
//! against the manifest under the manifest's limits), and only then moved
//! into place and swapped into the in-memory map. A rejection leaves the
//! directory and the running version as they were. Calls in flight hold an
//! `Arc` to the version they started with and finish on it.
//!
//! Layout of the managed directory:
//!
//! ```text
//! <dir>/<name>/skill.toml, <component>.wasm, <component>.cwasm   the live version
//! <dir>/.previous/<name>/…                                        the one before (rollback)
//! <dir>/.staging/…                                                uploads being validated
//! ```
//!
//! Hidden entries, `*.cwasm` (the cache) and `*.tmp` files are never taken
//! for skills or changes.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cache::CACHE_EXT;
use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::outcome::SkillSummary;
use crate::skill_host::SkillHost;
use crate::SkillError;

const PREVIOUS: &str = ".previous";
const STAGING: &str = ".staging";

/// The directory a host manages and what it last loaded from each entry.
pub(crate) struct Managed {
    dir: PathBuf,
    /// Directory entry name → what was seen and loaded there.
    known: HashMap<String, Known>,
}

struct Known {
    fingerprint: Fingerprint,
    /// The skill loaded from this entry (kept on a failed reload: the old
    /// version keeps serving).
    skill: Option<String>,
}

/// Names, sizes and modification times of a skill directory's files.
type Fingerprint = Vec<(OsString, u64, SystemTime)>;

/// What a deployment or rollback did.
#[derive(Debug, Clone, Serialize)]
pub struct Deployed {
    pub skill: SkillSummary,
    /// The version it replaced, if one was installed.
    pub previous_version: Option<String>,
}

/// What one pass of the watcher changed.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub loaded: Vec<String>,
    pub unloaded: Vec<String>,
    /// Directory entries that failed to load (the old version, if any, keeps serving).
    pub failed: Vec<(String, SkillError)>,
}

impl SyncReport {
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty() && self.unloaded.is_empty() && self.failed.is_empty()
    }
}

/// A skill directory: not hidden, with a manifest inside.
pub(crate) fn is_skill_dir(path: &Path) -> bool {
    !is_hidden(path) && path.join(MANIFEST_FILE).is_file()
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_none_or(|n| n.starts_with('.'))
}

fn fingerprint(dir: &Path) -> std::io::Result<Fingerprint> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if is_hidden(&path) || ext == CACHE_EXT || ext == "tmp" {
            continue;
        }
        let meta = entry.metadata()?;
        if meta.is_file() {
            files.push((entry.file_name(), meta.len(), meta.modified()?));
        }
    }
    files.sort();
    Ok(files)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SkillError + '_ {
    move |e| SkillError::io(path, e)
}

impl SkillHost {
    /// Manage `dir`: deployments go there and [`SkillHost::sync`] follows it.
    /// The first directory given (here or to [`SkillHost::load_dir`]) stays
    /// the managed one. Leftovers of interrupted uploads are removed.
    pub fn manage(&self, dir: &Path) {
        let mut managed = self.lock_managed();
        if managed.is_none() {
            remove_stale_staging(&dir.join(STAGING));
            *managed = Some(Managed {
                dir: dir.to_owned(),
                known: HashMap::new(),
            });
        }
    }

    /// Record what `load_dir` loaded, so that the watcher only acts on changes.
    pub(crate) fn adopt_dir(
        &self,
        dir: &Path,
        dirs: &[PathBuf],
        results: &[Result<SkillSummary, SkillError>],
    ) {
        self.manage(dir);
        let mut guard = self.lock_managed();
        let Some(managed) = guard.as_mut().filter(|m| m.dir == dir) else {
            return;
        };
        for (path, result) in dirs.iter().zip(results) {
            let (Some(name), Ok(fingerprint)) = (entry_name(path), fingerprint(path)) else {
                continue;
            };
            let skill = result.as_ref().ok().map(|s| s.name.clone());
            managed.known.insert(name, Known { fingerprint, skill });
        }
    }

    /// Deploy a new version of skill `name` from its manifest text and
    /// component bytes. Refused (and nothing changes) when the manifest is
    /// invalid or names another skill, when the component does not describe
    /// itself as the manifest says, or when its version is older than the
    /// installed one (unless `allow_downgrade`). The replaced version is kept
    /// for [`SkillHost::rollback`].
    pub fn deploy(
        &self,
        name: &str,
        manifest_text: &str,
        component: &[u8],
        allow_downgrade: bool,
    ) -> Result<Deployed, SkillError> {
        let mut guard = self.lock_managed();
        let managed = guard.as_mut().ok_or(SkillError::NotManaged)?;
        let manifest =
            Manifest::parse(manifest_text).map_err(|reason| SkillError::InvalidManifest {
                path: PathBuf::from(format!("uploaded {MANIFEST_FILE}")),
                reason,
            })?;
        if manifest.name != name {
            return Err(SkillError::NameMismatch {
                url: name.to_owned(),
                manifest: manifest.name,
            });
        }
        let version = semver::Version::parse(&manifest.version).map_err(|e| {
            SkillError::InvalidManifest {
                path: PathBuf::from(format!("uploaded {MANIFEST_FILE}")),
                reason: format!(
                    "`version` must be a semantic version such as 1.2.0 to be deployed, not `{}` ({e})",
                    manifest.version
                ),
            }
        })?;
        if let Some(current) = self.current(name).filter(|_| !allow_downgrade) {
            let older = semver::Version::parse(&current.manifest.version)
                .is_ok_and(|cur| version.cmp_precedence(&cur).is_lt());
            if older {
                return Err(SkillError::VersionDowngrade {
                    skill: name.to_owned(),
                    current: current.manifest.version.clone(),
                    new: manifest.version,
                });
            }
        }

        let staging = staging_dir(&managed.dir, name)?;
        let prepared = std::fs::write(staging.join(MANIFEST_FILE), manifest_text)
            .and_then(|()| std::fs::write(manifest.component_path(&staging), component))
            .map_err(io(&staging))
            .and_then(|()| self.prepare(&staging).map_err(as_upload_error));
        let loaded = match prepared {
            Ok((loaded, _)) => loaded,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staging);
                return Err(e);
            }
        };
        move_into_place(&managed.dir, name, &staging)?;
        let previous = self.install(Arc::clone(&loaded));
        managed.remember(name, Some(name.to_owned()));
        tracing::info!(skill = name, version = %loaded.manifest.version, "skill deployed");
        Ok(Deployed {
            skill: loaded.summary.clone(),
            previous_version: previous.map(|p| p.manifest.version.clone()),
        })
    }

    /// Swap skill `name` with its previous version (so a second rollback
    /// goes forward again). The previous version is validated and
    /// precompiled before anything moves.
    pub fn rollback(&self, name: &str) -> Result<Deployed, SkillError> {
        let mut guard = self.lock_managed();
        let managed = guard.as_mut().ok_or(SkillError::NotManaged)?;
        known_name(name)?;
        let previous_dir = managed.dir.join(PREVIOUS).join(name);
        if !is_skill_dir(&previous_dir) {
            return Err(SkillError::NoPreviousVersion {
                name: name.to_owned(),
            });
        }
        let (loaded, _) = self.prepare(&previous_dir).map_err(as_upload_error)?;
        if loaded.manifest.name != name {
            return Err(SkillError::NameMismatch {
                url: name.to_owned(),
                manifest: loaded.manifest.name.clone(),
            });
        }
        let live = managed.dir.join(name);
        if live.exists() {
            let parked = staging_path(&managed.dir, name);
            std::fs::rename(&live, &parked).map_err(io(&live))?;
            if let Err(e) = std::fs::rename(&previous_dir, &live) {
                let _ = std::fs::rename(&parked, &live);
                return Err(SkillError::io(&live, e));
            }
            std::fs::rename(&parked, &previous_dir).map_err(io(&previous_dir))?;
        } else {
            std::fs::rename(&previous_dir, &live).map_err(io(&live))?;
        }
        let replaced = self.install(Arc::clone(&loaded));
        managed.remember(name, Some(name.to_owned()));
        tracing::info!(skill = name, version = %loaded.manifest.version, "skill rolled back");
        Ok(Deployed {
            skill: loaded.summary.clone(),
            previous_version: replaced.map(|p| p.manifest.version.clone()),
        })
    }

    /// Remove skill `name`: unloaded at once (calls in flight finish), its
    /// directory kept as the previous version so that a rollback restores
    /// it. Returns the removed version.
    pub fn remove(&self, name: &str) -> Result<Option<String>, SkillError> {
        let mut guard = self.lock_managed();
        let managed = guard.as_mut().ok_or(SkillError::NotManaged)?;
        known_name(name)?;
        let live = managed.dir.join(name);
        let loaded = self.current(name);
        let on_disk = is_skill_dir(&live);
        if loaded.is_none() && !on_disk {
            return Err(SkillError::NotFound {
                name: name.to_owned(),
            });
        }
        if on_disk {
            let previous_dir = managed.dir.join(PREVIOUS).join(name);
            replace_dir(&live, &previous_dir)?;
        }
        self.unload(name);
        managed.known.remove(name);
        Ok(loaded.map(|l| l.manifest.version.clone()))
    }

    /// One pass of the watcher: load skill directories that are new or
    /// changed (same validation as at start-up; a failure keeps the old
    /// version serving), unload skills whose directory is gone.
    pub fn sync(&self) -> SyncReport {
        let mut report = SyncReport::default();
        let mut guard = self.lock_managed();
        let Some(managed) = guard.as_mut() else {
            return report;
        };
        let entries = match std::fs::read_dir(&managed.dir) {
            Ok(entries) => entries,
            // A missing directory means no skills yet, not that all are gone:
            // an unmounted volume must not unload everything.
            Err(_) => return report,
        };
        let mut seen = HashSet::new();
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            let Some(name) = entry_name(&path).filter(|_| is_skill_dir(&path)) else {
                continue;
            };
            seen.insert(name.clone());
            let Ok(fingerprint) = fingerprint(&path) else {
                continue;
            };
            let before = managed.known.get(&name);
            if before.is_some_and(|k| k.fingerprint == fingerprint) {
                continue;
            }
            let previous_skill = before.and_then(|k| k.skill.clone());
            let skill = match self.load_skill(&path) {
                Ok(summary) => {
                    report.loaded.push(summary.name.clone());
                    Some(summary.name)
                }
                Err(e) => {
                    tracing::warn!(dir = %path.display(), code = e.code(), "changed skill not loaded; the running version (if any) stays: {e}");
                    report.failed.push((name.clone(), e));
                    previous_skill
                }
            };
            managed.known.insert(name, Known { fingerprint, skill });
        }
        let gone: Vec<String> = managed
            .known
            .keys()
            .filter(|k| !seen.contains(*k))
            .cloned()
            .collect();
        for name in gone {
            if let Some(skill) = managed.known.remove(&name).and_then(|k| k.skill) {
                if self.unload(&skill) {
                    report.unloaded.push(skill);
                }
            }
        }
        report
    }

    /// Follow the managed directory (`dir`, if none is managed yet) from a
    /// background thread, one [`SkillHost::sync`] every `interval`. The
    /// thread ends when the host is dropped. Returns false if already watching.
    pub fn watch(self: &Arc<Self>, dir: &Path, interval: Duration) -> bool {
        self.manage(dir);
        if self.watching.swap(true, Ordering::SeqCst) {
            return false;
        }
        let host = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("skill-watch".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                let Some(host) = host.upgrade() else { break };
                let report = host.sync();
                if !report.is_empty() {
                    tracing::info!(
                        loaded = ?report.loaded,
                        unloaded = ?report.unloaded,
                        failed = report.failed.len(),
                        "skills directory changed"
                    );
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the skills-directory watcher: {e}");
            self.watching.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    fn lock_managed(&self) -> MutexGuard<'_, Option<Managed>> {
        // Every change below leaves `Managed` consistent before it can fail.
        self.managed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Managed {
    /// After a deployment or rollback: the live directory is what is loaded.
    fn remember(&mut self, name: &str, skill: Option<String>) {
        if let Ok(fingerprint) = fingerprint(&self.dir.join(name)) {
            self.known
                .insert(name.to_owned(), Known { fingerprint, skill });
        }
    }
}

/// A name from a URL, before it is joined to a path: only plain skill names
/// (never `..` or `/`) can name an installed skill.
fn known_name(name: &str) -> Result<(), SkillError> {
    crate::manifest::check_name(name).map_err(|_| SkillError::NotFound {
        name: name.to_owned(),
    })
}

fn entry_name(path: &Path) -> Option<String> {
    path.file_name()?.to_str().map(str::to_owned)
}

/// An uploaded or restored version that fails its trial `describe` is a bad
/// component (the admin's to fix), not a failing call.
fn as_upload_error(e: SkillError) -> SkillError {
    if e.is_client_error() || matches!(e, SkillError::Io { .. }) {
        return e;
    }
    SkillError::InvalidComponent {
        path: PathBuf::from("uploaded component"),
        reason: format!(
            "its describe() failed under the manifest's limits ({}): {e}",
            e.code()
        ),
    }
}

/// Uploads interrupted by a crash are left in `.staging`; remove those old
/// enough not to belong to a deployment running now (another process, e.g.
/// `govassist skill list`, may open the same directory while a server deploys).
fn remove_stale_staging(staging: &Path) {
    const STALE: Duration = Duration::from_secs(3600);
    let Ok(entries) = std::fs::read_dir(staging) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn staging_path(dir: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    dir.join(STAGING).join(format!(
        "{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn staging_dir(dir: &Path, name: &str) -> Result<PathBuf, SkillError> {
    let path = staging_path(dir, name);
    std::fs::create_dir_all(&path).map_err(io(&path))?;
    Ok(path)
}

/// Move `from` to `to`, replacing whatever is at `to`.
fn replace_dir(from: &Path, to: &Path) -> Result<(), SkillError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    if to.exists() {
        std::fs::remove_dir_all(to).map_err(io(to))?;
    }
    std::fs::rename(from, to).map_err(io(to))
}

/// Make `staging` the live `<dir>/<name>`, keeping the live one as the
/// previous version. Both are renames within one directory tree, so each
/// is atomic; if the second fails, the live version is put back.
fn move_into_place(dir: &Path, name: &str, staging: &Path) -> Result<(), SkillError> {
    let live = dir.join(name);
    let previous = dir.join(PREVIOUS).join(name);
    let had_live = live.exists();
    if had_live {
        replace_dir(&live, &previous).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(staging);
        })?;
    }
    if let Err(e) = std::fs::rename(staging, &live) {
        if had_live {
            let _ = std::fs::rename(&previous, &live);
        }
        let _ = std::fs::remove_dir_all(staging);
        return Err(SkillError::io(&live, e));
    }
    Ok(())
}
