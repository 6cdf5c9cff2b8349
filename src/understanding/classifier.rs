//! The learned part of the built-in understanding: a linear intent
//! classifier over hashed word and character n-grams (in the spirit of
//! fastText's supervised mode), trained by softmax regression.
//!
//! - **Features.** The padded folded text with SMS shorthand written out
//!   (the form the rules read): every word, every pair of neighbouring words
//!   and every byte 3- to 5-gram (so "anule", "annulé" and "annulez" share
//!   most of their features), hashed into [`BUCKETS`] buckets, each present
//!   feature weighted 1/√n.
//! - **Training** ([`train`]) is deterministic: a fixed-seed shuffle, a fixed
//!   number of epochs and a decaying step, so the same examples give the same
//!   bytes ([`Model::to_bytes`]). `nuru train-intent` writes the model the
//!   binary ships (`intent-model.bin`); a test retrains it and compares.
//! - **Prediction** ([`Model::probabilities`]) is a few hundred hashed
//!   lookups and a softmax over twelve classes: microseconds, no allocation
//!   beyond the feature list, no server.
//!
//! How its answer is combined with the rules is decided by `policy`, outside this module.

use super::Intent;

/// Hash buckets (a power of two). Measured in `docs/understanding.md`.
pub const BUCKETS: usize = 1 << 14;
const CLASSES: usize = Intent::ALL.len();
const MAGIC: &[u8; 8] = b"NURUINT1";

/// Hyper-parameters of [`train`].
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub epochs: u32,
    pub learning_rate: f32,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Self {
        Params { epochs: 30, learning_rate: 2.0, seed: 0x6e75_7275 }
    }
}

/// Weights per bucket and class, and a bias per class.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    weights: Vec<f32>,
    bias: [f32; CLASSES],
}

fn fnv_step(h: u32, b: u8) -> u32 {
    (h ^ b as u32).wrapping_mul(0x0100_0193)
}

/// FNV-1a over a kind byte and parts separated by 0xff.
fn fnv(kind: u8, parts: &[&[u8]]) -> u32 {
    let mut h = fnv_step(0x811c_9dc5, kind);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h = fnv_step(h, 0xff);
        }
        h = part.iter().fold(h, |h, &b| fnv_step(h, b));
    }
    h
}

