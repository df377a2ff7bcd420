//! Enforcing a manifest's `[limits]` while a skill runs: memory through a
//! [`wasmtime::ResourceLimiter`], time through epoch interruption driven by a
//! background ticker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter};

/// How often the ticker advances the engine's epoch; the granularity of
/// `timeout_ms`.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Tables are small in Rust guests; this only stops a runaway `table.grow`.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps a store's linear memory and remembers whether the cap was hit, so a
/// resulting trap (the guest's allocator aborts) is reported as
/// `skill_memory_limit` rather than as a generic trap.
#[derive(Debug)]
pub struct MemoryLimiter {
    max_bytes: usize,
    hit: bool,
}

impl MemoryLimiter {
    pub fn new(memory_mb: u32) -> Self {
        MemoryLimiter {
            max_bytes: (memory_mb as usize) << 20,
            hit: false,
        }
    }

    /// Whether some allocation was refused for exceeding the cap.
    pub fn was_hit(&self) -> bool {
        self.hit
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Epoch deadline (in ticks) for a time budget. One tick is added because the
/// first tick may land immediately after the call starts.
pub fn deadline_ticks(timeout_ms: u64) -> u64 {
    let tick_ms = EPOCH_TICK.as_millis().max(1) as u64;
    timeout_ms.div_ceil(tick_ms) + 1
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until
/// dropped. Epoch checks cost far less than fuel metering on ordinary code.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("skill-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The loop exits within one tick; a panic in it has nothing to report.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_growth_past_the_cap_and_remembers() {
        let mut l = MemoryLimiter::new(1);
        assert!(l.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!l.was_hit());
        assert!(!l.memory_growing(1 << 20, (1 << 20) + 65_536, None).unwrap());
        assert!(l.was_hit());
    }

    #[test]
    fn deadline_covers_the_whole_budget() {
        assert_eq!(deadline_ticks(1), 2);
        assert_eq!(deadline_ticks(100), 101);
    }
}
