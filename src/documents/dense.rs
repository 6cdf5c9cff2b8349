//! Dense vectors next to BM25: what an embedding model gives each passage
//! and question, how they are compared (cosine on unit vectors), stored
//! (little-endian `f32` bytes) and fused with the BM25 ranking (reciprocal
//! rank fusion). Pure: the model is called by `model::embed`, the vectors
//! are kept by storage or Qdrant.

/// A question and a passage this close (cosine, 0–1) are a confident match
/// on the dense side alone. Set for sentence-embedding models such as
/// all-MiniLM-L6-v2 and nomic-embed-text, where paraphrases of one question
/// score 0.7–0.9 and unrelated health texts 0.0–0.4.
pub const DENSE_CONFIDENT: f32 = 0.72;

/// Reciprocal rank fusion's constant (Cormack et al., 2009): a passage at
/// rank r in one list adds 1 / (RRF_K + r).
pub const RRF_K: f32 = 60.0;

/// The dense ranking's weight in the fusion unless configured
/// (`embedding_weight`); BM25's is 1.
pub const DEFAULT_WEIGHT: f32 = 1.0;

/// Candidates each side brings to the fusion.
pub const FUSION_DEPTH: usize = 50;

/// What is embedded for a passage: its document's title and section heading
/// give the model the context a bare passage lacks.
pub fn passage_text(title: &str, heading: Option<&str>, text: &str) -> String {
    match heading {
        Some(h) if !h.is_empty() => format!("{title}\n{h}\n{text}"),
        _ => format!("{title}\n{text}"),
    }
}

/// The vector scaled to unit length (a zero vector stays zero).
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The dot product, in eight independent sums so the compiler can use SIMD
/// (a single running sum of floats cannot be reordered).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail = n - n % 8;
    acc.iter().sum::<f32>() + a[tail..].iter().zip(&b[tail..]).map(|(x, y)| x * y).sum::<f32>()
}

/// A vector as stored: each component as 4 little-endian bytes.
pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A stored vector back; `None` for bytes that are not whole `f32`s.
pub fn from_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Fuses rankings (best first, each a list of item numbers) into one, best
/// first: each item scores the sum of 1 / (RRF_K + rank) over the lists it is
/// in; ties keep the order of the first list, then of the next.
pub fn fuse(rankings: &[&[u32]]) -> Vec<(u32, f32)> {
    let weighted: Vec<(&[u32], f32)> = rankings.iter().map(|r| (*r, 1.0)).collect();
    fuse_weighted(&weighted)
}

/// As [`fuse`], each list's contributions multiplied by its weight.
pub fn fuse_weighted(rankings: &[(&[u32], f32)]) -> Vec<(u32, f32)> {
    let mut scores: Vec<(u32, f32, usize)> = Vec::new();
    let mut at = std::collections::HashMap::new();
    let mut seen = 0usize;
    for (ranking, weight) in rankings {
        for (rank, id) in ranking.iter().enumerate() {
            let add = weight / (RRF_K + rank as f32 + 1.0);
            match at.get(id) {
                Some(&i) => {
                    let entry: &mut (u32, f32, usize) = &mut scores[i];
                    entry.1 += add;
                }
                None => {
                    at.insert(*id, scores.len());
                    scores.push((*id, add, seen));
                    seen += 1;
                }
            }
        }
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    scores.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_item_high_in_both_lists_beats_one_first_in_only_one() {
        let fused = fuse(&[&[1, 2, 3], &[2, 4, 1]]);
        assert_eq!(fused.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![2, 1, 4, 3]);
    }

    #[test]
    fn one_list_keeps_its_order() {
        assert_eq!(fuse(&[&[7, 3, 9]]).iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![7, 3, 9]);
        assert!(fuse(&[&[], &[]]).is_empty());
    }

    proptest! {
        #[test]
        fn stored_vectors_read_back_exactly(v in proptest::collection::vec(-10f32..10f32, 1..64)) {
            prop_assert_eq!(from_bytes(&to_bytes(&v)), Some(v));
        }

        #[test]
        fn dot_agrees_with_the_plain_sum(v in proptest::collection::vec((-10f32..10f32, -10f32..10f32), 0..70)) {
            let (a, b): (Vec<f32>, Vec<f32>) = v.into_iter().unzip();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            prop_assert!((dot(&a, &b) - plain).abs() <= 1e-3 * (1.0 + plain.abs()));
        }

        #[test]
        fn normalized_vectors_have_unit_length(v in proptest::collection::vec(-10f32..10f32, 1..64)) {
            let n = normalized(v.clone());
            if v.iter().any(|x| x.abs() > 1e-3) {
                prop_assert!((dot(&n, &n) - 1.0).abs() < 1e-4);
            }
        }

        #[test]
        fn fusion_returns_each_item_once(a in proptest::collection::vec(0u32..30, 0..20), b in proptest::collection::vec(0u32..30, 0..20)) {
            let mut a = a; a.dedup(); let a: Vec<u32> = a.into_iter().fold(Vec::new(), |mut acc, x| { if !acc.contains(&x) { acc.push(x) } acc });
            let b: Vec<u32> = b.into_iter().fold(Vec::new(), |mut acc, x| { if !acc.contains(&x) { acc.push(x) } acc });
            let fused = fuse(&[&a, &b]);
            let mut ids: Vec<u32> = fused.iter().map(|(id, _)| *id).collect();
            let n = ids.len();
            ids.sort(); ids.dedup();
            prop_assert_eq!(ids.len(), n);
            let mut all: Vec<u32> = a.iter().chain(&b).copied().collect(); all.sort(); all.dedup();
            prop_assert_eq!(ids, all);
        }
    }
}
