//! Reading scans and photos with Tesseract, an optional real component:
//! its command line (`tesseract stdin stdout -l fra+eng tsv`), fed the
//! image on standard input, read back as TSV (one row per word with its
//! confidence). Without the program, or when it fails on a file, the
//! document stays `needs_ocr` (stored, listed, not searchable), as before.
//!
//! The program runs with one thread (`OMP_THREAD_LIMIT=1`: a clinic's
//! server has few cores and turns to serve), a time limit per image, a cap
//! on what it may print, and is killed when the caller gives up.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one image read to: its text in lines and paragraphs, and the mean
/// confidence of its words (0–100, weighted by their length).
#[derive(Debug, Clone, PartialEq)]
pub struct OcrText {
    pub text: String,
    pub confidence: u8,
    pub words: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The program is not installed (or not where configured).
    #[error("the OCR program {0:?} is not installed")]
    Unavailable(String),
    #[error("the OCR program failed: {0}")]
    Failed(String),
    #[error("reading the image took more than {0} s")]
    TimedOut(u64),
}

/// Tesseract's command line.
#[derive(Debug, Clone)]
pub struct Tesseract {
    program: String,
    languages: String,
    timeout: Duration,
}

/// What the program may print for one image (a page of text is a few
/// tens of kilobytes of TSV).
const MAX_OUTPUT: usize = 4 * 1024 * 1024;

impl Tesseract {
    pub fn new(program: &str, languages: &str, timeout: Duration) -> Tesseract {
        Tesseract { program: program.to_string(), languages: languages.to_string(), timeout }
    }

    /// Reads one image (JPEG, PNG, PNM; what Leptonica reads).
    pub async fn read(&self, image: &[u8]) -> Result<OcrText, OcrError> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(["stdin", "stdout", "-l", &self.languages, "--psm", "3", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => OcrError::Unavailable(self.program.clone()),
                _ => OcrError::Failed(e.to_string()),
            })?;
        let (mut stdin, mut stdout, mut stderr) =
            (child.stdin.take().expect("piped"), child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let image = image.to_vec();
        let work = async move {
            // Written while the output is read: a large image does not wait on a full pipe.
            let feed = async move {
                let _ = stdin.write_all(&image).await;
                drop(stdin);
            };
            let mut out = Vec::new();
            let mut err = Vec::new();
            let read_out = async { (&mut stdout).take(MAX_OUTPUT as u64 + 1).read_to_end(&mut out).await };
            let read_err = async { (&mut stderr).take(64 * 1024).read_to_end(&mut err).await };
            let ((), o, _) = tokio::join!(feed, read_out, read_err);
            o.map_err(|e| OcrError::Failed(e.to_string()))?;
            let status = child.wait().await.map_err(|e| OcrError::Failed(e.to_string()))?;
            if out.len() > MAX_OUTPUT {
                return Err(OcrError::Failed(format!("more than {} MiB of output", MAX_OUTPUT >> 20)));
            }
            if !status.success() {
                let why = String::from_utf8_lossy(&err);
                let line = why.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
                return Err(OcrError::Failed(format!("{status}: {}", line.chars().take(200).collect::<String>())));
            }
            Ok(parse_tsv(&String::from_utf8_lossy(&out)))
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(OcrError::TimedOut(self.timeout.as_secs())),
        }
    }
}

/// Tesseract's TSV: `level page block par line word left top width height
/// conf text`; words are level 5 with a confidence of 0–100 (−1 for the
/// rows that are not words). Lines keep their words in order, blocks are
/// separated by a blank line. Anything else in the input is ignored.
pub fn parse_tsv(tsv: &str) -> OcrText {
    let mut text = String::new();
    let (mut weighted, mut weight, mut words) = (0.0_f64, 0.0_f64, 0usize);
    let mut last: Option<(&str, &str, &str, &str)> = None;
    for row in tsv.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let Ok(conf) = cols[10].trim().parse::<f64>() else { continue };
        let word = cols[11..].join(" ");
        let word = word.trim();
        if !(0.0..=100.0).contains(&conf) || word.is_empty() {
            continue;
        }
        let place = (cols[1], cols[2], cols[3], cols[4]);
        match last {
            Some(p) if p == place => text.push(' '),
            // A new line, or a new paragraph of the same block (Tesseract
            // often makes each line of a list its own paragraph): one line break.
            Some(p) if (p.0, p.1) == (place.0, place.1) => text.push('\n'),
            Some(_) => text.push_str("\n\n"),
            None => {}
        }
        last = Some(place);
        text.push_str(word);
        let w = word.chars().count() as f64;
        weighted += conf * w;
        weight += w;
        words += 1;
    }
    let confidence = if weight > 0.0 { (weighted / weight).round().clamp(0.0, 100.0) as u8 } else { 0 };
    OcrText { text, confidence, words }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEAD: &str = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext";

    #[test]
    fn words_become_lines_and_paragraphs_with_their_weighted_confidence() {
        let tsv = format!(
            "{HEAD}\n1\t1\t0\t0\t0\t0\t0\t0\t1400\t900\t-1\t\n\
             5\t1\t1\t1\t1\t1\t60\t50\t200\t40\t96.5\tTarifs\n\
             5\t1\t1\t1\t1\t2\t270\t50\t40\t40\t90\tde\n\
             5\t1\t1\t1\t2\t1\t60\t110\t200\t40\t80\tÉchographie\n\
             5\t1\t2\t1\t1\t1\t60\t300\t200\t40\t50\tPaiement\n\
             5\t1\t2\t1\t1\t2\t60\t300\t200\t40\t-1\t\n"
        );
        let r = parse_tsv(&tsv);
        assert_eq!(r.text, "Tarifs de\nÉchographie\n\nPaiement");
        assert_eq!(r.words, 4);
        // (96.5·6 + 90·2 + 80·11 + 50·8) / 27
        assert_eq!(r.confidence, 76);
        assert_eq!(parse_tsv(HEAD), OcrText { text: String::new(), confidence: 0, words: 0 });
    }

    proptest! {
        /// Whatever the program prints, reading it never fails and the
        /// confidence stays a percentage.
        #[test]
        fn any_output_is_read_without_panic(tsv in "([0-9\\-.a-zA-Zé \t]{0,40}\n){0,30}") {
            let r = parse_tsv(&tsv);
            prop_assert!(r.confidence <= 100);
            prop_assert!(r.words <= tsv.lines().count());
        }
    }
}
