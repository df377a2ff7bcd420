//! [`SkillHost`]: the installed skills, each compiled once at load, and the
//! per-call sandbox (fresh store and instance, limits, capabilities).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Instant, SystemTime};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::bindings::govassist::skill::types;
use crate::bindings::{Skill, SkillPre};
use crate::cache::{self, CacheStatus};
use crate::deploy::Managed;
use crate::host::{CapabilityDenied, HostServices, HostState, InvocationRecord};
use crate::limits::{deadline_ticks, EpochTicker};
use crate::manifest::{Manifest, MANIFEST_FILE, MAX_MEMORY_MB};
use crate::outcome::{normalize_lang, Outcome, SkillSummary};
use crate::SkillError;

/// Concurrent instances the pooling allocator keeps slots for. A call beyond
/// this fails fast instead of exhausting memory.
const POOL_INSTANCES: u32 = 256;

/// Runs WebAssembly skills. `Send + Sync`: share it in an `Arc` and call
/// [`SkillHost::invoke`] from blocking threads.
pub struct SkillHost {
    engine: Engine,
    linker: Linker<HostState>,
    services: Arc<dyn HostServices>,
    skills: RwLock<HashMap<String, Arc<LoadedSkill>>>,
    /// The skills directory this host deploys into and watches (see
    /// `deploy.rs`); the lock also serialises deployments with the watcher.
    pub(crate) managed: Mutex<Option<Managed>>,
    pub(crate) watching: AtomicBool,
    _ticker: EpochTicker,
}

/// A skill ready to run: compiled, linked, described. Calls hold an `Arc` to
/// it, so replacing it in the map never disturbs a call in flight.
pub(crate) struct LoadedSkill {
    pub(crate) manifest: Arc<Manifest>,
    pub(crate) summary: SkillSummary,
    pre: SkillPre<HostState>,
}

