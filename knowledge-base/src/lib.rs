//! The govassist knowledge base: the district's service items (办事指南), FAQs and internal staff
//! documents in a persistent tantivy index, searched by a hybrid of BM25 over jieba-tokenized,
//! script-folded text and multilingual-e5 embeddings (so that paraphrases, Cantonese wording and
//! English questions find Chinese documents).
//!
//! ```no_run
//! use govassist_kb::KnowledgeBase;
//! # fn main() -> Result<(), govassist_kb::KbError> {
//! let kb = KnowledgeBase::open(std::path::Path::new("data/kb"))?;
//! if kb.is_new()? {
//!     kb.import_bundled()?;
//! }
//! for hit in kb.search("营业执照怎么办理", 5)? {
//!     println!("{} {:.2} {}", hit.id, hit.score, hit.title);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Map of the crate, one module per concept:
//! - [`document`]: the three source kinds and how each becomes index entries (ids, passages);
//! - [`text`]: folding (Traditional → Simplified, full-width → half-width, lowercase) and splitting;
//! - [`tokenizer`]: the analyzer (folding + jieba search mode) shared by index and queries;
//! - [`schema`]: fields and the entry ↔ tantivy document mapping;
//! - `index`: the on-disk index, opened or created, written one commit per import;
//! - [`embed`]: the multilingual-e5-small model (its file format, tokenizer and encoder on candle);
//! - `dense`: entries' vectors stored in the index, loaded per segment, searched exactly;
//! - [`vector_cache`]: vectors kept by text outside the index, so nothing is embedded twice;
//! - [`import`]: reading files, directories and the bundled data, reporting bad lines;
//! - [`search`]: safe query construction, lexical and dense rankings and their fusion;
//! - [`title_match`]: the first hits reordered by how close the question is to their names;
//! - [`glossary`]: English questions expanded with the Chinese terms they name;
//! - [`eval`]: recall/MRR/latency over a question file.

mod dense;
pub mod document;
pub mod embed;
mod error;
pub mod eval;
pub mod glossary;
pub mod import;
mod index;
mod name_ranking;
pub mod schema;
pub mod search;
pub mod text;
pub mod title_match;
pub mod tokenizer;
pub mod vector_cache;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use document::{DocKind, ServiceItemFields};
pub use embed::{Embedder, ModelId};
pub use error::KbError;
pub use eval::{EvalMetrics, EvalReport};
pub use import::{ImportProblem, ImportReport};
pub use search::Hit;

use index::KbIndex;
use vector_cache::VectorCache;

/// Passages embedded per model call during an import: large enough to keep both cores busy,
/// small enough that the progress bar moves every few seconds.
const EMBED_BATCH: usize = 32;

/// Called during an import with (entries embedded so far, entries to embed); the binary draws a
/// progress bar with it.
pub type ProgressFn = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// What the fused search found, with what the second look needs ([`title_match`]).
struct FusedHits {
    hits: Vec<Hit>,
    /// The query with the glossary's terms (what both rankings searched).
    expanded: String,
    /// The query's vector, when the dense ranking ran.
    query_vector: Option<Vec<f32>>,
}

/// What a knowledge base uses besides its index directory.
#[derive(Clone, Default)]
pub struct KbOptions {
    /// The embedding model; without it search is lexical only and entries are imported without
    /// vectors (they get them at the next open with a model, see [`KnowledgeBase::open_with`]).
    pub embedder: Option<Arc<Embedder>>,
    /// The persistent vector cache file (see [`vector_cache`]); without it every import embeds
    /// all of its entries.
    pub vector_cache: Option<PathBuf>,
    /// Progress of embedding during imports.
    pub progress: Option<ProgressFn>,
    /// Embed, at open, the entries that have no vector, and rewrite them (see
    /// [`KnowledgeBase::open_with`]). For processes that write the index anyway (the server,
    /// `kb import`); read-only commands leave it off and never take the index's write lock.
    pub repair_vectors: bool,
}

impl std::fmt::Debug for KbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KbOptions")
            .field("embedder", &self.embedder.is_some())
            .field("vector_cache", &self.vector_cache)
            .finish_non_exhaustive()
    }
}

