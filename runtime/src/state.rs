//! What every request handler can reach, built once at start-up and passed
//! explicitly (no globals).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use govassist_kb::KnowledgeBase;
use govassist_llm::Engine;
use govassist_skill_host::bench::{BenchOptions, BenchReport};
use govassist_skill_host::{HostServices, InvocationRecord, KbHit, SkillHost};

use crate::chat::guard::Guard;
use crate::chat::route::SkillRouter;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sessions::SessionStore;
use crate::store::{unix_ms, AuditEntry, Store};

pub struct AppState {
    pub config: Config,
    pub kb: Arc<KnowledgeBase>,
    /// `None` when the server runs without a model (`--no-model`): retrieval
    /// and skills still work, chat answers with an error event.
    pub engine: Option<Arc<Engine>>,
    pub skills: Arc<SkillHost>,
    pub store: Arc<Store>,
    /// Conversations, pending skill dialogs and handoffs.
    pub sessions: Arc<SessionStore>,
    /// Picks the skill a chat message asks for (caches example embeddings).
    pub router: Arc<SkillRouter>,
    /// Personal-data masking, sensitive words and the scope of the service.
    pub guard: Arc<Guard>,
    pub metrics: Metrics,
}

impl AppState {
    /// Wires the parts built at start-up with the chat's own: the session
    /// store (in the same SQLite file as `store`), the skill router and the guard.
    pub fn new(
        config: Config,
        database: &Path,
        kb: Arc<KnowledgeBase>,
        engine: Option<Arc<Engine>>,
        skills: Arc<SkillHost>,
        store: Arc<Store>,
    ) -> anyhow::Result<AppState> {
        let retention_ms = i64::try_from(
            config
                .chat
                .session_retention_hours
                .saturating_mul(3_600_000),
        )
        .unwrap_or(i64::MAX);
        let sessions = Arc::new(
            SessionStore::open_with_retention(database, retention_ms).with_context(|| {
                format!("cannot open the chat sessions in {}", database.display())
            })?,
        );
        let guard = Arc::new(Guard::from_config(&config.chat)?);
        Ok(AppState {
            config,
            kb,
            engine,
            skills,
            store,
            sessions,
            router: Default::default(),
            guard,
            metrics: Default::default(),
        })
    }
}

/// What the host lends to skills: knowledge-base search and the SQLite-backed
/// key-value namespaces. Capability checks happen in the skill host before
/// these are reached.
pub struct SkillServices {
    pub kb: Arc<KnowledgeBase>,
    pub store: Arc<Store>,
}

impl HostServices for SkillServices {
    fn kb_search(&self, query: &str, k: u32) -> Vec<KbHit> {
        match self.kb.search(query, k as usize) {
            Ok(hits) => hits
                .into_iter()
                .map(|hit| KbHit {
                    id: hit.id,
                    title: hit.title,
                    passage: hit.passage,
                    score: hit.score,
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "knowledge-base search for a skill failed");
                Vec::new()
            }
        }
    }

    fn kv_get(&self, skill: &str, key: &str) -> Option<Vec<u8>> {
        self.store.kv_get(skill, key).unwrap_or_else(|error| {
            tracing::error!(skill, %error, "skill key-value read failed");
            None
        })
    }

    fn kv_put_if(&self, skill: &str, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        self.store
            .kv_put_if(skill, key, expect, value)
            .unwrap_or_else(|error| {
                tracing::error!(skill, %error, "skill key-value write failed");
                false
            })
    }

    fn record_invocation(&self, record: &InvocationRecord<'_>) {
        self.store.audit(audit_entry(record));
    }
}

fn audit_entry(r: &InvocationRecord<'_>) -> AuditEntry {
    AuditEntry {
        time_ms: unix_ms(r.at),
        skill: r.skill.to_owned(),
        version: r.version.map(str::to_owned),
        caller: r.caller.to_owned(),
        duration_us: i64::try_from(r.duration_us).unwrap_or(i64::MAX),
        outcome: r.outcome.to_owned(),
        error_code: r.error_code.map(str::to_owned),
    }
}

/// What skills get when they run outside the server without a knowledge base
/// (`govassist bench skills`): their key-value store and the audit log;
/// `kb-search` finds nothing.
pub struct StoreServices {
    pub store: Arc<Store>,
}

impl HostServices for StoreServices {
    fn kb_search(&self, _query: &str, _k: u32) -> Vec<KbHit> {
        Vec::new()
    }

    fn kv_get(&self, skill: &str, key: &str) -> Option<Vec<u8>> {
        self.store.kv_get(skill, key).ok().flatten()
    }

    fn kv_put_if(&self, skill: &str, key: &str, expect: Option<&[u8]>, value: &[u8]) -> bool {
        self.store
            .kv_put_if(skill, key, expect, value)
            .unwrap_or(false)
    }

    fn record_invocation(&self, record: &InvocationRecord<'_>) {
        self.store.audit(audit_entry(record));
    }
}

/// `govassist bench skills`: load the skills in `skills_dir` and measure
/// `options.skill` through the whole call path, audit log included (into a
/// scratch database, so the real audit log gets no benchmark rows).
pub fn bench_skills(skills_dir: &Path, options: &BenchOptions) -> anyhow::Result<BenchReport> {
    let scratch = std::env::temp_dir().join(format!("govassist-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = (|| -> anyhow::Result<BenchReport> {
        let store = Arc::new(Store::open(&scratch.join("bench.sqlite3"))?);
        let host = SkillHost::new(Arc::new(StoreServices {
            store: store.clone(),
        }))?;
        for loaded in host.load_dir(skills_dir) {
            if let Err(error) = loaded {
                tracing::warn!(%error, "skill not loaded");
            }
        }
        let report = govassist_skill_host::bench::run(&host, options).with_context(|| {
            format!(
                "cannot benchmark skill `{}` from {}",
                options.skill,
                skills_dir.display()
            )
        })?;
        store.audit_flush();
        Ok(report)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}
