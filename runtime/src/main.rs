//! `govassist`: the command-line front of the host. Each subcommand is a thin
//! call into the library crates; errors are reported here, with their causes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use govassist::config::Config;
use govassist::server::{self, StartOptions};
use govassist::store::Store;

#[derive(Parser)]
#[command(
    name = "govassist",
    version,
    about = "A district government's AI service assistant, run on its own hardware."
)]
struct Cli {
    /// Configuration file (TOML). Every key has a default; see README.md.
    #[arg(long, global = true, env = "GOVASSIST_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (index, database, installed skills). Default `./data`.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the assistant: HTTP API, chat page and skills.
    Serve(ServeArgs),
    /// Obtain and cache models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Work with the knowledge base.
    #[command(subcommand)]
    Kb(KbCommand),
    /// Build, list and run skills.
    #[command(subcommand)]
    Skill(SkillCommand),
    /// Talk to the assistant without the server.
    #[command(subcommand)]
    Chat(ChatCommand),
    /// Measure performance.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Invoke one installed skill many times on several threads (full call path, audit log into a
    /// scratch database); prints a table and, last, `{"p50_us":…,"p99_us":…,"invocations_per_s":…}`.
    Skills {
        #[arg(long, default_value = "template")]
        skill: String,
        /// The skill's arguments as a JSON object.
        #[arg(long, default_value = r#"{"name":"Li"}"#)]
        input: String,
        #[arg(long, default_value = "en")]
        lang: String,
        /// Measured invocations, over all threads.
        #[arg(long, short = 'n', default_value_t = 20_000)]
        invocations: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Skills directory (default: the configured one).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Also measure while one more thread invokes the hostile fixtures installed in this
        /// directory (`spin`, `bigout` from skills/fixtures); adds `hostile_p99_ratio` to the summary.
        #[arg(long, value_name = "FIXTURES_DIR")]
        hostile: Option<PathBuf>,
    },
    /// Our engine against llama.cpp's `llama-bench` on the same GGUF files and thread counts
    /// (pp128, pp512, tg32), plus time to first token with a cached system prompt and RSS on the
    /// default model; prints a table and, last,
    /// `{"prefill_ratio","decode_ratio","ttft_cached_p50_ms","rss_mb","rows",…}` (ratios: ours /
    /// llama.cpp, the minimum over the matrix; null without llama-bench).
    Llm {
        /// Catalogue names or GGUF paths, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = govassist_llm::DEFAULT_CHAT_MODEL)]
        models: Vec<String>,
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        threads: Vec<usize>,
        /// The llama-bench binary (default: the one `scripts/build-llama-cpp.sh` built, which is
        /// run once to build it when there is none).
        #[arg(long)]
        llama_bench: Option<PathBuf>,
        /// Timed runs per test, after one warm-up run.
        #[arg(long, default_value_t = 3)]
        repetitions: usize,
    },
}

#[derive(Subcommand)]
enum ChatCommand {
    /// Run a question set through the chat path (each question in a fresh session) and score the
    /// replies; prints one JSON line per question and, last,
    /// `{"n","answer_accuracy","citation_accuracy","decline_rate","false_decline_rate","ttft_p50_ms"}`.
    Eval {
        #[arg(long)]
        questions: PathBuf,
        /// Only the first N questions.
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    bind: Option<String>,
    /// Chat model name (see `govassist models list`).
    #[arg(long)]
    model: Option<String>,
    /// Serve search and skills without loading a language model.
    #[arg(long)]
    no_model: bool,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download, verify, convert and cache a model (default: the configured chat model).
    Fetch { name: Option<String> },
    /// List the models this build knows and whether each is cached.
    List,
}

#[derive(Subcommand)]
enum KbCommand {
    /// Add or replace documents: service-item or FAQ `.jsonl` files, staff `.txt` documents, or folders of them.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Search the knowledge base.
    Search {
        query: String,
        #[arg(long, short, default_value_t = 5)]
        k: usize,
        /// Print the hits as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Measure retrieval quality on a question set (JSON lines).
    Eval {
        #[arg(long)]
        questions: PathBuf,
        #[arg(long, short, default_value_t = 5)]
        k: usize,
        /// Also print each question whose first hit is wrong (id, rank of the right one, top hits)
        /// to standard error, for reading the misses.
        #[arg(long)]
        misses: bool,
    },
}

#[derive(Subcommand)]
enum SkillCommand {
    /// Run one skill once, without the server.
    Invoke {
        name: String,
        /// The skill's arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        #[arg(long, default_value = "zh-Hans")]
        lang: String,
    },
    /// List the installed skills.
    List,
    /// Build every skill under `skills/` for WebAssembly and install it into the skills directory.
    Build {
        /// The skills workspace.
        #[arg(long, default_value = "skills")]
        skills_root: PathBuf,
        /// Where to install (default: the configured skills directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() {
    // candle sizes its thread pool from RAYON_NUM_THREADS, and without it re-reads /proc/cpuinfo on
    // every matrix multiplication (3-5 ms per embedded query). Fix the pool size once, before any
    // thread starts; an operator's own setting wins.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    let cli = Cli::parse();
    let result = load_config(&cli).and_then(|config| {
        init_logging(&config);
        run(cli.command, config)
    });
    if let Err(error) = result {
        eprintln!("error: {error}");
        for cause in error.chain().skip(1) {
            eprintln!("  caused by: {cause}");
        }
        std::process::exit(1);
    }
}

fn load_config(cli: &Cli) -> Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir = dir.clone();
    }
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.filter));
    // Colours only for a person at a terminal, never into journald or log files.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}

