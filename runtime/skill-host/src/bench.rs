//! `govassist bench skills`: invoke one skill many times from several
//! threads through the full call path (lookup, fresh store and instance,
//! guest call, output check, audit record) and report latency percentiles and
//! throughput.
//!
//! With [`BenchOptions::hostile_dir`] it also measures isolation: the same
//! calls again while one more thread keeps invoking the hostile fixtures
//! (`skills/fixtures/spin` and `bigout`: an endless loop, unbounded
//! allocation, deep recursion, traps, an ungranted capability, a 100 MB
//! answer), alternating rounds without and with them, and reports both p99s
//! and their ratio, and what each hostile call ended with.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

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
    /// Where the hostile fixtures `spin` and `bigout` are installed: also
    /// measure under hostile load (see the module docs). `threads` stays the
    /// number of threads calling `skill`; the hostile one is extra.
    pub hostile_dir: Option<PathBuf>,
}

/// What was measured. Latencies are per invocation, in microseconds.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub skill: String,
    pub version: String,
    pub threads: usize,
    pub invocations: usize,
    pub failures: usize,
    /// Failures by error code, most frequent first.
    pub failure_codes: Vec<(&'static str, usize)>,
    pub wall: Duration,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub invocations_per_s: f64,
    /// Present when [`BenchOptions::hostile_dir`] was given.
    pub hostile: Option<HostileReport>,
}

/// The same calls without and with a thread invoking hostile skills.
#[derive(Debug, Clone)]
pub struct HostileReport {
    /// Alternating rounds of each kind.
    pub rounds: usize,
    /// Calls to the measured skill without hostile load, and their latency.
    pub normal: Latency,
    /// Calls to the measured skill while the hostile thread ran.
    pub under_hostile: Latency,
    /// `under_hostile.p99_us / normal.p99_us`.
    pub p99_ratio: f64,
    /// Each hostile case: how its calls ended.
    pub cases: Vec<HostileCase>,
}

/// Latency percentiles of one set of calls, in microseconds.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub invocations: usize,
    pub failures: usize,
    /// Failures by error code, most frequent first.
    pub failure_codes: Vec<(&'static str, usize)>,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// One hostile call shape and what its calls ended with.
#[derive(Debug, Clone)]
pub struct HostileCase {
    pub skill: &'static str,
    pub input: Value,
    /// The error codes that are correct for it.
    pub expected: &'static [&'static str],
    pub calls: usize,
    /// Calls that ended with an expected error code.
    pub as_expected: usize,
    /// Any other ending, e.g. `"ok"` or another code (first seen).
    pub unexpected: Option<String>,
    /// Slowest call, in milliseconds (the loop runs out its time budget).
    pub slowest_ms: f64,
}

/// The fixtures [`hostile_cases`] calls, by directory and skill name.
const HOSTILE_FIXTURES: [&str; 2] = ["spin", "bigout"];

/// Rounds of each kind in a hostile run; alternating them spreads the
/// machine's own noise (other processes) over both.
const HOSTILE_ROUNDS: usize = 3;

/// The hostile fixtures' calls and the errors that are correct for them (as
/// in the host's tests).
fn hostile_cases() -> Vec<HostileCase> {
    let case = |skill, input, expected| HostileCase {
        skill,
        input,
        expected,
        calls: 0,
        as_expected: 0,
        unexpected: None,
        slowest_ms: 0.0,
    };
    vec![
        case("spin", json!({"mode": "loop"}), &["skill_timeout"]),
        case("spin", json!({"mode": "alloc"}), &["skill_memory_limit"]),
        // Rust guests keep their stack in linear memory: running off its end
        // is an out-of-bounds access unless the wasm stack overflows first.
        case(
            "spin",
            json!({"mode": "recurse"}),
            &["skill_stack_overflow", "skill_trap"],
        ),
        case("spin", json!({"mode": "panic"}), &["skill_trap"]),
        case("spin", json!({"mode": "unreachable"}), &["skill_trap"]),
        case("spin", json!({"mode": "kv"}), &["capability_denied"]),
        case("bigout", json!({}), &["output_too_large"]),
    ]
}