impl SkillHost {
    pub fn new(services: Arc<dyn HostServices>) -> Result<Self, SkillError> {
        let engine = new_engine()?;
        let mut linker = Linker::new(&engine);
        Skill::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s).map_err(|e| {
            SkillError::Engine {
                reason: format!("{e:#}"),
            }
        })?;
        let ticker = EpochTicker::start(engine.clone()).map_err(|e| SkillError::Engine {
            reason: format!("cannot start the epoch ticker thread: {e}"),
        })?;
        Ok(SkillHost {
            engine,
            linker,
            services,
            skills: RwLock::default(),
            managed: Mutex::new(None),
            watching: AtomicBool::new(false),
            _ticker: ticker,
        })
    }

    /// Load every installed skill under `dir` (`dir/<name>/skill.toml` and
    /// the component it names). One bad skill is reported; the others load.
    pub fn load_dir(&self, dir: &Path) -> Vec<Result<SkillSummary, SkillError>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return vec![Err(SkillError::io(dir, e))],
        };
        let mut dirs: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| crate::deploy::is_skill_dir(p))
            .collect();
        dirs.sort();
        let results: Vec<_> = dirs
            .iter()
            .map(|d| {
                let result = self.load_skill(d);
                if let Err(e) = &result {
                    tracing::warn!(dir = %d.display(), code = e.code(), "skill not loaded: {e}");
                }
                result
            })
            .collect();
        self.adopt_dir(dir, &dirs, &results);
        results
    }

    /// Load (or replace: hot swap) the skill in `skill_dir`. Compiles the
    /// component (or takes it from the precompiled cache beside it), links
    /// it, and calls its `describe` under the manifest's limits; calls
    /// already running keep the old version.
    pub fn load_skill(&self, skill_dir: &Path) -> Result<SkillSummary, SkillError> {
        self.load_skill_cached(skill_dir)
            .map(|(summary, _)| summary)
    }

    /// [`SkillHost::load_skill`], also saying whether the precompiled cache
    /// was used.
    pub fn load_skill_cached(
        &self,
        skill_dir: &Path,
    ) -> Result<(SkillSummary, CacheStatus), SkillError> {
        let (loaded, status) = self.prepare(skill_dir)?;
        let summary = loaded.summary.clone();
        self.install(loaded);
        Ok((summary, status))
    }

    /// Validate, compile (through the cache), link and describe the skill in
    /// `skill_dir` without installing it.
    pub(crate) fn prepare(
        &self,
        skill_dir: &Path,
    ) -> Result<(Arc<LoadedSkill>, CacheStatus), SkillError> {
        let started = Instant::now();
        let manifest = Arc::new(Manifest::load(skill_dir)?);
        let path = manifest.component_path(skill_dir);
        let bytes = std::fs::read(&path).map_err(|e| SkillError::io(&path, e))?;
        let invalid = |reason: String| SkillError::InvalidComponent {
            path: path.clone(),
            reason,
        };

        let digest = cache::component_digest(&bytes);
        let (component, cache_status) = cache::load_component(&self.engine, &path, &bytes, &digest)
            .map_err(|e| invalid(format!("{e:#}")))?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "it does not fit the govassist:skill@0.1.0 world: {e:#}"
            ))
        })?;
        let pre = SkillPre::new(instance_pre).map_err(|e| {
            invalid(format!(
                "it does not export govassist:skill@0.1.0's functions: {e:#}"
            ))
        })?;

        let info = {
            let mut store = self.new_store(&manifest);
            let skill = pre
                .instantiate(&mut store)
                .map_err(|e| classify(e, &store, &manifest))?;
            skill
                .call_describe(&mut store)
                .map_err(|e| classify(e, &store, &manifest))?
        };
        if info.name != manifest.name || info.version != manifest.version {
            return Err(invalid(format!(
                "the component describes itself as `{}` {} but {MANIFEST_FILE} says `{}` {}; rebuild it or fix the manifest",
                info.name, info.version, manifest.name, manifest.version
            )));
        }
        let input_schema = serde_json::from_str(&info.input_schema)
            .map_err(|e| invalid(format!("describe().input-schema is not JSON: {e}")))?;

        let summary = SkillSummary {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            description: manifest.description.clone().unwrap_or(info.description),
            examples: info.examples,
            input_schema,
            capabilities: manifest.capabilities.clone(),
            personal_fields: manifest.personal_fields.clone(),
            limits: manifest.limits,
            sha256: hex::encode(digest),
        };
        tracing::debug!(
            skill = %manifest.name,
            version = %manifest.version,
            cache = ?cache_status,
            prepare_ms = started.elapsed().as_millis() as u64,
            "skill prepared"
        );
        Ok((
            Arc::new(LoadedSkill {
                manifest,
                summary,
                pre,
            }),
            cache_status,
        ))
    }

    /// Make `loaded` the version that new calls get (an atomic swap of one
    /// map entry). Returns the version it replaced.
    pub(crate) fn install(&self, loaded: Arc<LoadedSkill>) -> Option<Arc<LoadedSkill>> {
        let name = loaded.manifest.name.clone();
        let version = loaded.manifest.version.clone();
        let previous = self.write_skills().insert(name.clone(), loaded);
        tracing::info!(
            skill = %name,
            version = %version,
            replaced = previous.as_ref().map(|p| p.manifest.version.clone()),
            "skill loaded"
        );
        previous
    }

    /// The installed version of `name`, if any.
    pub(crate) fn current(&self, name: &str) -> Option<Arc<LoadedSkill>> {
        self.get(name).ok()
    }

    /// Remove an installed skill; calls already running finish. Returns
    /// whether it was installed.
    pub fn unload(&self, name: &str) -> bool {
        let removed = self.write_skills().remove(name).is_some();
        if removed {
            tracing::info!(skill = name, "skill unloaded");
        }
        removed
    }

    /// Every installed skill, by name.
    pub fn skills(&self) -> Vec<SkillSummary> {
        let skills = self.skills.read().unwrap_or_else(PoisonError::into_inner);
        let mut list: Vec<_> = skills.values().map(|s| s.summary.clone()).collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Call a skill. Synchronous and CPU-bound for up to the skill's
    /// `timeout_ms`: call it from a blocking thread. Audited with caller
    /// `"unknown"`; prefer [`SkillHost::invoke_as`].
    pub fn invoke(
        &self,
        name: &str,
        input: &serde_json::Value,
        lang: &str,
    ) -> Result<Outcome, SkillError> {
        self.invoke_as("unknown", name, input, lang, &[])
    }

    /// [`SkillHost::invoke`], also passing the user's personal fields; only
    /// those the manifest's `personal_fields` lists reach the skill.
    pub fn invoke_with_personal(
        &self,
        name: &str,
        input: &serde_json::Value,
        lang: &str,
        personal: &[(String, String)],
    ) -> Result<Outcome, SkillError> {
        self.invoke_as("unknown", name, input, lang, personal)
    }

    /// Call a skill on behalf of `caller` (`"http"`, `"cli"`, `"chat"`, …,
    /// recorded in the audit log). Only the personal fields the manifest's
    /// `personal_fields` lists reach the skill.
    pub fn invoke_as(
        &self,
        caller: &str,
        name: &str,
        input: &serde_json::Value,
        lang: &str,
        personal: &[(String, String)],
    ) -> Result<Outcome, SkillError> {
        let at = SystemTime::now();
        let started = Instant::now();
        let skill = self.get(name).ok();
        let result = match &skill {
            Some(skill) => self.run(skill, input, lang, personal),
            None => Err(SkillError::NotFound {
                name: name.to_owned(),
            }),
        };
        let duration_us = started.elapsed().as_micros() as u64;
        let (outcome, error_code) = match &result {
            Ok(outcome) => (outcome.status(), None),
            Err(e) => ("error", Some(e.code())),
        };
        self.services.record_invocation(&InvocationRecord {
            at,
            skill: name,
            version: skill.as_ref().map(|s| s.manifest.version.as_str()),
            caller,
            duration_us,
            outcome,
            error_code,
        });
        // Never the input or output here: they may carry personal data.
        match &result {
            Ok(_) => tracing::debug!(skill = name, caller, duration_us, outcome, "skill invoked"),
            Err(e) => tracing::warn!(
                skill = name,
                caller,
                duration_us,
                code = e.code(),
                "skill invocation failed: {e}"
            ),
        }
        result
    }

    fn run(
        &self,
        skill: &LoadedSkill,
        input: &serde_json::Value,
        lang: &str,
        personal: &[(String, String)],
    ) -> Result<Outcome, SkillError> {
        let manifest = &skill.manifest;
        let lang = normalize_lang(lang)?;
        if !input.is_object() {
            return Err(SkillError::InvalidInput {
                reason: "`input` must be a JSON object".into(),
            });
        }
        let input = input.to_string();
        if input.len() > manifest.limits.max_input_bytes {
            return Err(SkillError::InputTooLarge {
                skill: manifest.name.clone(),
                size: input.len(),
                limit: manifest.limits.max_input_bytes,
            });
        }
        let personal = personal
            .iter()
            .filter(|(k, _)| manifest.personal_fields.contains(k))
            .cloned()
            .collect();
        let request = types::Request {
            input,
            lang: lang.to_owned(),
            personal,
        };

        let mut store = self.new_store(manifest);
        skill
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.call_invoke(&mut store, &request))
            .map_err(|e| classify(e, &store, manifest))
            .and_then(|out| {
                Outcome::from_guest(&manifest.name, out, manifest.limits.max_output_bytes)
            })
    }

    fn get(&self, name: &str) -> Result<Arc<LoadedSkill>, SkillError> {
        let skills = self.skills.read().unwrap_or_else(PoisonError::into_inner);
        skills
            .get(name)
            .cloned()
            .ok_or_else(|| SkillError::NotFound {
                name: name.to_owned(),
            })
    }

    fn write_skills(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<LoadedSkill>>> {
        // The map is always consistent (single insert/remove), so a panic
        // elsewhere while holding the lock does not invalidate it.
        self.skills.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh store for one call, under the manifest's limits.
    fn new_store(&self, manifest: &Arc<Manifest>) -> Store<HostState> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(Arc::clone(manifest), Arc::clone(&self.services)),
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(deadline_ticks(manifest.limits.timeout_ms));
        store.epoch_deadline_trap();
        store
    }
}

