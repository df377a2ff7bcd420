//! A second look at the first hits: how close the question is to each hit's *name*.
//!
//! Guangdong's service items come in families whose names differ by one qualifier: 省内 / 出省
//! 《植物检疫证书》变更, 户口页借出 / 户口页归还, 执业药师首次注册 / 变更注册. The fused ranking
//! ([`crate::search`]) finds the family but often not the member: an item's vector is embedded
//! from its name *and* its agency, audience, conditions and materials, which are nearly the same
//! across the family, and BM25 sees the shared words. The name alone is where the members differ,
//! so the service items and FAQ entries among the first [`DEPTH`] hits are reordered by their fused
//! score plus [`WEIGHT`] × the cosine between the question's vector and the embedding of the name
//! alone (a `passage: ` embedding, like the entries').
//!
//! Staff-document passages keep their places: their "name" is the report's title, the same for
//! every passage of a report, and says nothing about which passage answers.
//!
//! Tuned on a question set written for it (`eval/retrieval_holdout.jsonl`, 200 questions) and
//! checked on the dev set and the staff questions: recall@1 0.750 → 0.785 on the first, 0.92 → 0.96
//! on the second, the staff questions unchanged (0.975). Weights from 0.3 to 0.4 give the same
//! figures, which is why the choice is not a fit to a few questions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::search::Hit;
use crate::DocKind;

/// How many of the first hits are reordered. The family members sit within the first few; going
/// deeper lets a far-down hit with a lucky name jump over the evidence of both rankings.
pub const DEPTH: usize = 5;

/// How much the name's cosine adds to a hit's fused score. Fused scores of neighbouring ranks
/// differ by ~0.002–0.01 (reciprocal-rank fusion, see [`crate::search`]); name cosines of a
/// family's members differ by ~0.01–0.05, so at 0.3 a clearly closer name outweighs one or two
/// ranks, not more.
pub const WEIGHT: f32 = 0.3;

/// Whether entries of this kind are named by their title (see the module documentation).
pub fn named_by_title(kind: DocKind) -> bool {
    kind != DocKind::StaffDoc
}

/// Name vectors computed so far, by name. Bounded by the number of distinct names in the index.
#[derive(Default)]
pub(crate) struct NameVectors {
    vectors: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

impl NameVectors {
    pub fn get(&self, name: &str) -> Option<Arc<Vec<f32>>> {
        self.lock().get(name).cloned()
    }

    pub fn insert(&self, name: &str, vector: Vec<f32>) -> Arc<Vec<f32>> {
        let vector = Arc::new(vector);
        self.lock().insert(name.to_owned(), vector.clone());
        vector
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<f32>>>> {
        // Only whole inserts happen under the lock: a poisoned map is still consistent.
        self.vectors.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Reorders the service items and FAQ entries among the first [`DEPTH`] `hits` (in place) by fused
/// score plus [`WEIGHT`] × cosine(`query`, their name's vector); other hits keep their places.
/// `name_vector` gives a name's unit vector, or `None` when it cannot (the hit then keeps its score).
pub fn rerank(hits: &mut [Hit], query: &[f32], mut name_vector: impl FnMut(&str) -> Option<Arc<Vec<f32>>>) {
    let depth = hits.len().min(DEPTH);
    let places: Vec<usize> = (0..depth).filter(|&i| named_by_title(hits[i].kind)).collect();
    if places.len() < 2 {
        return;
    }
    let mut movable: Vec<Hit> = places.iter().map(|&i| hits[i].clone()).collect();
    for hit in &mut movable {
        if let Some(vector) = name_vector(&hit.title) {
            hit.score += WEIGHT * vector.iter().zip(query).map(|(a, b)| a * b).sum::<f32>();
        }
    }
    // Stable: equal scores keep the fused order.
    movable.sort_by(|a, b| b.score.total_cmp(&a.score));
    for (place, hit) in places.into_iter().zip(movable) {
        hits[place] = hit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, kind: DocKind, score: f32) -> Hit {
        Hit {
            id: id.into(),
            doc_id: id.into(),
            kind,
            title: id.into(),
            passage: String::new(),
            score,
            url: None,
            phone: None,
            service: None,
        }
    }

    #[test]
    fn a_closer_name_moves_up_and_staff_passages_stay() {
        let mut hits = vec![
            hit("省内变更", DocKind::ServiceItem, 0.10),
            hit("report#1", DocKind::StaffDoc, 0.095),
            hit("出省变更", DocKind::ServiceItem, 0.09),
            hit("faq", DocKind::Faq, 0.05),
            hit("far", DocKind::ServiceItem, 0.04),
            hit("beyond the depth", DocKind::ServiceItem, 0.03),
        ];
        let query = [1.0, 0.0];
        let vector = |name: &str| -> Option<Arc<Vec<f32>>> {
            Some(Arc::new(match name {
                "出省变更" => vec![0.9, 0.436],
                "省内变更" => vec![0.8, 0.6],
                "beyond the depth" => vec![1.0, 0.0],
                _ => vec![0.0, 1.0],
            }))
        };
        rerank(&mut hits, &query, vector);
        let order: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(order, ["出省变更", "report#1", "省内变更", "faq", "far", "beyond the depth"]);
        // A name far from the question cannot jump more than a few ranks of fused evidence.
        assert!(hits[3].score > hits[4].score);
    }

    #[test]
    fn hits_without_a_name_vector_keep_their_order() {
        let mut hits = vec![hit("a", DocKind::ServiceItem, 0.1), hit("b", DocKind::Faq, 0.09)];
        rerank(&mut hits, &[1.0], |_| None);
        assert_eq!(hits[0].id, "a");
    }
}
