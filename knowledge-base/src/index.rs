//! The persistent tantivy index in a directory: opening or creating it, and writing source
//! documents into it.
//!
//! Writers are short-lived: one is opened per import and dropped after its single commit, so the
//! directory's write lock is held only while importing. That lets `govassist kb import` run against
//! the data directory of a server that is not importing at that moment, and a running server picks
//! the new commit up by itself ([`ReloadPolicy::OnCommitWithDelay`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use tantivy::directory::MmapDirectory;
use tantivy::schema::Value;
use tantivy::{
    Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, TantivyDocument, Term,
};

use crate::dense::DenseVectors;
use crate::document::SourceDocument;
use crate::embed::ModelId;
use crate::schema::{self, Fields};
use crate::tokenizer::{FoldingJiebaTokenizer, ANALYZER_NAME};
use crate::KbError;

/// Memory for the indexing thread. Large enough that the bundled data (about 4,200 entries, 4 MB of
/// text) goes into one segment.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// One indexing thread: imports are small (the bundled data takes about a second) and a single
/// thread keeps document order, hence tie-breaking between equal scores, the same on every build.
/// With several threads, entries land in segments by chance and rankings drift between builds.
const WRITER_THREADS: usize = 1;

/// An opened index with its fields and a reader.
pub(crate) struct KbIndex {
    pub path: PathBuf,
    pub index: Index,
    pub fields: Fields,
    pub reader: IndexReader,
    /// The entries' vectors, kept up to date by the reader as its warmer.
    pub dense: Arc<DenseVectors>,
    /// The model whose vectors are read and written (`None`: lexical only).
    pub model: Option<ModelId>,
}

impl KbIndex {
    /// Opens the index in `dir`, creating the directory and an empty index if absent. Vectors of
    /// `model` are loaded for dense search; those of any other model count as missing.
    pub fn open(dir: &Path, model: Option<ModelId>) -> Result<Self, KbError> {
        std::fs::create_dir_all(dir).map_err(|e| KbError::io(dir, e))?;
        let directory = MmapDirectory::open(dir)
            .map_err(|e| KbError::index("opening the directory", dir, e.into()))?;
        let exists =
            Index::exists(&directory).map_err(|e| KbError::index("opening", dir, e.into()))?;
        let index = if exists {
            Index::open(directory).map_err(|e| KbError::index("opening", dir, e))?
        } else {
            tracing::info!(path = %dir.display(), "creating an empty knowledge base index");
            Index::create(directory, schema::build(), IndexSettings::default())
                .map_err(|e| KbError::index("creating", dir, e))?
        };
        // Checked field by field (not the whole schema) to name what differs in the error.
        let fields = Fields::resolve(&index.schema(), dir)?;
        index
            .tokenizers()
            .register(ANALYZER_NAME, FoldingJiebaTokenizer::new());
        let dense = Arc::new(DenseVectors::new(fields.embedding, model));
        let warmer: Arc<dyn tantivy::Warmer> = dense.clone();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .warmers(vec![Arc::downgrade(&warmer) as Weak<dyn tantivy::Warmer>])
            .try_into()
            .map_err(|e| KbError::index("opening a reader", dir, e))?;
        Ok(KbIndex {
            path: dir.to_path_buf(),
            index,
            fields,
            reader,
            dense,
            model,
        })
    }

    /// Whether nothing was ever committed to this index: it was just created, and the bundled
    /// knowledge base belongs in it. An index whose documents were all deleted is not new.
    pub fn is_new(&self) -> Result<bool, KbError> {
        let metas = self
            .index
            .load_metas()
            .map_err(|e| KbError::index("reading the index metadata", &self.path, e))?;
        Ok(metas.opstamp == 0)
    }

    /// Writes the documents in one commit, each replacing whatever was indexed under its id (a
    /// document without entries only deletes), and makes them visible to searches before
    /// returning. `vectors` has one optional vector per entry, in order. Returns the number of
    /// entries written.
    ///
    /// On error nothing is committed: the index keeps its previous content.
    pub fn replace(
        &self,
        documents: &[SourceDocument],
        vectors: &[Option<Vec<f32>>],
    ) -> Result<usize, KbError> {
        let mut vectors = vectors.iter();
        let mut writer: IndexWriter<TantivyDocument> = self
            .index
            .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY_BYTES)
            .map_err(|e| KbError::index("opening a writer", &self.path, e))?;
        let mut entries = 0;
        for document in documents {
            // Delete-then-add: tantivy applies a delete to documents added before it, so a document
            // that appears twice in one import ends up once, with its last version.
            writer.delete_term(Term::from_field_text(self.fields.doc_id, &document.doc_id));
            for entry in &document.entries {
                let stored = vectors
                    .next()
                    .and_then(Option::as_deref)
                    .zip(self.model)
                    .map(|(vector, model)| crate::dense::encode_stored(model, vector));
                writer
                    .add_document(self.fields.to_document(entry, stored.as_deref()))
                    .map_err(|e| KbError::index("adding a document", &self.path, e))?;
                entries += 1;
            }
        }
        writer
            .commit()
            .map_err(|e| KbError::index("committing", &self.path, e))?;
        writer
            .wait_merging_threads()
            .map_err(|e| KbError::index("merging segments", &self.path, e))?;
        self.reader
            .reload()
            .map_err(|e| KbError::index("reloading the reader", &self.path, e))?;
        Ok(entries)
    }

    /// The source documents (all their entries) that have at least one entry without a vector,
    /// read back from the index.
    pub fn documents_without_vectors(
        &self,
        searcher: &tantivy::Searcher,
    ) -> Result<Vec<SourceDocument>, KbError> {
        let read = |e| KbError::index("reading stored entries", &self.path, e);
        let mut by_doc: std::collections::BTreeMap<String, (bool, Vec<crate::document::Entry>)> =
            std::collections::BTreeMap::new();
        for reader in searcher.segment_readers() {
            let store = reader.get_store_reader(32).map_err(|e| read(e.into()))?;
            for stored in store.iter::<TantivyDocument>(reader.alive_bitset()) {
                let stored = stored.map_err(read)?;
                let has_vector = stored
                    .get_first(self.fields.embedding)
                    .and_then(|v| v.as_bytes())
                    .zip(self.model)
                    .is_some_and(|(bytes, model)| {
                        crate::dense::decode_stored(bytes, model).is_some()
                    });
                let entry = self.fields.to_entry(&stored);
                let slot = by_doc.entry(entry.doc_id.clone()).or_default();
                slot.0 |= !has_vector;
                slot.1.push(entry);
            }
        }
        Ok(by_doc
            .into_iter()
            .filter(|(_, (missing, _))| *missing)
            .map(|(doc_id, (_, mut entries))| {
                // Passages in their original order (`file#1`, `file#2`, …).
                entries.sort_by_key(|e| passage_number(&e.id));
                SourceDocument { doc_id, entries }
            })
            .collect())
    }
}

fn passage_number(id: &str) -> usize {
    id.rsplit_once('#')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(0)
}
