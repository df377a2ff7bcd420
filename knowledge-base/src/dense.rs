//! Dense retrieval: nearest passages by embedding, next to tantivy's lexical search.
//!
//! Each entry's vector is stored *in the tantivy document* (the `embedding` bytes field), so a
//! vector is committed, replaced and deleted together with its entry: a search can never see an
//! entry without its vector or a vector of a deleted entry, whatever an import is doing.
//!
//! Reading stored documents is far too slow for query time, so [`DenseVectors`] is a tantivy
//! [`Warmer`]: whenever the reader opens a new searcher generation (after a commit or a merge), the
//! vectors of each *new* segment are decoded once into a contiguous matrix, before the generation
//! is published to searches. Segments are immutable, so a matrix keyed by segment id stays valid
//! until the segment is merged away; deletions are applied at query time from the segment's alive
//! bitset. The search itself is a brute-force dot product (vectors are L2-normalised, so this is the
//! cosine): ~5,000 entries x 384 dimensions is about 2 million multiply-adds, well under a
//! millisecond, which beats any approximate index at this size and is exact.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tantivy::index::SegmentId;
use tantivy::schema::{Field, Value};
use tantivy::{DocAddress, Searcher, SearcherGeneration, TantivyDocument, Warmer};

use crate::embed::ModelId;

/// Store blocks kept decompressed while a segment's vectors are read (each block holds many docs).
const STORE_CACHE_BLOCKS: usize = 32;

/// The vectors of one segment, as a row-major `max_doc x dim` matrix: the entries' passage vectors
/// here, their names' in [`crate::name_ranking`].
pub(crate) struct SegmentVectors {
    dim: usize,
    /// Zeros where a document has no vector (imported while no embedding model was available).
    matrix: Vec<f32>,
    present: Vec<bool>,
}

impl SegmentVectors {
    /// The matrix of one vector (or none) per document, in document order; vectors of another
    /// length than the last one count as missing.
    pub fn from_rows(rows: Vec<Option<Vec<f32>>>) -> Self {
        let dim = rows
            .iter()
            .rev()
            .find_map(|row| row.as_ref().map(Vec::len))
            .unwrap_or(0);
        let mut matrix = vec![0.0; rows.len() * dim];
        let mut present = vec![false; rows.len()];
        for (doc, row) in rows.into_iter().enumerate() {
            if let Some(v) = row.filter(|v| v.len() == dim) {
                matrix[doc * dim..(doc + 1) * dim].copy_from_slice(&v);
                present[doc] = true;
            }
        }
        SegmentVectors {
            dim,
            matrix,
            present,
        }
    }

    /// Merges this segment's (the `ordinal`-th of a searcher, read by `reader`) live documents
    /// into `best`, the `limit` nearest to `query` so far, best first, with their cosine.
    pub fn nearest(
        &self,
        ordinal: usize,
        reader: &tantivy::SegmentReader,
        query: &[f32],
        limit: usize,
        best: &mut Vec<(f32, DocAddress)>,
    ) {
        if self.dim != query.len() {
            return;
        }
        let alive = reader.alive_bitset();
        for (doc, row) in self.matrix.chunks_exact(self.dim).enumerate() {
            let doc = doc as u32;
            if !self.present[doc as usize] || alive.is_some_and(|a| a.is_deleted(doc)) {
                continue;
            }
            let score = dot(row, query);
            if best.len() == limit && best.last().is_some_and(|&(s, _)| s >= score) {
                continue;
            }
            let at = best.partition_point(|&(s, _)| s >= score);
            best.insert(at, (score, DocAddress::new(ordinal as u32, doc)));
            best.truncate(limit);
        }
    }
}

/// Per-segment vector matrices, maintained as a tantivy [`Warmer`]; see the module documentation.
pub(crate) struct DenseVectors {
    field: Field,
    /// Only vectors of this model are loaded; others (left by an earlier model) count as missing.
    /// `None` (lexical-only use) loads nothing.
    model: Option<ModelId>,
    segments: RwLock<HashMap<SegmentId, Arc<SegmentVectors>>>,
}

impl DenseVectors {
    pub fn new(field: Field, model: Option<ModelId>) -> Self {
        DenseVectors {
            field,
            model,
            segments: RwLock::new(HashMap::new()),
        }
    }

    /// The `limit` entries of `searcher` nearest to `query` (an L2-normalised vector), best first,
    /// with their cosine similarity. Entries without a vector are never returned.
    pub fn search(
        &self,
        searcher: &Searcher,
        query: &[f32],
        limit: usize,
    ) -> Vec<(f32, DocAddress)> {
        let segments = self.segments.read().unwrap_or_else(|p| p.into_inner());
        let mut best: Vec<(f32, DocAddress)> = Vec::with_capacity(limit + 1);
        for (ordinal, reader) in searcher.segment_readers().iter().enumerate() {
            let Some(vectors) = segments.get(&reader.segment_id()) else {
                // Only possible if warming failed; that was logged, lexical search still answers.
                continue;
            };
            vectors.nearest(ordinal, reader, query, limit, &mut best);
        }
        best
    }

