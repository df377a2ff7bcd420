//! The threads the matmuls (and the engine's attention) run on: per thread count, a pool of
//! workers that *spin* for a while after each job before they sleep, and that take the parts of
//! a job from a shared counter.
//!
//! Why not rayon or `std::thread::scope`: a decode step runs ~4 parallel jobs per layer (~100 per
//! token), each 10–300 µs long, with a little serial work between them. Waking a sleeping thread
//! (futex, scheduler) costs 5–50 µs each time, the same order as the jobs; llama.cpp's own pool
//! spins between ops for the same reason. A worker here spins up to [`SPIN`] after its last job,
//! so every job of a decode step finds it awake, then sleeps on a condition variable, so an idle
//! process costs no CPU.
//!
//! Why a shared counter of parts rather than one fixed part per thread: on a shared machine a
//! thread can lose its core for a scheduler time slice (milliseconds) at any moment. With fixed
//! parts the others would wait for it; here the caller (and any other worker) takes over the parts
//! nobody has started, so a preempted worker costs at most the part it is in, and a job never
//! waits for a worker that has not woken up.
//!
//! One caller at a time per pool (a mutex): concurrent callers with the same thread count take
//! turns, which is what they would get from the cores anyway.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker keeps spinning before it sleeps: longer than the serial work between
/// two matmuls of a decode step (norms, RoPE, attention at moderate context), short enough that
/// a machine between requests is idle at once.
const SPIN: Duration = Duration::from_micros(200);

/// Most parts per job (they are counted in 16 bits of [`Shared::state`]).
pub(crate) const MAX_PARTS: usize = u16::MAX as usize;

/// A job as the workers see it. The lifetime is erased: see [`Shared`] for when it is read.
type Job = *const (dyn Fn(usize) + Sync);