/// The knowledge base behind one index directory. `Send + Sync`: share it in an `Arc`; searches run
/// concurrently, imports are serialised.
pub struct KnowledgeBase {
    index: KbIndex,
    glossary: glossary::Glossary,
    embedder: Option<Arc<Embedder>>,
    vector_cache: Option<VectorCache>,
    progress: Option<ProgressFn>,
    /// Serialises imports within this process; tantivy's directory lock guards against other
    /// processes.
    import_lock: Mutex<()>,
    /// Vectors of entries' names, for [`title_match`].
    names: title_match::NameVectors,
    /// Every entry's name vector, per segment, for [`name_ranking`].
    name_ranking: name_ranking::NameRanking,
    /// Qualifier meanings that questions name in words, for [`title_match`].
    qualifier_words: title_match::QualifierWords,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("path", &self.index.path)
            .finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    /// Opens the index in `index_dir` for lexical search only, creating the directory and an empty
    /// index if absent.
    pub fn open(index_dir: &Path) -> Result<Self, KbError> {
        Self::open_with(index_dir, KbOptions::default())
    }

    /// Opens the index in `index_dir` (creating it if absent) with an embedding model and a vector
    /// cache. With [`KbOptions::repair_vectors`], entries indexed without a vector (imported while
    /// no model was available) are embedded now and rewritten in one commit, so that dense search
    /// covers every entry.
    pub fn open_with(index_dir: &Path, options: KbOptions) -> Result<Self, KbError> {
        let index = KbIndex::open(index_dir, options.embedder.as_ref().map(|e| e.model_id()))?;
        // The cache only saves time: an unusable one is a warning, never a reason not to start.
        let vector_cache = match (&options.embedder, &options.vector_cache) {
            (Some(embedder), Some(path)) => {
                match VectorCache::open(path, embedder.dim(), embedder.model_id()) {
                    Ok(cache) => Some(cache),
                    Err(error) => {
                        tracing::warn!(%error, "vector cache unusable; every import embeds all its entries");
                        None
                    }
                }
            }
            _ => None,
        };
        let kb = KnowledgeBase {
            index,
            glossary: glossary::Glossary::default(),
            embedder: options.embedder,
            vector_cache,
            progress: options.progress,
            import_lock: Mutex::new(()),
            names: title_match::NameVectors::default(),
            name_ranking: name_ranking::NameRanking::default(),
            qualifier_words: title_match::QualifierWords::default(),
        };
        tracing::debug!(path = %index_dir.display(), entries = kb.doc_count(), "knowledge base opened");
        if kb.embedder.is_some() {
            if options.repair_vectors {
                match kb.embed_missing() {
                    Err(KbError::IndexLocked { path }) => tracing::warn!(
                        path = %path.display(),
                        "entries without vectors stay so for now: another process is writing the index"
                    ),
                    other => other?,
                }
            } else if kb.missing_vectors() > 0 {
                tracing::warn!(
                    entries = kb.missing_vectors(),
                    "entries without vectors are found lexically only; `govassist serve` or `kb import` embeds them"
                );
            }
        }
        Ok(kb)
    }

    /// Number of entries without a vector (all of them when the index was built without a model).
    pub fn missing_vectors(&self) -> u64 {
        self.index.dense.missing(&self.index.reader.searcher())
    }

    /// Whether searches use the embedding model as well as the lexical index.
    pub fn is_hybrid(&self) -> bool {
        self.embedder.is_some()
    }

    /// The directory of the index.
    pub fn path(&self) -> &Path {
        &self.index.path
    }

    /// Whether nothing was ever written to this index (see [`KnowledgeBase::import_bundled`]): a
    /// new data directory. An index whose documents were all deleted is not new, so an operator
    /// who removed the bundled data does not get it back at the next start.
    pub fn is_new(&self) -> Result<bool, KbError> {
        self.index.is_new()
    }

    /// Number of index entries (a staff document counts once per passage).
    pub fn doc_count(&self) -> u64 {
        self.index.reader.searcher().num_docs()
    }

    /// Imports files or directories: `*.jsonl` whose records are service items (have `事项名称`) or
    /// FAQs (have `question` and `answer`), and `*.txt` as staff documents. Documents are added or
    /// replaced by id in one commit. A malformed line is reported in
    /// [`ImportReport::problems`] with its file and line number and the rest is imported; nothing
    /// already indexed is lost. A path that does not exist fails the whole import before writing.
    pub fn import_paths(&self, paths: &[PathBuf]) -> Result<ImportReport, KbError> {
        let parsed = import::parse_paths(paths)?;
        self.write(parsed)
    }