/// Run the benchmark. The first error of the warm-up is returned (the skill
/// or input is wrong); errors while measuring are counted.
pub fn run(host: &SkillHost, options: &BenchOptions) -> Result<BenchReport, SkillError> {
    let threads = options.threads.max(1);
    let version = installed_version(host, &options.skill)?;
    if let Some(dir) = &options.hostile_dir {
        for name in HOSTILE_FIXTURES {
            host.load_skill(&dir.join(name))?;
        }
    }
    let call = || {
        host.invoke_as("bench", &options.skill, &options.input, &options.lang, &[])
            .map(drop)
            .map_err(|e| e.code())
    };
    for _ in 0..options.warmup.max(1) {
        host.invoke_as("bench", &options.skill, &options.input, &options.lang, &[])?;
    }

    if options.hostile_dir.is_none() {
        let per_thread = options.invocations.div_ceil(threads).max(1);
        let started = Instant::now();
        let (nanos, failures) = measure(threads, options.warmup, per_thread, None, &call);
        let wall = started.elapsed();
        return Ok(report(
            options,
            version,
            threads,
            latency(nanos, failures),
            wall,
            None,
        ));
    }

    // Hostile: alternate rounds without and with the hostile thread; each
    // round makes `invocations / rounds` calls, and a hostile round lasts at
    // least one pass over every hostile case.
    let per_thread = options
        .invocations
        .div_ceil(threads * HOSTILE_ROUNDS)
        .max(1);
    let mut cases = hostile_cases();
    let (mut normal, mut normal_failures) = (Vec::new(), Vec::new());
    let (mut under, mut under_failures) = (Vec::new(), Vec::new());
    let mut wall = Duration::ZERO;
    for round in 0..HOSTILE_ROUNDS {
        let started = Instant::now();
        let (n, f) = measure(
            threads,
            if round == 0 { options.warmup } else { 0 },
            per_thread,
            None,
            &call,
        );
        wall += started.elapsed();
        normal.extend(n);
        normal_failures.extend(f);

        let pass_done = AtomicBool::new(false);
        let (n, f) = std::thread::scope(|scope| {
            let hostile = scope.spawn(|| hostile_pass(host, &mut cases, &pass_done));
            let measured = measure(threads, 0, per_thread, Some(&pass_done), &call);
            // Only a panic ends the pass early; let it surface.
            if let Err(panic) = hostile.join() {
                std::panic::resume_unwind(panic);
            }
            measured
        });
        under.extend(n);
        under_failures.extend(f);
    }
    let normal = latency(normal, normal_failures);
    let under_hostile = latency(under, under_failures);
    let hostile = HostileReport {
        rounds: HOSTILE_ROUNDS,
        p99_ratio: under_hostile.p99_us / normal.p99_us.max(f64::MIN_POSITIVE),
        normal: normal.clone(),
        under_hostile,
        cases,
    };
    // The headline figures are those without hostile load.
    Ok(report(
        options,
        version,
        threads,
        normal,
        wall,
        Some(hostile),
    ))
}

fn installed_version(host: &SkillHost, name: &str) -> Result<String, SkillError> {
    host.skills()
        .into_iter()
        .find(|s| s.name == name)
        .map(|s| s.version)
        .ok_or_else(|| SkillError::NotFound {
            name: name.to_owned(),
        })
}