/// The engine: component model, epoch interruption for timeouts, and the
/// pooling allocator (instantiation in a few µs). Where the pool cannot
/// reserve its address space (e.g. a tight `ulimit -v`), fall back to
/// on-demand allocation rather than refusing to start.
///
/// Linear memories keep wasmtime's defaults: a 4 GiB reservation plus guard
/// pages per slot, so compiled code needs no bounds checks, and Spectre
/// mitigations stay on. What a call costs the host beyond instantiation is
/// then resetting the slot, and changing page protections when the guest
/// grew its memory: `mprotect` takes the process's address-space lock for
/// writing, and taking pages back interrupts every other thread to flush its
/// TLB, which made two threads each slower than one. Skills built by
/// `govassist skill build` start with heap headroom (`build::HEAP_HEADROOM_BYTES`)
/// that the SDK's allocator uses before it grows memory, so a small call never
/// reaches `mprotect` at all. (`Config::signals_based_traps(false)` would also
/// avoid it, for every guest, but only by bounds-checking each access without
/// Spectre mitigations; MPK stripes do not help: they still `mprotect`.)
fn new_engine() -> Result<Engine, SkillError> {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES * 2)
        .max_memory_size((MAX_MEMORY_MB as usize) << 20);
    // Probes the ioctl itself (Linux 6.7+, and not disabled in the kernel).
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        // Reset a used slot by copying back only the pages the call dirtied
        // (found with one PAGEMAP_SCAN ioctl) instead of `madvise`: the next
        // call takes no page faults, and no TLB shootdown happens. Without the
        // ioctl this would `memset` the first bytes of every memory whether
        // dirty or not, so only where it exists.
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10);
    }
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!("pooling allocator unavailable, using on-demand allocation: {e:#}");
            Engine::new(&config).map_err(|e| SkillError::Engine {
                reason: format!("{e:#}"),
            })
        }
    }
}