/// The state of the current job, shared by the caller and the workers.
///
/// `state` packs `generation << 32 | parts << 16 | next`: a claim is a compare-and-swap of `next`
/// to `next + 1` that also checks the generation and the part count, so a worker that was
/// preempted between two jobs can never claim a part of one job and run it as another's.
/// `job` is written by the caller before it publishes the generation (release) and read by a
/// thread only after a successful claim (acquire); it stays valid until `done` reaches `parts`,
/// which cannot happen before that thread finishes the part it claimed.
struct Shared {
    job: UnsafeCell<Job>,
    state: AtomicU64,
    /// Parts finished in the current job.
    done: AtomicUsize,
    /// A part panicked (the caller panics in turn).
    panicked: AtomicBool,
    /// Workers asleep (or about to be) on `wake`.
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is accessed under the protocol described on `Shared`; the job it points to is
// `Sync`.
unsafe impl Sync for Shared {}
// SAFETY: as above.
unsafe impl Send for Shared {}

impl Shared {
    /// Claims the next part of job `generation`, if any is left.
    fn claim(&self, generation: u64) -> Option<usize> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let (g, parts, next) = (cur >> 32, (cur >> 16) & 0xFFFF, cur & 0xFFFF);
            if g != generation || next >= parts {
                return None;
            }
            match self.state.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next as usize),
                Err(now) => cur = now,
            }
        }
    }

    /// Claims and runs parts of job `generation` until none is left.
    fn work(&self, generation: u64) {
        while let Some(j) = self.claim(generation) {
            // SAFETY: a successful claim happens after the job was published and before it can
            // be replaced (see `Shared`).
            let job = unsafe { &**self.job.get() };
            if panic::catch_unwind(AssertUnwindSafe(|| job(j))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// A pool of `workers` threads plus the caller's own.
struct Pool {
    shared: Arc<Shared>,
    /// One caller at a time; holds the last generation used.
    busy: Mutex<u64>,
}

impl Pool {
    fn new(workers: usize) -> Pool {
        let noop: &(dyn Fn(usize) + Sync) = &|_| {};
        let shared = Arc::new(Shared {
            job: UnsafeCell::new(noop as Job),
            state: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        for index in 1..=workers {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("govassist-kernels-{index}"))
                .spawn(move || worker(&shared))
                .expect("cannot start kernel threads");
        }
        Pool {
            shared,
            busy: Mutex::new(0),
        }
    }

    /// Runs `part(0..parts)` (`1 <= parts <= MAX_PARTS`) on this thread and the workers;
    /// returns when all are done. A panic in any part is raised here once every part finished.
    fn run(&self, parts: usize, part: &(dyn Fn(usize) + Sync)) {
        let mut generation = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let s = &*self.shared;
        // (wrapping after 2³² jobs is harmless: a worker whose last job had the same number
        // sleeps through this one, and the caller runs its parts)
        *generation = (*generation + 1) & 0xFFFF_FFFF;
        let g = *generation;
        // SAFETY: we hold `busy` and the previous job is done, so no thread reads `job` now;
        // the erased lifetime is sound because we return only once every part is done.
        unsafe {
            *s.job.get() = std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(part);
        }
        s.panicked.store(false, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
        s.state
            .store(g << 32 | (parts as u64) << 16, Ordering::SeqCst);
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            let _g = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        s.work(g);
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < parts {
            spins = spins.saturating_add(1);
            if spins < 1 << 14 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        assert!(
            !s.panicked.load(Ordering::Relaxed),
            "a parallel part panicked"
        );
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let mut since = None::<Instant>;
        let mut spins = 0u32;
        let generation = loop {
            let g = s.state.load(Ordering::Acquire) >> 32;
            if g != seen {
                break g;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) {
                std::hint::spin_loop();
                continue;
            }
            if since.get_or_insert_with(Instant::now).elapsed() < SPIN {
                continue;
            }
            let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.sleeping.fetch_add(1, Ordering::SeqCst);
            while s.state.load(Ordering::SeqCst) >> 32 == seen {
                guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            s.sleeping.fetch_sub(1, Ordering::SeqCst);
            drop(guard);
            since = None;
        };
        seen = generation;
        s.work(generation);
    }
}

/// Runs `part(j)` for every `j` in `0..parts` on up to `threads` threads (0 counts as 1): the
/// calling thread and a pool of `threads − 1` spinning workers, created on first use and kept for
/// the process. Parts are handed out in order as threads become free, so more parts than threads
/// balance uneven ones (and a preempted thread). Returns when every part has finished; a part's
/// panic is raised here. A part must not itself call `parallel_for` with the same `threads`
/// (the pool serves one call at a time, so that would wait for itself).
///
/// # Panics
/// If `parts > 65535`, or a part panics.
pub fn parallel_for(threads: usize, parts: usize, part: &(dyn Fn(usize) + Sync)) {
    assert!(parts <= MAX_PARTS, "{parts} parts is more than {MAX_PARTS}");
    if threads <= 1 || parts <= 1 {
        (0..parts).for_each(part);
        return;
    }
    pool(threads - 1).run(parts, part);
}

/// The pool with `workers` threads, created on first use and kept for the process.
fn pool(workers: usize) -> &'static Pool {
    static POOLS: OnceLock<Mutex<HashMap<usize, &'static Pool>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(workers)
        .or_insert_with(|| Box::leak(Box::new(Pool::new(workers))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_per_call() {
        for threads in [1, 2, 3] {
            for parts in [0, 1, 2, 7] {
                for _ in 0..100 {
                    let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
                    parallel_for(threads, parts, &|j| {
                        hits[j].fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                }
            }
        }
    }

    #[test]
    fn sleeping_workers_wake_up() {
        let sum = AtomicUsize::new(0);
        let add = |j: usize| {
            sum.fetch_add(j + 1, Ordering::Relaxed);
        };
        parallel_for(2, 2, &add);
        std::thread::sleep(SPIN * 4);
        parallel_for(2, 2, &add);
        assert_eq!(sum.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn a_parts_panic_reaches_the_caller() {
        let result = panic::catch_unwind(|| {
            parallel_for(2, 4, &|j| {
                assert_ne!(j, 3, "part 3 fails");
            })
        });
        assert!(result.is_err());
        // the pool still works afterwards
        let n = AtomicUsize::new(0);
        parallel_for(2, 3, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 3);
    }
}
