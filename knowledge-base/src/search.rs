//! Turning a citizen's question into a ranked list of hits.
//!
//! Citizens type anything: punctuation, emoji, quotes, `AND`, whole pasted documents. The text is
//! therefore never handed to tantivy's query language; it goes through the same analyzer as the
//! index, and each distinct term becomes a `Should` term query on every searched field, weighted by
//! the field's boost, scored with BM25. This bag-of-terms query is the lexical half of the hybrid
//! ranking planned next (embeddings fused with these scores), which will slot in behind
//! [`crate::KnowledgeBase::search`] without changing [`Hit`].

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{TantivyDocument, Term};

use crate::document::{DocKind, ServiceItemFields};
use crate::index::KbIndex;
use crate::tokenizer::FoldingJiebaTokenizer;
use crate::KbError;

/// Longest accepted query, in characters. Longer queries are rejected with
/// [`KbError::QueryTooLong`] rather than truncated, so results always answer the text that was sent.
pub const MAX_QUERY_CHARS: usize = 2_000;

/// Largest accepted `k`.
pub const MAX_K: usize = 100;

/// At most this many distinct terms of a query are used (in order of appearance); a query of
/// [`MAX_QUERY_CHARS`] characters has fewer in practice, this only bounds the work.
const MAX_QUERY_TERMS: usize = 256;

/// Field boosts: a match in an item's name or a FAQ's question says more than one in the body.
const TITLE_BOOST: f32 = 3.0;
const KEYWORDS_BOOST: f32 = 1.5;
const PASSAGE_BOOST: f32 = 1.0;

/// One search result.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Hit {
    /// The entry's id: the document id, with `#N` for a staff passage.
    pub id: String,
    /// The source document's id (the id without `#N`).
    pub doc_id: String,
    pub kind: DocKind,
    /// Item name, FAQ question, or staff document title.
    pub title: String,
    /// The text to ground an answer on; for a service item a compact rendering of its key fields.
    pub passage: String,
    pub score: f32,
    pub url: Option<String>,
    pub phone: Option<String>,
    /// The structured fields of a service item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceItemFields>,
}

/// Checks the query and `k`, returning the query's distinct terms.
pub(crate) fn query_terms(query: &str, k: usize) -> Result<Vec<String>, KbError> {
    if !(1..=MAX_K).contains(&k) {
        return Err(KbError::InvalidK { k, max: MAX_K });
    }
    if query.trim().is_empty() {
        return Err(KbError::EmptyQuery);
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(KbError::QueryTooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    let mut terms = FoldingJiebaTokenizer::new().terms(query);
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_QUERY_TERMS);
    if terms.is_empty() {
        return Err(KbError::InvalidQuery);
    }
    Ok(terms)
}

/// Runs a validated search; see the module documentation.
pub(crate) fn run(index: &KbIndex, query: &str, k: usize) -> Result<Vec<Hit>, KbError> {
    let terms = query_terms(query, k)?;
    let f = &index.fields;
    let weighted: [(Field, f32); 3] = [
        (f.title, TITLE_BOOST),
        (f.keywords, KEYWORDS_BOOST),
        (f.passage, PASSAGE_BOOST),
    ];
    let clauses: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .flat_map(|term| {
            weighted.iter().map(move |&(field, boost)| {
                let term_query = TermQuery::new(
                    Term::from_field_text(field, term),
                    IndexRecordOption::WithFreqs,
                );
                (
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term_query), boost)) as Box<dyn Query>,
                )
            })
        })
        .collect();
    let query = BooleanQuery::new(clauses);

    let searcher = index.reader.searcher();
    let top = searcher
        .search(&query, &TopDocs::with_limit(k).order_by_score())
        .map_err(|e| KbError::index("searching", &index.path, e))?;
    top.into_iter()
        .map(|(score, address)| {
            let doc: TantivyDocument = searcher
                .doc(address)
                .map_err(|e| KbError::index("reading a hit", &index.path, e))?;
            let entry = f.to_entry(&doc);
            Ok(Hit {
                id: entry.id,
                doc_id: entry.doc_id,
                kind: entry.kind,
                title: entry.title,
                passage: entry.passage,
                score,
                url: entry.url,
                phone: entry.phone,
                service: entry.service,
            })
        })
        .collect()
}
