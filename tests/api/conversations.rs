//! The conversation-script runner's report, and transcript snapshots. Each
//! script itself is a test of its own in `tests/scripts.rs`.

#[test]
fn the_command_reports_and_fails_on_a_broken_script() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.toml"),
        "title = \"expects what never comes\"\n[[turns]]\nsay = \"Bonjour\"\nexpect = [\"this text is never sent\"]\n",
    )
    .unwrap();
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_nuru")).args(["test-conversations", dir.path().to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  broken.toml") && stdout.contains("this text is never sent"), "{stdout}");
}

/// Transcript snapshots of representative conversations (tests/api/snapshots):
/// any change to what a patient reads shows up in review.
#[tokio::test]
async fn transcripts_of_representative_conversations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/conversations");
    for name in [
        "001-book-new-patient-piece-by-piece",
        "004-known-patient-english",
        "006-emergency-mid-booking",
        "023-cancel-which-one",
        "030-move-no-time-given",
        "042-family-choose-patient",
        "019-sms-no-emoji",
    ] {
        let outcome = nuru::harness::scripts::run(&dir.join(format!("{name}.toml"))).await;
        assert!(outcome.failure.is_none(), "{name}: {:?}", outcome.failure);
        let mut transcript = format!("# {}\n", outcome.title);
        for (said, replies) in &outcome.transcript {
            transcript.push_str(&format!("\n> {said}\n"));
            for r in replies {
                transcript.push_str(&format!("{r}\n"));
            }
        }
        insta::assert_snapshot!(name, transcript);
    }
}