    /// Number of live entries of `searcher` that have no vector.
    pub fn missing(&self, searcher: &Searcher) -> u64 {
        let segments = self.segments.read().unwrap_or_else(|p| p.into_inner());
        let mut missing = 0;
        for reader in searcher.segment_readers() {
            let alive = reader.alive_bitset();
            match segments.get(&reader.segment_id()) {
                Some(vectors) => {
                    missing += vectors
                        .present
                        .iter()
                        .enumerate()
                        .filter(|&(doc, &p)| !p && alive.is_none_or(|a| a.is_alive(doc as u32)))
                        .count() as u64;
                }
                None => missing += u64::from(reader.num_docs()),
            }
        }
        missing
    }

    fn load_segment(&self, reader: &tantivy::SegmentReader) -> tantivy::Result<SegmentVectors> {
        let store = reader.get_store_reader(STORE_CACHE_BLOCKS)?;
        let mut rows: Vec<Option<Vec<f32>>> = Vec::with_capacity(reader.max_doc() as usize);
        for doc in 0..reader.max_doc() {
            let stored: TantivyDocument = store.get(doc)?;
            let vector = stored
                .get_first(self.field)
                .and_then(|v| v.as_bytes())
                .and_then(|bytes| decode_stored(bytes, self.model?));
            rows.push(vector);
        }
        Ok(SegmentVectors::from_rows(rows))
    }
}

impl Warmer for DenseVectors {
    fn warm(&self, searcher: &Searcher) -> tantivy::Result<()> {
        if self.model.is_none() {
            return Ok(());
        }
        for reader in searcher.segment_readers() {
            let id = reader.segment_id();
            if self
                .segments
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(&id)
            {
                continue;
            }
            // A failure here must not fail the reload (the commit has landed; searches would stay
            // on the old generation): log it and leave the segment to lexical search.
            let vectors = match self.load_segment(reader) {
                Ok(vectors) => Arc::new(vectors),
                Err(error) => {
                    tracing::error!(segment = ?id, %error, "cannot load the segment's vectors; its entries are found lexically only");
                    continue;
                }
            };
            self.segments
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, vectors);
        }
        Ok(())
    }

    fn garbage_collect(&self, live_generations: &[&SearcherGeneration]) {
        let mut segments = self.segments.write().unwrap_or_else(|p| p.into_inner());
        segments.retain(|id, _| {
            live_generations
                .iter()
                .any(|g| g.segments().contains_key(id))
        });
    }
}

/// A vector as stored in the index: the [`ModelId`] of the model that made it, then the vector.
pub(crate) fn encode_stored(model: ModelId, vector: &[f32]) -> Vec<u8> {
    let mut bytes = model.0.to_vec();
    bytes.extend_from_slice(&encode(vector));
    bytes
}

/// The vector of a stored value if `model` made it (an index written with another model, or before
/// vectors carried their model, gives `None`: the entry is re-embedded by the next writer).
pub(crate) fn decode_stored(bytes: &[u8], model: ModelId) -> Option<Vec<f32>> {
    let (id, vector) = bytes.split_at_checked(model.0.len())?;
    if id != model.0 {
        return None;
    }
    decode(vector)
}

/// A vector as little-endian `f32`s.
pub(crate) fn encode(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Dot product; written over fixed-width chunks so that the compiler vectorises it.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0.0f32; LANES];
    let chunks = a.len() / LANES * LANES;
    for (ca, cb) in a[..chunks]
        .chunks_exact(LANES)
        .zip(b[..chunks].chunks_exact(LANES))
    {
        for i in 0..LANES {
            acc[i] += ca[i] * cb[i];
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let v = [0.25f32, -1.5, 3.0e-7, 0.0];
        assert_eq!(decode(&encode(&v)).as_deref(), Some(&v[..]));
        assert_eq!(decode(&[1, 2, 3]), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn stored_vectors_of_another_model_are_not_read() {
        let (ours, theirs) = (ModelId([1; 8]), ModelId([2; 8]));
        let v = [0.5f32, -0.5];
        let stored = encode_stored(ours, &v);
        assert_eq!(decode_stored(&stored, ours).as_deref(), Some(&v[..]));
        assert_eq!(decode_stored(&stored, theirs), None);
        // The format before vectors carried their model: bare floats.
        assert_eq!(decode_stored(&encode(&[0.1; 384]), ours), None);
        assert_eq!(decode_stored(&[1, 1], ours), None);
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
