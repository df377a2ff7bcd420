//! A third ranking for questions written in another language than the guides: entries by how close
//! their *name* alone is to the question.
//!
//! An English question reaches the Chinese guides through its translation by the chat model, which
//! the chat puts before the question ("我想报废旧摩托车 I want to scrap my old motorbike"). BM25
//! then matches the few Chinese words the translation got right, and the entry vectors
//! ([`crate::dense`]) are embedded from a name *and* an agency, conditions and materials, which the
//! loose cross-lingual match of e5-small drowns in. A service item's name is short and says what the
//! service is, so the mixed query's cosine to each name, ranked over every entry, finds items that
//! neither ranking put near the top. [`crate::title_match`] already compares names, but only among
//! the first hits, and cannot bring up one from below.
//!
//! For Chinese questions the same ranking costs more than it finds (the lexical ranking already
//! matches names exactly; simulated on 665 Chinese questions of six sets it lost 4–7 at every
//! weight tried), so the knowledge base uses it only for mostly-Latin queries ([`mostly_latin`]).
//! Staff passages take no part: their "name" is their report's title, shared by all of a report's
//! passages (their own vector, ranked here a second time, lost English staff questions to report
//! 003's garbled passages).
//!
//! Measured with `runtime/examples/english_queries.rs` (the chat's translated query) and
//! `govassist kb eval`, at the weight chosen ([`crate::search`]'s `NAME_WEIGHT`, 0.5; 1.0 gained two
//! more English questions and lost two staff ones): over the 167 English service questions of
//! `en_dev` and retrieval holdouts 6–9 and `devmix_1`, recall@1 0.539 → 0.575 and recall@5 0.737 →
//! 0.796 (the untranslated questions 0.425 → 0.467, 0.611 → 0.725); gains in four of the six sets,
//! no loss in any. The first query after a start or an import reads the names (~50 ms).
//! The 240 staff questions: recall@1 0.8125 → 0.808, recall@5 unchanged. The 12 English questions of
//! the fresh `devmix_2`: recall@1 0.5 both, recall@5 0.833 → 0.917.
//!
//! The names' vectors are the ones imports put into the vector cache beside the entries'
//! ([`crate::KnowledgeBase`]); a name missing from the cache is left out rather than embedded at
//! query time (4,000 names would take a minute). Like [`crate::dense`], vectors are kept per
//! segment (segments are immutable) and deletions are applied at query time; a segment's matrix is
//! built the first time a query needs it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tantivy::index::SegmentId;
use tantivy::{DocAddress, Searcher, TantivyDocument};

use crate::dense::SegmentVectors;
use crate::index::KbIndex;
use crate::title_match::named_by_title;
use crate::KbError;

/// Store blocks kept decompressed while a segment's names are read.
const STORE_CACHE_BLOCKS: usize = 32;

/// Whether `query` is written mostly in Latin letters: more ASCII letters than Chinese characters
/// (a translation of a sentence is far shorter in characters than the sentence in letters).
pub fn mostly_latin(query: &str) -> bool {
    let latin = query.chars().filter(char::is_ascii_alphabetic).count();
    let han = query
        .chars()
        .filter(|c| matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}'))
        .count();
    latin > han
}

/// Per-segment name matrices; see the module documentation.
#[derive(Default)]
pub(crate) struct NameRanking {
    segments: Mutex<HashMap<SegmentId, Arc<SegmentVectors>>>,
}

impl NameRanking {
    /// The `limit` entries of `searcher` whose name is nearest `query` (an L2-normalised query
    /// vector), best first, with the cosine. `name_vector` looks a name's vector up (the cache);
    /// it must not compute one.
    pub fn rank(
        &self,
        index: &KbIndex,
        searcher: &Searcher,
        query: &[f32],
        limit: usize,
        name_vector: impl Fn(&str) -> Option<Vec<f32>>,
    ) -> Result<Vec<(f32, DocAddress)>, KbError> {
        let segments = self.segments_of(index, searcher, &name_vector)?;
        let mut best: Vec<(f32, DocAddress)> = Vec::with_capacity(limit + 1);
        for (ordinal, (reader, names)) in
            searcher.segment_readers().iter().zip(&segments).enumerate()
        {
            names.nearest(ordinal, reader, query, limit, &mut best);
        }
        Ok(best)
    }