/// Dirty memory per call reset by copying rather than decommitting (see
/// `new_engine`); a call that dirties more pays `madvise` for the rest.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// Turn a wasmtime error from instantiating or calling a skill into a typed
/// error, using what the store saw (memory cap hit) and what the host
/// imports raised (capability denied).
fn classify(err: wasmtime::Error, store: &Store<HostState>, manifest: &Manifest) -> SkillError {
    let skill = manifest.name.clone();
    if store.data().limiter.was_hit() {
        return SkillError::MemoryLimit {
            skill,
            memory_mb: manifest.limits.memory_mb,
        };
    }
    if let Some(denied) = err.downcast_ref::<CapabilityDenied>() {
        return SkillError::CapabilityDenied {
            skill,
            capability: denied.capability.as_str(),
        };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => {
            return SkillError::Timeout {
                skill,
                timeout_ms: manifest.limits.timeout_ms,
            }
        }
        Some(Trap::StackOverflow) => return SkillError::StackOverflow { skill },
        _ => {}
    }
    // The trap itself ("wasm `unreachable` instruction executed", "out of
    // bounds memory access", …), not the backtrace, which goes to the debug log.
    tracing::debug!(skill = %skill, "skill trapped: {err:?}");
    let message = match err.downcast_ref::<Trap>() {
        // Rust guests keep their stack in linear memory, so unbounded
        // recursion usually ends here rather than in a stack overflow.
        Some(Trap::MemoryOutOfBounds) => format!(
            "{} (outside its linear memory; deep recursion in the skill also ends this way)",
            Trap::MemoryOutOfBounds
        ),
        Some(trap) => trap.to_string(),
        None => err.root_cause().to_string(),
    };
    SkillError::Trap { skill, message }
}
