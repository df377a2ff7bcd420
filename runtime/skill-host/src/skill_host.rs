//! [`SkillHost`]: the installed skills, each compiled once at load, and the
//! per-call sandbox (fresh store and instance, limits, capabilities).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use crate::bindings::govassist::skill::types;
use crate::bindings::{Skill, SkillPre};
use crate::host::{CapabilityDenied, HostServices, HostState};
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
    _ticker: EpochTicker,
}

/// A skill ready to run: compiled, linked, described.
struct LoadedSkill {
    manifest: Arc<Manifest>,
    summary: SkillSummary,
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
            .filter(|p| p.join(MANIFEST_FILE).is_file())
            .collect();
        dirs.sort();
        dirs.iter()
            .map(|d| {
                let result = self.load_skill(d);
                if let Err(e) = &result {
                    tracing::warn!(dir = %d.display(), code = e.code(), "skill not loaded: {e}");
                }
                result
            })
            .collect()
    }

    /// Load (or replace: hot swap) the skill in `skill_dir`. Compiles the
    /// component, links it, and calls its `describe` under the manifest's
    /// limits; calls already running keep the old version.
    pub fn load_skill(&self, skill_dir: &Path) -> Result<SkillSummary, SkillError> {
        let started = Instant::now();
        let manifest = Arc::new(Manifest::load(skill_dir)?);
        let path = manifest.component_path(skill_dir);
        let bytes = std::fs::read(&path).map_err(|e| SkillError::io(&path, e))?;
        let invalid = |reason: String| SkillError::InvalidComponent {
            path: path.clone(),
            reason,
        };

        let component =
            Component::from_binary(&self.engine, &bytes).map_err(|e| invalid(format!("{e:#}")))?;
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
        };
        let loaded = Arc::new(LoadedSkill {
            manifest: Arc::clone(&manifest),
            summary: summary.clone(),
            pre,
        });
        let previous = self.write_skills().insert(manifest.name.clone(), loaded);
        tracing::info!(
            skill = %manifest.name,
            version = %manifest.version,
            replaced = previous.map(|p| p.manifest.version.clone()),
            load_ms = started.elapsed().as_millis() as u64,
            "skill loaded"
        );
        Ok(summary)
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
    /// `timeout_ms`: call it from a blocking thread.
    pub fn invoke(
        &self,
        name: &str,
        input: &serde_json::Value,
        lang: &str,
    ) -> Result<Outcome, SkillError> {
        self.invoke_with_personal(name, input, lang, &[])
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
        let skill = self.get(name)?;
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

        let started = Instant::now();
        let mut store = self.new_store(manifest);
        let result = skill
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.call_invoke(&mut store, &request))
            .map_err(|e| classify(e, &store, manifest))
            .and_then(|out| {
                Outcome::from_guest(&manifest.name, out, manifest.limits.max_output_bytes)
            });
        let elapsed_us = started.elapsed().as_micros() as u64;
        // Never the input or output here: they may carry personal data.
        match &result {
            Ok(outcome) => tracing::debug!(
                skill = name,
                elapsed_us,
                status = outcome.status(),
                "skill invoked"
            ),
            Err(e) => tracing::warn!(
                skill = name,
                elapsed_us,
                code = e.code(),
                "skill invocation failed: {e}"
            ),
        }
        result
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
fn new_engine() -> Result<Engine, SkillError> {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);

    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES * 2)
        .max_memory_size((MAX_MEMORY_MB as usize) << 20);
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
    if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return SkillError::Timeout {
            skill,
            timeout_ms: manifest.limits.timeout_ms,
        };
    }
    SkillError::Trap {
        skill,
        message: format!("{err:#}"),
    }
}