/// `threads` threads each make `warmup` unmeasured calls, then `per_thread`
/// measured ones, and go on until `until` is set if one is given. Returns
/// every call's latency in ns, and the error codes of failed calls.
fn measure<F>(
    threads: usize,
    warmup: usize,
    per_thread: usize,
    until: Option<&AtomicBool>,
    call: &F,
) -> (Vec<u32>, Vec<&'static str>)
where
    F: Fn() -> Result<(), &'static str> + Sync,
{
    let results: Vec<(Vec<u32>, Vec<&'static str>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    for _ in 0..warmup {
                        let _ = call();
                    }
                    let mut nanos = Vec::with_capacity(per_thread);
                    let mut failures = Vec::new();
                    while nanos.len() < per_thread
                        || until.is_some_and(|u| !u.load(Ordering::Relaxed))
                    {
                        let t = Instant::now();
                        let result = call();
                        nanos.push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                        if let Err(code) = result {
                            failures.push(code);
                        }
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
    let mut all = (Vec::new(), Vec::new());
    for (nanos, failures) in results {
        all.0.extend(nanos);
        all.1.extend(failures);
    }
    all
}

/// One pass over every hostile case, then set `done`.
fn hostile_pass(host: &SkillHost, cases: &mut [HostileCase], done: &AtomicBool) {
    for case in cases.iter_mut() {
        let started = Instant::now();
        let result = host.invoke_as("bench-hostile", case.skill, &case.input, "en", &[]);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        case.calls += 1;
        case.slowest_ms = case.slowest_ms.max(ms);
        match result {
            Err(e) if case.expected.contains(&e.code()) => case.as_expected += 1,
            Err(e) => {
                case.unexpected.get_or_insert_with(|| e.code().to_owned());
            }
            Ok(_) => {
                case.unexpected.get_or_insert_with(|| "ok".to_owned());
            }
        }
    }
    done.store(true, Ordering::Relaxed);
}

fn percentile(sorted_nanos: &[u32], p: f64) -> f64 {
    if sorted_nanos.is_empty() {
        return 0.0;
    }
    let i = ((sorted_nanos.len() as f64 * p).ceil() as usize).clamp(1, sorted_nanos.len()) - 1;
    sorted_nanos[i] as f64 / 1000.0
}

fn latency(mut nanos: Vec<u32>, failures: Vec<&'static str>) -> Latency {
    nanos.sort_unstable();
    let mut failure_codes: Vec<(&'static str, usize)> = Vec::new();
    for code in &failures {
        match failure_codes.iter_mut().find(|(c, _)| c == code) {
            Some((_, n)) => *n += 1,
            None => failure_codes.push((code, 1)),
        }
    }
    failure_codes.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    Latency {
        invocations: nanos.len(),
        failures: failures.len(),
        failure_codes,
        p50_us: percentile(&nanos, 0.50),
        p90_us: percentile(&nanos, 0.90),
        p99_us: percentile(&nanos, 0.99),
        max_us: percentile(&nanos, 1.0),
    }
}

fn report(
    options: &BenchOptions,
    version: String,
    threads: usize,
    measured: Latency,
    wall: Duration,
    hostile: Option<HostileReport>,
) -> BenchReport {
    BenchReport {
        skill: options.skill.clone(),
        version,
        threads,
        invocations: measured.invocations,
        failures: measured.failures,
        failure_codes: measured.failure_codes,
        wall,
        p50_us: measured.p50_us,
        p90_us: measured.p90_us,
        p99_us: measured.p99_us,
        max_us: measured.max_us,
        invocations_per_s: measured.invocations as f64 / wall.as_secs_f64(),
        hostile,
    }
}

impl BenchReport {
    /// A human-readable table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "skill        {} {}\n\
             threads      {}\n\
             invocations  {} ({} failed{})\n\
             wall         {:.3} s\n\
             throughput   {:.0} invocations/s\n\
             latency µs   p50 {:.1}   p90 {:.1}   p99 {:.1}   max {:.1}\n",
            self.skill,
            self.version,
            self.threads,
            self.invocations,
            self.failures,
            codes(&self.failure_codes),
            self.wall.as_secs_f64(),
            self.invocations_per_s,
            self.p50_us,
            self.p90_us,
            self.p99_us,
            self.max_us,
        );
        if let Some(h) = &self.hostile {
            let line = |name: &str, l: &Latency| {
                format!(
                    "{name:<13}{} calls ({} failed{})   p50 {:.1}   p99 {:.1}   max {:.1} µs\n",
                    l.invocations,
                    l.failures,
                    codes(&l.failure_codes),
                    l.p50_us,
                    l.p99_us,
                    l.max_us
                )
            };
            out += &format!(
                "hostile      {} rounds of {} thread(s) alone, then with one thread invoking hostile skills\n",
                h.rounds, self.threads
            );
            out += &line("  alone", &h.normal);
            out += &line("  hostile", &h.under_hostile);
            out += &format!("  p99 ratio  {:.2}\n", h.p99_ratio);
            for c in &h.cases {
                out += &format!(
                    "  {:<6} {:<22} {}/{} {}{}   slowest {:.1} ms\n",
                    c.skill,
                    c.input.to_string(),
                    c.as_expected,
                    c.calls,
                    c.expected.join("|"),
                    c.unexpected
                        .as_ref()
                        .map(|u| format!(" (also: {u})"))
                        .unwrap_or_default(),
                    c.slowest_ms,
                );
            }
        }
        out
    }

    /// The one-line summary `govassist bench skills` prints last. Under
    /// hostile load it adds `hostile_p99_us`, `hostile_p99_ratio` and
    /// `hostile_all_as_expected`.
    pub fn summary_json(&self) -> String {
        let mut summary = json!({
            "p50_us": round1(self.p50_us),
            "p99_us": round1(self.p99_us),
            "invocations_per_s": self.invocations_per_s.round(),
        });
        if let Some(h) = &self.hostile {
            summary["hostile_p99_us"] = json!(round1(h.under_hostile.p99_us));
            summary["hostile_p99_ratio"] = json!((h.p99_ratio * 100.0).round() / 100.0);
            summary["hostile_all_as_expected"] = json!(h
                .cases
                .iter()
                .all(|c| c.calls > 0 && c.as_expected == c.calls));
        }
        summary.to_string()
    }
}

/// `": 3 skill_timeout, 1 skill_trap"`, or nothing.
fn codes(failure_codes: &[(&str, usize)]) -> String {
    if failure_codes.is_empty() {
        return String::new();
    }
    let list: Vec<String> = failure_codes
        .iter()
        .map(|(code, n)| format!("{n} {code}"))
        .collect();
    format!(": {}", list.join(", "))
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