    /// Imports the data bundled in the binary (`knowledge-base/data`, see its `SOURCES.md`).
    pub fn import_bundled(&self) -> Result<ImportReport, KbError> {
        self.write(import::parse_bundled())
    }

    fn write(&self, parsed: import::Parsed) -> Result<ImportReport, KbError> {
        // A poisoned lock only means an earlier import panicked; its writer was dropped uncommitted.
        let _guard = self
            .import_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let started = Instant::now();
        // Embedding (the slow part) happens before the index writer is opened, so the index's write
        // lock is held only for the commit itself.
        let (vectors, embedded) = self.vectors_for(&parsed.documents)?;
        let entries = self.index.replace(&parsed.documents, &vectors)?;
        let report = parsed.report(entries, embedded);
        tracing::info!(
            imported = report.imported,
            deleted = report.deleted,
            entries = report.entries,
            embedded = report.embedded,
            problems = report.problems.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "import committed"
        );
        Ok(report)
    }

    /// One vector per entry of `documents` (in order), from the cache or the model, and how many
    /// were computed by the model. All `None` without a model.
    fn vectors_for(
        &self,
        documents: &[document::SourceDocument],
    ) -> Result<(Vec<Option<Vec<f32>>>, usize), KbError> {
        let entries: Vec<&document::Entry> =
            documents.iter().flat_map(|d| d.entries.iter()).collect();
        let Some(embedder) = &self.embedder else {
            return Ok((vec![None; entries.len()], 0));
        };
        let mut texts: Vec<String> = entries.iter().map(|e| e.embedding_text()).collect();
        // The names that `title_match` compares are embedded (into the cache) with the entries,
        // so that no search waits for one. Only their vectors in the cache are wanted.
        let named = entries.len();
        if self.vector_cache.is_some() {
            let mut seen = std::collections::HashSet::new();
            for entry in &entries {
                if title_match::named_by_title(entry.kind) && seen.insert(entry.title.as_str()) {
                    texts.push(entry.title.clone());
                }
            }
        }
        let keys: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (mut vectors, todo) = self.cached_or_embedded(
            &keys,
            &keys,
            |batch| embedder.embed_passages(batch),
            self.progress.as_ref(),
        )?;
        let embedded = todo.iter().filter(|&&i| i < named).count();
        vectors.truncate(named);
        Ok((vectors.into_iter().map(Some).collect(), embedded))
    }

    /// The vectors of `texts`, looked up in the vector cache under `keys` (one per text), the
    /// missing ones computed by `embed` in batches and added to the cache; and the indices of
    /// those computed. Reports progress over the computed ones, when given a `progress`.
    fn cached_or_embedded(
        &self,
        keys: &[&str],
        texts: &[&str],
        embed: impl Fn(&[&str]) -> Result<Vec<Vec<f32>>, embed::EmbedError>,
        progress: Option<&ProgressFn>,
    ) -> Result<(Vec<Vec<f32>>, Vec<usize>), KbError> {
        let cache = self.vector_cache.as_ref();
        let mut vectors: Vec<Option<Vec<f32>>> =
            keys.iter().map(|k| cache.and_then(|c| c.get(k))).collect();
        let todo: Vec<usize> = (0..texts.len()).filter(|&i| vectors[i].is_none()).collect();
        if !todo.is_empty() {
            tracing::info!(
                texts = todo.len(),
                cached = texts.len() - todo.len(),
                "embedding texts missing from the vector cache"
            );
        }
        let total = todo.len() as u64;
        let mut done = 0;
        if let Some(progress) = progress.filter(|_| !todo.is_empty()) {
            progress(0, total);
        }
        for batch in todo.chunks(EMBED_BATCH) {
            let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let batch_vectors = embed(&batch_texts)?;
            if let Some(cache) = cache {
                let items: Vec<(&str, &[f32])> = batch
                    .iter()
                    .map(|&i| keys[i])
                    .zip(batch_vectors.iter().map(Vec::as_slice))
                    .collect();
                if let Err(error) = cache.insert_many(&items) {
                    tracing::warn!(%error, "cannot add to the vector cache; continuing without");
                }
            }
            for (&i, vector) in batch.iter().zip(batch_vectors) {
                vectors[i] = Some(vector);
            }
            done += batch.len() as u64;
            if let Some(progress) = progress {
                progress(done, total);
            }
        }
        Ok((
            vectors.into_iter().map(|v| v.unwrap_or_default()).collect(),
            todo,
        ))
    }

