//! Replays each IdP's recorded request sequences (conformance/) against a live server,
//! on both backends. A failure names the file, the step and what differed.

use crate::harness::TestApp;
use crate::replay;

async fn replay_family(app: &TestApp, family: &str) {
    let files = replay::conformance_files(Some(family)).unwrap();
    assert!(!files.is_empty(), "no conformance files for {family}");
    let mut failures = Vec::new();
    for file in &files {
        match replay::replay_file(&app.client, &app.base, &app.token, file).await {
            Ok(steps) => assert!(steps > 0, "{} ran no step", file.display()),
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {family} sequences failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

async fn okta_sequences(app: TestApp) {
    replay_family(&app, "okta").await;
}

async fn entra_sequences(app: TestApp) {
    replay_family(&app, "entra").await;
}

async fn google_sequences(app: TestApp) {
    replay_family(&app, "google").await;
}

crate::both_backends!(okta_sequences, entra_sequences, google_sequences);