    /// The matrices of `searcher`'s segments, in its order: loaded ones reused, the others built
    /// now; those of segments no longer searched are dropped.
    fn segments_of(
        &self,
        index: &KbIndex,
        searcher: &Searcher,
        name_vector: &impl Fn(&str) -> Option<Vec<f32>>,
    ) -> Result<Vec<Arc<SegmentVectors>>, KbError> {
        // Held while a segment loads: a concurrent query would only load the same segment again.
        let mut segments = self.segments.lock().unwrap_or_else(|p| p.into_inner());
        let mut current = Vec::with_capacity(searcher.segment_readers().len());
        for reader in searcher.segment_readers() {
            let names = match segments.get(&reader.segment_id()) {
                Some(names) => names.clone(),
                None => {
                    let names =
                        Arc::new(load_segment(index, reader, name_vector).map_err(|e| {
                            KbError::index("reading the entries' names", &index.path, e)
                        })?);
                    segments.insert(reader.segment_id(), names.clone());
                    names
                }
            };
            current.push(names);
        }
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|r| r.segment_id())
            .collect();
        segments.retain(|id, _| live.contains(id));
        Ok(current)
    }
}

fn load_segment(
    index: &KbIndex,
    reader: &tantivy::SegmentReader,
    name_vector: &impl Fn(&str) -> Option<Vec<f32>>,
) -> tantivy::Result<SegmentVectors> {
    let store = reader.get_store_reader(STORE_CACHE_BLOCKS)?;
    let mut rows: Vec<Option<Vec<f32>>> = Vec::with_capacity(reader.max_doc() as usize);
    for doc in 0..reader.max_doc() {
        let stored: TantivyDocument = store.get(doc)?;
        let entry = index.fields.to_entry(&stored);
        // Staff passages and names missing from the cache have no row.
        rows.push(
            named_by_title(entry.kind)
                .then(|| name_vector(&entry.title))
                .flatten(),
        );
    }
    Ok(SegmentVectors::from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_record;

    /// Hand-made name vectors: each name points along its own axis, so the nearest name to a
    /// query vector is known.
    fn name_vector(name: &str) -> Option<Vec<f32>> {
        let axis = ["结婚登记", "护照申领", "驾驶证换证", "社保卡补领"]
            .iter()
            .position(|n| *n == name)?;
        let mut v = vec![0.0; 4];
        v[axis] = 1.0;
        Some(v)
    }

    fn ids(index: &KbIndex, ranked: &[(f32, DocAddress)]) -> Vec<String> {
        let searcher = index.reader.searcher();
        ranked
            .iter()
            .map(|&(_, a)| {
                index
                    .fields
                    .to_entry(&searcher.doc::<TantivyDocument>(a).unwrap())
                    .id
            })
            .collect()
    }

    #[test]
    fn entries_rank_by_their_name_and_deleted_or_unnamed_ones_never_do() {
        let dir = tempfile::tempdir().unwrap();
        let index = KbIndex::open(dir.path(), None).unwrap();
        let record = |line: &str| parse_record(line).unwrap();
        let items = [
            record(r#"{"id":"MR","事项名称":"结婚登记","受理条件":"双方到场"}"#),
            record(r#"{"id":"PP","事项名称":"护照申领","受理条件":"本人到场"}"#),
            record(r#"{"id":"DL","事项名称":"驾驶证换证","受理条件":"到期换证"}"#),
            // A name the cache does not hold takes no part.
            record(r#"{"id":"XX","事项名称":"未缓存的事项","受理条件":"无"}"#),
        ];
        index.replace(&items, &[None, None, None, None]).unwrap();
        let ranking = NameRanking::default();
        let query = [0.1, 0.9, 0.3, 0.0]; // nearest 护照, then 驾驶证, then 结婚
        let rank = |limit| {
            ranking
                .rank(&index, &index.reader.searcher(), &query, limit, name_vector)
                .unwrap()
        };
        assert_eq!(ids(&index, &rank(10)), ["PP", "DL", "MR"]);
        assert_eq!(ids(&index, &rank(1)), ["PP"]);

        // A deletion and an addition (a new segment) are seen by the next query.
        let changes = [
            record(r#"{"id":"PP","deleted":true}"#),
            record(r#"{"id":"SB","事项名称":"社保卡补领","受理条件":"挂失后补领"}"#),
        ];
        index.replace(&changes, &[None]).unwrap();
        let query = [0.0, 0.9, 0.3, 0.5];
        let ranked = ranking
            .rank(&index, &index.reader.searcher(), &query, 10, name_vector)
            .unwrap();
        assert_eq!(ids(&index, &ranked), ["SB", "DL", "MR"]);
    }

    #[test]
    fn english_with_its_translation_is_mostly_latin() {
        assert!(mostly_latin(
            "我想报废旧摩托车 I want to scrap my old two-stroke motorbike"
        ));
        assert!(mostly_latin("How do I renew my passport?"));
        assert!(!mostly_latin("护照过期了怎么换"));
        assert!(!mostly_latin("我想查一下ETC卡的ABC"));
        assert!(!mostly_latin("12345"));
    }
}