/// The hashed features of a padded text (" mots separes par un espace "),
/// sorted and without repeats.
pub fn features(padded: &str, out: &mut Vec<u32>) {
    out.clear();
    let mask = (BUCKETS - 1) as u32;
    let mut previous: &[u8] = b"<s>";
    for word in padded.split(' ').filter(|w| !w.is_empty()) {
        let w = word.as_bytes();
        out.push(fnv(b'w', &[w]) & mask);
        out.push(fnv(b'b', &[previous, w]) & mask);
        previous = w;
    }
    out.push(fnv(b'b', &[previous, b"</s>"]) & mask);
    // Byte 3-, 4- and 5-grams from each start, hashed incrementally: the
    // 4-gram's hash continues the 3-gram's (the same values as hashing each
    // gram on its own).
    let bytes = padded.as_bytes();
    for start in 0..bytes.len() {
        let mut h = fnv(b'c', &[]);
        for (k, &b) in bytes[start..bytes.len().min(start + 5)].iter().enumerate() {
            h = fnv_step(h, b);
            if k >= 2 {
                out.push(h & mask);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

fn softmax(scores: &mut [f32; CLASSES]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in scores.iter_mut() {
        *s /= sum;
    }
}

fn index(intent: Intent) -> usize {
    Intent::ALL.iter().position(|&i| i == intent).expect("every intent is in ALL")
}

impl Model {
    fn scores(&self, features: &[u32]) -> [f32; CLASSES] {
        let mut scores = self.bias;
        if features.is_empty() {
            return scores;
        }
        let value = 1.0 / (features.len() as f32).sqrt();
        for &f in features {
            let row = &self.weights[f as usize * CLASSES..(f as usize + 1) * CLASSES];
            for (s, w) in scores.iter_mut().zip(row) {
                *s += w * value;
            }
        }
        scores
    }

    /// The probability of each intent, in [`Intent::ALL`]'s order.
    pub fn probabilities(&self, padded: &str) -> [f32; CLASSES] {
        thread_local! {
            static BUFFER: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUFFER.with(|b| {
            let mut f = b.borrow_mut();
            features(padded, &mut f);
            let mut s = self.scores(&f);
            softmax(&mut s);
            s
        })
    }

    /// The most probable intent and its probability.
    pub fn predict(&self, padded: &str) -> (Intent, f32) {
        best(&self.probabilities(padded))
    }

    /// The model as bytes: magic, bucket count, then bias and weights as
    /// little-endian `f32` quantised to `i16` with one scale.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self.weights.iter().chain(self.bias.iter()).fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max == 0.0 { 1.0 } else { max / i16::MAX as f32 };
        let mut out = Vec::with_capacity(16 + (self.weights.len() + CLASSES) * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(BUCKETS as u32).to_le_bytes());
        out.extend_from_slice(&(CLASSES as u32).to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        for w in self.bias.iter().chain(self.weights.iter()) {
            out.extend_from_slice(&((w / scale).round() as i16).to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Model, String> {
        let header = 8 + 4 + 4 + 4;
        if bytes.len() < header || &bytes[..8] != MAGIC {
            return Err("not an intent model (bad magic)".into());
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
        let (buckets, classes) = (word(8) as usize, word(12) as usize);
        if buckets != BUCKETS || classes != CLASSES {
            return Err(format!("model has {buckets} buckets × {classes} classes, this build reads {BUCKETS} × {CLASSES}"));
        }
        let scale = f32::from_le_bytes(bytes[16..20].try_into().expect("four bytes"));
        let body = &bytes[header..];
        if body.len() != (BUCKETS + 1) * CLASSES * 2 {
            return Err(format!("model body is {} bytes, expected {}", body.len(), (BUCKETS + 1) * CLASSES * 2));
        }
        let values: Vec<f32> = body.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 * scale).collect();
        let mut bias = [0.0; CLASSES];
        bias.copy_from_slice(&values[..CLASSES]);
        Ok(Model { bias, weights: values[CLASSES..].to_vec() })
    }
}

/// The most probable class of a probability vector.
pub fn best(p: &[f32; CLASSES]) -> (Intent, f32) {
    let (i, &v) = p.iter().enumerate().fold((0, &f32::MIN), |a, b| if b.1 > a.1 { b } else { a });
    (Intent::ALL[i], v)
}

/// The probability `p` gives `intent`.
pub fn probability_of(p: &[f32; CLASSES], intent: Intent) -> f32 {
    p[index(intent)]
}

/// A small deterministic generator for the shuffle (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Trains a model on (padded text, intent) examples by stochastic gradient
/// descent on the softmax cross-entropy. Deterministic for given inputs.
pub fn train(examples: &[(String, Intent)], params: Params) -> Model {
    let mut model = Model { weights: vec![0.0; BUCKETS * CLASSES], bias: [0.0; CLASSES] };
    let prepared: Vec<(Vec<u32>, usize)> = examples
        .iter()
        .map(|(text, intent)| {
            let mut f = Vec::new();
            features(text, &mut f);
            (f, index(*intent))
        })
        .collect();
    let mut order: Vec<usize> = (0..prepared.len()).collect();
    let mut rng = Rng(params.seed);
    let total = (params.epochs as usize * prepared.len()).max(1) as f32;
    let mut step = 0usize;
    for _ in 0..params.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
        }
        for &e in &order {
            let (features, gold) = &prepared[e];
            let rate = params.learning_rate * (1.0 - step as f32 / total);
            step += 1;
            let mut p = model.scores(features);
            softmax(&mut p);
            p[*gold] -= 1.0;
            let value = if features.is_empty() { 0.0 } else { 1.0 / (features.len() as f32).sqrt() };
            for (b, g) in model.bias.iter_mut().zip(p.iter()) {
                *b -= rate * g;
            }
            for &f in features {
                let row = &mut model.weights[f as usize * CLASSES..(f as usize + 1) * CLASSES];
                for (w, g) in row.iter_mut().zip(p.iter()) {
                    *w -= rate * g * value;
                }
            }
        }
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(s: &str) -> String {
        format!(" {s} ")
    }

    #[test]
    fn features_are_sorted_unique_and_include_words_pairs_and_grams() {
        let mut f = Vec::new();
        features(" annule mon rdv ", &mut f);
        assert!(f.iter().zip(f.iter().skip(1)).all(|(a, b)| a < b));
        let mut g = Vec::new();
        features(" anule mon rdv ", &mut g);
        let shared = f.iter().filter(|x| g.binary_search(x).is_ok()).count();
        assert!(shared * 2 > f.len(), "a misspelling keeps most features: {shared} of {}", f.len());
    }

    #[test]
    fn it_learns_a_separable_toy_set_and_survives_its_bytes() {
        let examples: Vec<(String, Intent)> = [
            ("annuler mon rdv", Intent::CancelAppointment),
            ("je veux annuler", Intent::CancelAppointment),
            ("cancel my appointment", Intent::CancelAppointment),
            ("je veux un rdv", Intent::BookAppointment),
            ("book an appointment", Intent::BookAppointment),
            ("un rendez vous svp", Intent::BookAppointment),
        ]
        .iter()
        .map(|(t, i)| (padded(t), *i))
        .collect();
        let model = train(&examples, Params::default());
        assert_eq!(model.predict(&padded("annuler svp")).0, Intent::CancelAppointment);
        assert_eq!(model.predict(&padded("rendez vous demain")).0, Intent::BookAppointment);
        let back = Model::from_bytes(&model.to_bytes()).unwrap();
        for (t, _) in &examples {
            assert_eq!(back.predict(t).0, model.predict(t).0);
        }
        assert_eq!(train(&examples, Params::default()).to_bytes(), model.to_bytes(), "training is deterministic");
    }

    #[test]
    fn a_damaged_model_is_refused_with_a_reason() {
        assert!(Model::from_bytes(b"garbage").unwrap_err().contains("magic"));
        let mut bytes = train(&[(padded("oui"), Intent::Affirmative)], Params::default()).to_bytes();
        bytes.truncate(bytes.len() - 2);
        assert!(Model::from_bytes(&bytes).unwrap_err().contains("expected"));
    }
}
