//! `govassist bench skills`: invoke one skill many times from several
//! threads through the full call path (lookup, fresh store and instance,
//! guest call, output check, audit record) and report latency percentiles and
//! throughput.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{SkillError, SkillHost};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub skill: String,
    pub input: Value,
    pub lang: String,
    /// Measured invocations, over all threads.
    pub invocations: usize,
    pub threads: usize,
    /// Unmeasured invocations per thread first (page faults, caches).
    pub warmup: usize,
}

/// What was measured. Latencies are per invocation, in microseconds.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub skill: String,
    pub version: String,
    pub threads: usize,
    pub invocations: usize,
    pub failures: usize,
    pub wall: Duration,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub invocations_per_s: f64,
}

/// Run the benchmark. The first error of the warm-up is returned (the skill
/// or input is wrong); errors while measuring are counted.
pub fn run(host: &SkillHost, options: &BenchOptions) -> Result<BenchReport, SkillError> {
    let threads = options.threads.max(1);
    let per_thread = options.invocations.div_ceil(threads).max(1);
    let version = host
        .skills()
        .into_iter()
        .find(|s| s.name == options.skill)
        .map(|s| s.version)
        .ok_or_else(|| SkillError::NotFound {
            name: options.skill.clone(),
        })?;
    let call = || host.invoke_as("bench", &options.skill, &options.input, &options.lang, &[]);
    for _ in 0..options.warmup.max(1) {
        call()?;
    }

    let started = Instant::now();
    let results: Vec<(Vec<u32>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..options.warmup {
                        let _ = call();
                    }
                    let mut nanos = Vec::with_capacity(per_thread);
                    let mut failures = 0;
                    for _ in 0..per_thread {
                        let t = Instant::now();
                        let ok = call().is_ok();
                        nanos.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                        failures += usize::from(!ok);
                    }
                    (nanos, failures)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = started.elapsed();

    let failures = results.iter().map(|(_, f)| f).sum();
    let mut nanos: Vec<u32> = results.into_iter().flat_map(|(n, _)| n).collect();
    nanos.sort_unstable();
    let pct = |p: f64| -> f64 {
        let i = ((nanos.len() as f64 * p).ceil() as usize).clamp(1, nanos.len()) - 1;
        nanos[i] as f64 / 1000.0
    };
    Ok(BenchReport {
        skill: options.skill.clone(),
        version,
        threads,
        invocations: nanos.len(),
        failures,
        wall,
        p50_us: pct(0.50),
        p90_us: pct(0.90),
        p99_us: pct(0.99),
        max_us: pct(1.0),
        invocations_per_s: nanos.len() as f64 / wall.as_secs_f64(),
    })
}

impl BenchReport {
    /// A human-readable table.
    pub fn table(&self) -> String {
        format!(
            "skill        {} {}\n\
             threads      {}\n\
             invocations  {} ({} failed)\n\
             wall         {:.3} s\n\
             throughput   {:.0} invocations/s\n\
             latency µs   p50 {:.1}   p90 {:.1}   p99 {:.1}   max {:.1}\n",
            self.skill,
            self.version,
            self.threads,
            self.invocations,
            self.failures,
            self.wall.as_secs_f64(),
            self.invocations_per_s,
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.max_us,
        )
    }

    /// The one-line summary `govassist bench skills` prints last.
    pub fn summary_json(&self) -> String {
        serde_json::json!({
            "p50_us": round1(self.p50_us),
            "p99_us": round1(self.p99_us),
            "invocations_per_s": self.invocations_per_s.round(),
        })
        .to_string()
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