fn run(command: Command, mut config: Config) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match command {
        Command::Serve(args) => {
            if let Some(bind) = args.bind {
                config.server.bind = bind;
            }
            if let Some(model) = args.model {
                config.llm.model = model;
            }
            runtime.block_on(async {
                let server = server::start(
                    config,
                    StartOptions {
                        load_model: !args.no_model,
                    },
                )
                .await?;
                shutdown_signal().await?;
                tracing::info!("shutting down: finishing requests in flight");
                server.shutdown().await
            })
        }
        Command::Models(ModelsCommand::Fetch { name }) => {
            let name = name.unwrap_or_else(|| config.llm.model.clone());
            let path = govassist_llm::fetch(&name, &config.fetch_options())?;
            println!("{}", path.display());
            Ok(())
        }
        Command::Models(ModelsCommand::List) => {
            let options = config.fetch_options();
            for spec in govassist_llm::catalog::models() {
                let cached = govassist_llm::cached_path(spec.name, options.cache_dir.as_deref());
                let marker = if spec.name == config.llm.model {
                    " (configured)"
                } else {
                    ""
                };
                match cached {
                    Some(path) => println!("{}{marker}\tcached at {}", spec.name, path.display()),
                    None => println!("{}{marker}\tnot cached", spec.name),
                }
            }
            Ok(())
        }
        Command::Kb(command) => runtime.block_on(run_kb(command, config)),
        Command::Skill(command) => run_skill(command, config, &runtime),
        Command::Chat(ChatCommand::Eval { questions, limit }) => {
            runtime.block_on(run_chat_eval(config, &questions, limit))
        }
        Command::Bench(BenchCommand::Skills {
            skill,
            input,
            lang,
            invocations,
            threads,
            dir,
            hostile,
        }) => {
            let input = serde_json::from_str(&input).context("--input is not valid JSON")?;
            let options = govassist_skill_host::bench::BenchOptions {
                skill,
                input,
                lang,
                invocations,
                threads,
                warmup: 200,
                hostile_dir: hostile,
            };
            let report = govassist::state::bench_skills(
                &dir.unwrap_or_else(|| config.skills_dir()),
                &options,
            )?;
            print!("{}", report.table());
            println!("{}", report.summary_json());
            Ok(())
        }
        Command::Bench(BenchCommand::Llm {
            models,
            threads,
            llama_bench,
            repetitions,
        }) => {
            use govassist_llm::bench;
            let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap_or(std::path::Path::new("."));
            let cache_dir = config.fetch_options().cache_dir;
            let options = bench::BenchOptions::resolve(
                &models,
                threads,
                repetitions,
                llama_bench,
                repo,
                cache_dir.as_deref(),
            )
            .map_err(anyhow::Error::msg)?;
            let report = bench::run(&options, &mut |line| eprintln!("{line}"));
            print!("{}", report.table());
            println!("{}", report.summary_json());
            Ok(())
        }
    }
}

