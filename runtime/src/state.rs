//! What every request handler can reach, built once at start-up and passed
//! explicitly (no globals).

use std::sync::Arc;

use govassist_kb::KnowledgeBase;
use govassist_llm::Engine;
use govassist_skill_host::{HostServices, KbHit, SkillHost};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;

pub struct AppState {
    pub config: Config,
    pub kb: Arc<KnowledgeBase>,
    /// `None` when the server runs without a model (`--no-model`): retrieval
    /// and skills still work, chat answers with an error event.
    pub engine: Option<Arc<Engine>>,
    pub skills: Arc<SkillHost>,
    pub store: Arc<Store>,
    pub metrics: Metrics,
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
                .map(|hit| KbHit { id: hit.id, title: hit.title, passage: hit.passage, score: hit.score })
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
        self.store.kv_put_if(skill, key, expect, value).unwrap_or_else(|error| {
            tracing::error!(skill, %error, "skill key-value write failed");
            false
        })
    }
}
