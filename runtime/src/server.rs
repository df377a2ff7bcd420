//! Start-up: open or build each part, then serve HTTP until shutdown.
//!
//! Order matters for a first run on a new machine: the knowledge base is
//! imported from the bundled data and the default model is fetched (with a
//! progress bar) before the port opens, so a server that listens can answer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use govassist_kb::{Embedder, KbOptions, KnowledgeBase};
use govassist_llm::Engine;
use govassist_skill_host::SkillHost;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::state::{AppState, SkillServices};
use crate::store::Store;

#[derive(Debug, Clone, Copy)]
pub struct StartOptions {
    /// Load the language model (off for retrieval-only deployments and some tests).
    pub load_model: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        Self { load_model: true }
    }
}

/// A server running on a background task; dropping it does not stop it, call
/// [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .context("server task panicked")?
            .context("server failed")
    }

    /// Waits until the server stops by itself (it does not, short of an I/O error).
    pub async fn wait(self) -> Result<()> {
        self.task
            .await
            .context("server task panicked")?
            .context("server failed")
    }
}

/// Builds the application state and starts serving on `config.server.bind`.
pub async fn start(config: Config, options: StartOptions) -> Result<RunningServer> {
    let bind = config.server.bind.clone();
    let state = Arc::new(build_state(config, options).await?);
    let listener = TcpListener::bind(&bind).await.with_context(|| {
        format!("cannot listen on {bind}; is another server using that port? (server.bind)")
    })?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = crate::http::router(state.clone());
    // Without TCP_NODELAY every streamed token waits ~40 ms for Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::warn!(%error, "cannot set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "govassist is listening; open http://{addr}/ for the chat page");
    Ok(RunningServer {
        addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

pub async fn build_state(config: Config, options: StartOptions) -> Result<AppState> {
    let database = config.database_path();
    build_state_with_database(config, options, &database).await
}

/// [`build_state`] with the SQLite file (skill stores, audit log, sessions) somewhere else:
/// `chat eval` keeps its sessions and handoffs out of the server's database.
pub async fn build_state_with_database(
    config: Config,
    options: StartOptions,
    database: &Path,
) -> Result<AppState> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;

    let kb = Arc::new(open_knowledge_base(&config, Access::ReadWrite).await?);
    let store = Arc::new(
        Store::open(database).with_context(|| format!("cannot open {}", database.display()))?,
    );
    let skills = Arc::new(load_skills(
        &config.skills_dir(),
        kb.clone(),
        store.clone(),
    )?);
    manage_skills_dir(&config, &skills);
    let engine = if options.load_model {
        Some(Arc::new(load_engine(&config).await?))
    } else {
        None
    };

    let state = AppState::new(config, database, kb, engine, skills, store)?;
    let (guard, kb) = (state.guard.clone(), state.kb.clone());
    std::thread::Builder::new()
        .name("scope-examples".into())
        .spawn(move || guard.learn_scope_examples(&kb))
        .context("cannot start the thread that embeds the scope examples")?;
    Ok(state)
}

/// How a command uses the knowledge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Search only: the index is not written (beyond the first import of the bundled data into a new one).
    ReadOnly,
    /// The server and imports: entries without vectors are embedded and rewritten at open.
    ReadWrite,
}

/// Opens the index with the configured embedding model (fetched into the cache first if needed),
/// importing the bundled knowledge base into a new index.
pub async fn open_knowledge_base(config: &Config, access: Access) -> Result<KnowledgeBase> {
    let index_dir = config.index_dir();
    let mut options = knowledge_base_options(config).await?;
    options.repair_vectors = access == Access::ReadWrite;
    tokio::task::spawn_blocking(move || -> Result<KnowledgeBase> {
        std::fs::create_dir_all(&index_dir)
            .with_context(|| format!("cannot create the index directory {}", index_dir.display()))?;
        let kb = KnowledgeBase::open_with(&index_dir, options)
            .with_context(|| format!("cannot open the knowledge-base index in {}", index_dir.display()))?;
        // Only into a new index: an operator who deleted the bundled documents keeps them deleted.
        if kb.is_new().context("cannot read the knowledge-base index")? {
            tracing::info!(dir = %index_dir.display(), "new index: importing the bundled knowledge base");
            let started = Instant::now();
            let report = kb.import_bundled().context("cannot import the bundled knowledge base")?;
            tracing::info!(
                documents = report.imported,
                problems = report.problems.len(),
                seconds = started.elapsed().as_secs_f32(),
                "bundled knowledge base imported"
            );
        }
        Ok(kb)
    })
    .await?
}

/// The embedding model, its vector cache (beside the model cache) and a progress bar for imports;
/// nothing when hybrid search is configured off.
async fn knowledge_base_options(config: &Config) -> Result<KbOptions> {
    if !config.hybrid_search() {
        tracing::info!("kb.embedding_model = \"none\": lexical search only");
        return Ok(KbOptions::default());
    }
    let name = &config.kb.embedding_model;
    let path = model_file(config, config.kb.embedding_model_path.as_deref(), name)
        .await
        .with_context(|| {
            format!(
                "cannot obtain the embedding model `{name}` (set kb.embedding_model_path to a local \
                 file, or kb.embedding_model = \"none\" for lexical search only)"
            )
        })?;
    let started = Instant::now();
    let embedder = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Embedder::load(&path)
    })
    .await?
    .with_context(|| format!("cannot load the embedding model {}", path.display()))?;
    tracing::info!(path = %path.display(), seconds = started.elapsed().as_secs_f32(), "embedding model loaded");

    let cache_dir = config
        .llm
        .cache_dir
        .clone()
        .or_else(govassist_llm::default_cache_dir);
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("embeddings");
    Ok(KbOptions {
        embedder: Some(Arc::new(embedder)),
        vector_cache: cache_dir.map(|dir| dir.join("vectors").join(format!("{stem}.bin"))),
        progress: Some(embedding_progress_bar()),
        repair_vectors: false,
    })
}