async fn run_chat_eval(
    config: Config,
    questions: &std::path::Path,
    limit: Option<usize>,
) -> Result<()> {
    use govassist::chat_eval;
    let mut questions = chat_eval::read_questions(questions)?;
    questions.truncate(limit.unwrap_or(usize::MAX));
    // A scratch copy of nothing: sessions and handoffs of an evaluation go to a temporary database.
    let scratch = tempdir_for_eval()?;
    let mut config = config;
    config.chat.session_retention_hours = 1;
    let state = Arc::new(
        server::build_state_with_database(
            config,
            StartOptions { load_model: true },
            &scratch.join("eval.sqlite3"),
        )
        .await?,
    );
    // Every question is judged with the scope examples in place, not only those after start-up finished them.
    let (guard, kb) = (state.guard.clone(), state.kb.clone());
    tokio::task::spawn_blocking(move || guard.learn_scope_examples(&kb)).await?;
    let mut outcomes = Vec::new();
    for question in &questions {
        let outcome = chat_eval::ask(&state, question).await?;
        println!("{}", serde_json::to_string(&outcome)?);
        outcomes.push(outcome);
    }
    println!(
        "{}",
        serde_json::to_string(&chat_eval::summarize(&questions, &outcomes))?
    );
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn tempdir_for_eval() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("govassist-chat-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Ctrl-C, or SIGTERM from systemd or a container runtime.
async fn shutdown_signal() -> Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}

async fn run_kb(command: KbCommand, config: Config) -> Result<()> {
    let access = match command {
        KbCommand::Import { .. } => server::Access::ReadWrite,
        KbCommand::Search { .. } | KbCommand::Eval { .. } => server::Access::ReadOnly,
    };
    let kb = server::open_knowledge_base(&config, access).await?;
    match command {
        KbCommand::Import { paths } => {
            let report = kb.import_paths(&paths)?;
            for problem in &report.problems {
                eprintln!("warning: {problem}");
            }
            println!(
                "imported {} documents, deleted {} ({} entries, {} newly embedded; {} problems)",
                report.imported,
                report.deleted,
                report.entries,
                report.embedded,
                report.problems.len()
            );
            if report.imported + report.deleted == 0 && !report.problems.is_empty() {
                bail!("nothing was imported");
            }
        }
        KbCommand::Search { query, k, json } => {
            let hits = kb.search(&query, k)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
            } else if hits.is_empty() {
                println!("no hits");
            } else {
                for (rank, hit) in hits.iter().enumerate() {
                    let snippet: String = hit.passage.chars().take(80).collect();
                    println!(
                        "{:>2}. {}  {}  (score {:.2})\n    {}",
                        rank + 1,
                        hit.id,
                        hit.title,
                        hit.score,
                        snippet.replace('\n', " ")
                    );
                }
            }
        }
        KbCommand::Eval {
            questions,
            k,
            misses,
        } => {
            let report = govassist_kb::eval::run(&kb, &questions, k)?;
            if misses {
                for q in report.questions.iter().filter(|q| q.rank != Some(1)) {
                    let top: Vec<&str> = q.hit_ids.iter().take(3).map(String::as_str).collect();
                    eprintln!(
                        "miss {} rank={} top={}",
                        q.id,
                        q.rank.map_or("-".to_string(), |r| r.to_string()),
                        top.join(",")
                    );
                }
            }
            // Per-language breakdown first; the contract's JSON object stays the last line.
            println!(
                "{:<10} {:>4} {:>9} {:>9} {:>7} {:>8} {:>8}",
                "lang",
                "n",
                "recall@1",
                format!("recall@{k}"),
                "mrr",
                "p50_ms",
                "p95_ms"
            );
            let rows = report.by_lang.iter().map(|(lang, m)| (lang.as_str(), m));
            for (lang, m) in rows.chain([("all", &report.overall)]) {
                println!(
                    "{lang:<10} {:>4} {:>9.3} {:>9.3} {:>7.3} {:>8.2} {:>8.2}",
                    m.n, m.recall_at_1, m.recall_at_k, m.mrr, m.p50_ms, m.p95_ms
                );
            }
            println!("{}", report.summary_json());
        }
    }
    Ok(())
}

fn run_skill(
    command: SkillCommand,
    config: Config,
    runtime: &tokio::runtime::Runtime,
) -> Result<()> {
    match command {
        SkillCommand::Build { skills_root, out } => {
            let out = out.unwrap_or_else(|| config.skills_dir());
            let names = govassist_skill_host::build::build_skills(&skills_root, &out)?;
            println!(
                "built and installed {} skill(s) into {}: {}",
                names.len(),
                out.display(),
                names.join(", ")
            );
            Ok(())
        }
        SkillCommand::Invoke { name, input, lang } => {
            let input: serde_json::Value = serde_json::from_str(&input).context(
                "--input is not valid JSON; pass an object such as '{\"size\":\"small\"}'",
            )?;
            let host = skill_host(&config, runtime)?;
            let outcome = host.invoke_as("cli", &name, &input, &lang, &[])?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
            Ok(())
        }
        SkillCommand::List => {
            let host = skill_host(&config, runtime)?;
            println!("{}", serde_json::to_string_pretty(&host.skills())?);
            Ok(())
        }
    }
}

fn skill_host(
    config: &Config,
    runtime: &tokio::runtime::Runtime,
) -> Result<govassist_skill_host::SkillHost> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let kb = Arc::new(runtime.block_on(server::open_knowledge_base(
        config,
        server::Access::ReadOnly,
    ))?);
    let store = Arc::new(Store::open(&config.database_path())?);
    server::load_skills(&config.skills_dir(), kb, store)
}