    /// Embeds the entries that have no vector and rewrites them; see [`KnowledgeBase::open_with`].
    fn embed_missing(&self) -> Result<(), KbError> {
        let searcher = self.index.reader.searcher();
        if self.index.dense.missing(&searcher) == 0 {
            return Ok(());
        }
        let documents = self.index.documents_without_vectors(&searcher)?;
        tracing::info!(
            documents = documents.len(),
            "entries without vectors found: embedding them"
        );
        // Embedding takes minutes, during which `kb import` in another process may replace or
        // delete some of these documents. So embed first (filling the vector cache), then re-read
        // what is indexed *now* and rewrite only that, from the cache: a concurrent change is
        // never reverted to the copy read before.
        self.vectors_for(&documents)?;
        self.index
            .reader
            .reload()
            .map_err(|e| KbError::index("reloading the reader", &self.index.path, e))?;
        let current = self
            .index
            .documents_without_vectors(&self.index.reader.searcher())?;
        self.write(import::Parsed {
            documents: current,
            problems: Vec::new(),
        })?;
        Ok(())
    }

    /// The `k` best hits for a citizen's query, best first.
    ///
    /// Any text is safe: it is tokenized like the index, never parsed as query syntax. Errors:
    /// [`KbError::EmptyQuery`] for an empty or blank query, [`KbError::QueryTooLong`] above
    /// [`search::MAX_QUERY_CHARS`] characters (rejected, not truncated), [`KbError::InvalidQuery`]
    /// when nothing searchable remains (only punctuation or emoji), [`KbError::InvalidK`] for `k`
    /// outside `1..=100`.
    ///
    /// English words naming government services get their Chinese terms put before the query
    /// ([`glossary`]), for both the lexical and the dense ranking. With a model, the first hits
    /// are then reordered by how close the question is to their names ([`title_match`]).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, KbError> {
        let FusedHits {
            mut hits,
            expanded,
            query_vector,
        } = self.fused_hits(query, k)?;
        if let Some(vector) = &query_vector {
            let subject = self.subject_vector(&expanded);
            title_match::rerank(
                &mut hits,
                &expanded,
                title_match::QueryVectors {
                    question: vector,
                    subject: subject.as_deref(),
                },
                &self.qualifier_words,
                |name| self.name_vector(name),
            );
        }
        hits.truncate(k);
        Ok(hits)
    }

    /// The first hits of [`KnowledgeBase::search`] before the second look, each service item and FAQ
    /// entry among them with the [`title_match::Signals`] that the second look weighs (none without a
    /// model): what `scripts/fit-rerank.py` fits the weights on (`examples/hits.rs --signals`).
    pub fn signals(
        &self,
        query: &str,
    ) -> Result<Vec<(Hit, Option<title_match::Signals>)>, KbError> {
        let FusedHits {
            hits,
            expanded,
            query_vector,
        } = self.fused_hits(query, title_match::DEPTH)?;
        let mut signals = match &query_vector {
            Some(vector) => {
                let subject = self.subject_vector(&expanded);
                let query = title_match::QueryVectors {
                    question: vector,
                    subject: subject.as_deref(),
                };
                title_match::signals(&hits, &expanded, query, &self.qualifier_words, |name| {
                    self.name_vector(name)
                })
            }
            None => Vec::new(),
        }
        .into_iter()
        .peekable();
        Ok(hits
            .into_iter()
            .enumerate()
            .map(|(i, hit)| {
                (
                    hit,
                    signals.next_if(|(place, _)| *place == i).map(|(_, s)| s),
                )
            })
            .collect())
    }

    /// The first `k` hits (at least [`title_match::DEPTH`]) of both rankings fused, before the
    /// second look.
    fn fused_hits(&self, query: &str, k: usize) -> Result<FusedHits, KbError> {
        search::query_terms(query, k)?; // limits apply to what the caller sent
        let expanded = self.glossary.expand(query);
        let mut query_vector = None;
        // Names are ranked for questions in another language than the guides, from the names'
        // vectors that imports left in the cache (none is computed at query time). The ranking only
        // helps: if the names cannot be read, the search goes on with the other two.
        let by_name = |searcher: &tantivy::Searcher, vector: &[f32], limit: usize| {
            let cached = |name: &str| self.vector_cache.as_ref()?.get(name);
            self.name_ranking
                .rank(&self.index, searcher, vector, limit, cached)
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "cannot rank the entries by name; searching without");
                    Vec::new()
                })
        };
        let names: Option<search::NameRanker<'_>> =
            (self.vector_cache.is_some() && name_ranking::mostly_latin(query)).then_some(&by_name);
        let hits = search::run(
            &self.index,
            &expanded,
            k.max(title_match::DEPTH),
            None,
            || {
                let vector = self.query_vector(&expanded)?;
                query_vector.clone_from(&vector);
                Ok(vector)
            },
            names,
        )?;
        Ok(FusedHits {
            hits,
            expanded,
            query_vector,
        })
    }

    /// The vector of the question's subject ([`title_match::subject_of`]), when words were taken
    /// out of it: a second embedding, for the few questions that ask for a phone number. `None`
    /// otherwise, or when the model fails (the names are then compared with the whole question).
    fn subject_vector(&self, expanded: &str) -> Option<Vec<f32>> {
        let subject = title_match::subject_of(expanded)?;
        match self.query_vector(&subject) {
            Ok(vector) => vector,
            Err(error) => {
                tracing::warn!(%error, "cannot embed the question's subject; comparing names with the whole question");
                None
            }
        }
    }

    /// The `passage: ` embedding of an entry's name: remembered, else from the vector cache (where
    /// imports put them), else computed now. `None` without a model, or when the model fails (the
    /// hit then keeps its fused score; the failure is logged).
    fn name_vector(&self, name: &str) -> Option<Arc<Vec<f32>>> {
        if let Some(vector) = self.names.get(name) {
            return Some(vector);
        }
        let cache = self.vector_cache.as_ref();
        let vector = match cache.and_then(|c| c.get(name)) {
            Some(vector) => vector,
            None => {
                let vector = match self.embedder.as_ref()?.embed_passages(&[name]) {
                    Ok(mut vectors) => vectors.pop()?,
                    Err(error) => {
                        tracing::warn!(%error, "cannot embed an entry's name; its hit keeps its fused score");
                        return None;
                    }
                };
                if let Some(Err(error)) = cache.map(|c| c.insert_many(&[(name, vector.as_slice())]))
                {
                    tracing::warn!(%error, "cannot add to the vector cache; continuing without");
                }
                vector
            }
        };
        Some(self.names.insert(name, vector))
    }

    /// Like [`KnowledgeBase::search`], lexical only, over one field of the service items: its
    /// schema name (`materials`, …, see [`schema::SERVICE_TEXT_FIELDS`]) or its label in the source
    /// (`申请材料`, …). An unknown field is [`KbError::UnknownField`].
    pub fn search_field(&self, field: &str, query: &str, k: usize) -> Result<Vec<Hit>, KbError> {
        let resolved =
            self.index
                .fields
                .service_field(field)
                .ok_or_else(|| KbError::UnknownField {
                    field: field.to_string(),
                    known: schema::SERVICE_TEXT_FIELDS.join(", "),
                })?;
        search::query_terms(query, k)?;
        search::run(&self.index, query, k, Some(resolved), || Ok(None), None)
    }

    /// The query embedding of `text` (unit length, comparable by dot product with other query
    /// embeddings), or `None` when the knowledge base runs lexical-only. For callers that match
    /// short texts of their own against each other (the chat router matches a message against
    /// skills' example utterances) with the same model the index uses.
    pub fn embed_query(&self, text: &str) -> Result<Option<Vec<f32>>, KbError> {
        self.query_vector(text)
    }

    /// The query vectors of many fixed texts (labelled example requests, say), kept in the vector
    /// cache so that the next start reads them instead of embedding them again. Their cache key is
    /// the text with its `query: ` prefix, the text the model reads, so they never collide with
    /// passages'. `None` without a model.
    pub fn embed_queries_cached(&self, texts: &[&str]) -> Result<Option<Vec<Vec<f32>>>, KbError> {
        let Some(embedder) = &self.embedder else {
            return Ok(None);
        };
        let keys: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{t}", embed::QUERY_PREFIX))
            .collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (vectors, _) =
            self.cached_or_embedded(&keys, texts, |batch| embedder.embed_queries(batch), None)?;
        Ok(Some(vectors))
    }

    fn query_vector(&self, query: &str) -> Result<Option<Vec<f32>>, KbError> {
        match &self.embedder {
            Some(embedder) => Ok(Some(embedder.embed_query(query)?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn knowledge_base_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::KnowledgeBase>();
    }
}
