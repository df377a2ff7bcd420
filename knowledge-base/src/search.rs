//! Turning a citizen's question into a ranked list of hits.
//!
//! Citizens type anything: punctuation, emoji, quotes, `AND`, whole pasted documents. The text is
//! therefore never handed to tantivy's query language; it goes through the same analyzer as the
//! index, and each distinct term becomes a `Should` term query on every searched field, weighted by
//! the field's boost, scored with BM25.
//!
//! That lexical ranking is one half of a hybrid search; the other is the dense ranking of the
//! query's embedding against the entries' vectors ([`crate::dense`]); a query in another language
//! than the guides gets a third, by the entries' names ([`crate::name_ranking`]). They are fused by
//! reciprocal rank ([`fuse`]): ranks, not scores, because BM25 scores and cosines live on unrelated
//! scales that shift from query to query. A hit's `score` is then its fused score (for the first
//! few, plus their name's similarity: [`crate::title_match`]): higher is better, comparable within
//! one result list only. A query that shares no term with the index has no hits
//! (dense search alone would always return the "least unrelated" entries).

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, TantivyDocument, Term};

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
    let terms = distinct_terms(query);
    if terms.is_empty() {
        return Err(KbError::InvalidQuery);
    }
    Ok(terms)
}

/// The distinct terms of a text, in order of appearance, at most [`MAX_QUERY_TERMS`].
fn distinct_terms(text: &str) -> Vec<String> {
    let mut terms = FoldingJiebaTokenizer::new().terms(text);
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// Lexical and dense candidates taken into the fusion, each; more than any `k` a caller uses, so that
/// an entry ranked modestly by both methods can still rise to the top.
const CANDIDATES: usize = 60;

/// Reciprocal-rank fusion constant: an entry's fused score is `Σ weight / (RRF_K + rank)`. The usual
/// 60 flattens the top ranks too much for us: the first few lexical or dense hits are usually right,
/// and their order should carry weight.
const RRF_K: f32 = 20.0;

/// Weights of the two rankings in the fusion. Dense retrieval understands paraphrases, dialect and
/// English; lexical retrieval pins exact item names and rare terms.
const LEXICAL_WEIGHT: f32 = 1.0;
const DENSE_WEIGHT: f32 = 1.0;

/// Weight of the ranking by name ([`crate::name_ranking`]), when the knowledge base adds it: a third
/// voice, lighter than either of the others, so that it lifts an entry they rank modestly rather
/// than overruling them. Of 0.25, 0.5, 0.75, 1.0 and 1.5, English recall rose up to 1.0 and stayed,
/// while staff passages (not named) lost ground above 0.5 (see there).
const NAME_WEIGHT: f32 = 0.5;

/// A ranking of a searcher's entries by name for a query vector, `limit` long, best first.
pub(crate) type NameRanker<'a> =
    &'a dyn Fn(&tantivy::Searcher, &[f32], usize) -> Vec<(f32, DocAddress)>;

/// The query vector, computed by the caller (the knowledge base owns the embedding model).
pub(crate) type QueryVector = Option<Vec<f32>>;

/// Runs a search for `query` — already validated with [`query_terms`] (in its original form; it may
/// since have been expanded) — over the title, keywords and passage (or over one field when `field`
/// is given), fused with the dense ranking when `query_vector` gives a vector; see the module
/// documentation. With `names`, the entries nearest the query vector by name are a third ranking.
pub(crate) fn run(
    index: &KbIndex,
    query: &str,
    k: usize,
    field: Option<Field>,
    query_vector: impl FnOnce() -> Result<QueryVector, KbError>,
    names: Option<NameRanker<'_>>,
) -> Result<Vec<Hit>, KbError> {
    let terms = distinct_terms(query);
    let f = &index.fields;
    let weighted: Vec<(Field, f32)> = match field {
        Some(field) => vec![(field, 1.0)],
        None => vec![
            (f.title, TITLE_BOOST),
            (f.keywords, KEYWORDS_BOOST),
            (f.passage, PASSAGE_BOOST),
        ],
    };
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

    // One searcher for both rankings: they see the same commit even while an import lands.
    let searcher = index.reader.searcher();
    let lexical = searcher
        .search(
            &query,
            &TopDocs::with_limit(k.max(CANDIDATES)).order_by_score(),
        )
        .map_err(|e| KbError::index("searching", &index.path, e))?;
    // No term in common with the knowledge base means no evidence, whatever the embedding says:
    // dense search always has *some* nearest entries, and a question about something we do not
    // cover must get "we don't know", not the least unrelated passage.
    if lexical.is_empty() {
        return Ok(Vec::new());
    }
    let ranked: Vec<(f32, DocAddress)> = match field.is_none().then(query_vector).transpose()? {
        Some(Some(vector)) => {
            let dense = index.dense.search(&searcher, &vector, k.max(CANDIDATES));
            let by_name = match names {
                Some(rank) => rank(&searcher, &vector, k.max(CANDIDATES)),
                None => Vec::new(),
            };
            fuse(&[
                (&lexical, LEXICAL_WEIGHT),
                (&dense, DENSE_WEIGHT),
                (&by_name, NAME_WEIGHT),
            ])
        }
        _ => lexical,
    };
    let read_hit = |address: DocAddress, score: f32| -> Result<Hit, KbError> {
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
    };
    let candidates: HashMap<DocAddress, usize> = ranked
        .iter()
        .enumerate()
        .map(|(rank, &(_, a))| (a, rank))
        .collect();
    let mut hits = Vec::with_capacity(k);
    let mut placed = HashSet::new();
    for &(score, address) in &ranked {
        if hits.len() == k {
            break;
        }
        if !placed.insert(address) {
            continue;
        }
        let hit = read_hit(address, score)?;
        let base_code = hit.service.as_ref().and_then(|s| s.base_code.clone());
        let agency_code = agency_code(&hit.id).to_string();
        hits.push(hit);
        let Some(base_code) = base_code.filter(|_| field.is_none()) else {
            continue;
        };
        // The same service at other levels (province, city, district) follows the item, with its
        // score: a citizen asking about a service sees each counter that handles it.
        let others = variants(
            index,
            &searcher,
            &base_code,
            &agency_code,
            &candidates,
            &placed,
        )?;
        for variant in others {
            if hits.len() == k {
                break;
            }
            placed.insert(variant);
            hits.push(read_hit(variant, score)?);
        }
    }
    Ok(hits)
}

/// Variants pulled up after an item, at most: enough for a province's and a city's version, not
/// so many that one service fills the page.
const MAX_VARIANTS: usize = 2;

/// The agency part (first 18 characters) of a 实施编码; see [`ServiceItemFields::base_code`].
fn agency_code(item_id: &str) -> &str {
    item_id.get(..18).unwrap_or(item_id)
}

/// Up to [`MAX_VARIANTS`] other agencies' versions of a service not yet `placed`: items sharing
/// `base_code` (see [`ServiceItemFields::base_code`]) whose agency is not `own_agency` (an agency's
/// own sub-items are different services), one per agency; those the query found first, best ranked
/// first.
fn variants(
    index: &KbIndex,
    searcher: &tantivy::Searcher,
    base_code: &str,
    own_agency: &str,
    candidates: &HashMap<DocAddress, usize>,
    placed: &HashSet<DocAddress>,
) -> Result<Vec<DocAddress>, KbError> {
    let failed = |e| KbError::index("finding an item's variants", &index.path, e);
    let query = TermQuery::new(
        Term::from_field_text(index.fields.base_code, base_code),
        IndexRecordOption::Basic,
    );
    let mut found: Vec<(usize, DocAddress)> = searcher
        .search(&query, &DocSetCollector)
        .map_err(failed)?
        .into_iter()
        .map(|a| (candidates.get(&a).copied().unwrap_or(usize::MAX), a))
        .collect();
    found.sort();
    let mut agencies = HashSet::from([own_agency.to_string()]);
    let mut variants = Vec::new();
    for (_, address) in found {
        if variants.len() == MAX_VARIANTS {
            break;
        }
        let doc: TantivyDocument = searcher.doc(address).map_err(failed)?;
        let id = doc
            .get_first(index.fields.id)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        // An agency already shown (placed) counts as shown: it is not pulled in twice.
        if agencies.insert(agency_code(id).to_string()) && !placed.contains(&address) {
            variants.push(address);
        }
    }
    Ok(variants)
}

/// Reciprocal-rank fusion of weighted rankings (each best first), best first; ties keep the order
/// of the first ranking (the lexical one).
fn fuse(rankings: &[(&[(f32, DocAddress)], f32)]) -> Vec<(f32, DocAddress)> {
    let mut fused: Vec<(f32, DocAddress)> =
        Vec::with_capacity(rankings.iter().map(|(r, _)| r.len()).sum());
    for &(ranking, weight) in rankings {
        for (rank, &(_, address)) in ranking.iter().enumerate() {
            let contribution = weight / (RRF_K + rank as f32 + 1.0);
            match fused.iter_mut().find(|(_, a)| *a == address) {
                Some((score, _)) => *score += contribution,
                None => fused.push((contribution, address)),
            }
        }
    }
    fused.sort_by(|a, b| b.0.total_cmp(&a.0));
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        let doc = |d| DocAddress::new(0, d);
        // 1 is first lexically, 2 first densely, 3 second in both: agreement wins; equal fused
        // scores keep the lexical order.
        let lexical = [(9.0, doc(1)), (8.0, doc(3)), (7.0, doc(4))];
        let dense = [(0.9, doc(2)), (0.8, doc(3)), (0.7, doc(5))];
        let order = |rankings: &[(&[(f32, DocAddress)], f32)]| -> Vec<u32> {
            fuse(rankings).iter().map(|(_, a)| a.doc_id).collect()
        };
        assert_eq!(
            order(&[(&lexical, LEXICAL_WEIGHT), (&dense, DENSE_WEIGHT)]),
            [3, 1, 2, 4, 5]
        );
        // A lighter third ranking that agrees with one of them lifts its entry over the entries
        // that only one ranking put first; alone it would not.
        let by_name = [(0.9, doc(5))];
        let with_names = [
            (&lexical[..], LEXICAL_WEIGHT),
            (&dense[..], DENSE_WEIGHT),
            (&by_name[..], NAME_WEIGHT),
        ];
        assert_eq!(order(&with_names), [3, 5, 1, 2, 4]);
        let by_name = [(0.9, doc(6))];
        let with_names = [
            (&lexical[..], LEXICAL_WEIGHT),
            (&dense[..], DENSE_WEIGHT),
            (&by_name[..], NAME_WEIGHT),
        ];
        assert_eq!(order(&with_names)[..3], [3, 1, 2]);
    }
}
