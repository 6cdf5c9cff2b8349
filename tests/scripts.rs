//! Every conversation script in `fixtures/conversations` is a test of its own,
//! named after its file, so a failing script shows its own name and transcript
//! (the same runner as `nuru test-conversations`).

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;

fn main() {
    let args = Arguments::from_args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/conversations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/conversations")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no conversation scripts in {}", dir.display());
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || run(&path))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn run(path: &std::path::Path) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let outcome = runtime.block_on(nuru::harness::scripts::run(path));
    match outcome.failure {
        None => Ok(()),
        Some(_) => Err(nuru::harness::scripts::report(std::slice::from_ref(&outcome), true).into()),
    }
}