/// A progress bar on standard error for the embedding of an import (hidden off a terminal, where
/// the start and end are logged instead).
fn embedding_progress_bar() -> govassist_kb::ProgressFn {
    let bar = indicatif::ProgressBar::new(0).with_message("embedding");
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>10} [{bar:40}] {pos}/{len} passages eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Arc::new(move |done, total| {
        bar.set_length(total);
        bar.set_position(done);
        if done == total {
            bar.finish_and_clear();
        } else if done == 0 {
            bar.reset();
        }
    })
}

/// Lets the skill host manage the configured skills directory (deployments are written there)
/// and, unless `skills.watch_interval_ms` is 0, follow it for skills added, changed or removed by
/// hand. Idempotent.
pub fn manage_skills_dir(config: &Config, skills: &Arc<SkillHost>) {
    let dir = config.skills_dir();
    match config.skills.watch_interval_ms {
        0 => skills.manage(&dir),
        ms => {
            skills.watch(&dir, std::time::Duration::from_millis(ms));
        }
    }
}

pub fn load_skills(dir: &Path, kb: Arc<KnowledgeBase>, store: Arc<Store>) -> Result<SkillHost> {
    let host = SkillHost::new(Arc::new(SkillServices { kb, store }))
        .context("cannot start the skill host")?;
    if dir.is_dir() {
        // The host logs each skill it loads or rejects; one bad skill never stops the others.
        let results = host.load_dir(dir);
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            tracing::error!(failed, dir = %dir.display(), "some installed skills could not be loaded");
        }
    } else {
        tracing::warn!(
            dir = %dir.display(),
            "no skills installed; build the bundled ones with `govassist skill build`"
        );
    }
    Ok(host)
}

/// A model's file: the configured `path` (air-gapped sites), else catalogue model `name`, fetched
/// into the cache first if needed.
async fn model_file(config: &Config, path: Option<&Path>, name: &str) -> Result<PathBuf> {
    if let Some(path) = path {
        return Ok(path.to_owned());
    }
    let (name, options) = (name.to_owned(), config.fetch_options());
    Ok(tokio::task::spawn_blocking(move || govassist_llm::fetch(&name, &options)).await??)
}

/// Loads the configured model, fetching it into the cache first if needed.
pub async fn load_engine(config: &Config) -> Result<Engine> {
    let path = model_file(config, config.llm.model_path.as_deref(), &config.llm.model)
        .await
        .with_context(|| format!("cannot obtain the model `{}`", config.llm.model))?;
    let started = Instant::now();
    let engine = tokio::task::spawn_blocking({
        let path = path.clone();
        move || Engine::load(&path)
    })
    .await?
    .with_context(|| format!("cannot load the model {}", path.display()))?;
    tracing::info!(
        model = engine.model_name(),
        seconds = started.elapsed().as_secs_f32(),
        "language model loaded"
    );
    Ok(engine)
}
