//! The standing fuzz check (issue 16 point 15): the corpus in `tests/corpus/` (inputs an
//! attack run sent) is replayed on every test run, and the `#[ignore]`d `standing_*`
//! properties run 100,000 cases each (or `PROPTEST_CASES`) in `.ci/run`. cargo-fuzz
//! needs a nightly compiler; proptest gives the same "no panic, invariant holds" check
//! on stable with structured generators.

use crate::filter::proptests::{filter, fuzz, fuzz_mutated, grammarish};
use crate::patch::tests::{arb_json, arb_op, body, check_atomic, reg};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The corpus files of one target, sorted by name: `(name, bytes)`.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

/// Filters too large to keep as files: built here, replayed with the corpus.
fn generated_filters() -> Vec<(String, String)> {
    let depth = crate::filter::MAX_FILTER_DEPTH;
    vec![
        (
            "1,000,000-char literal".into(),
            format!("displayName eq \"{}\"", "x".repeat(1_000_000)),
        ),
        ("100,000 open parentheses".into(), "(".repeat(100_000)),
        (
            "parentheses at the depth limit".into(),
            format!("{}title pr{}", "(".repeat(depth), ")".repeat(depth)),
        ),
        (
            "nots at the depth limit".into(),
            format!("{}title pr{}", "not (".repeat(depth), ")".repeat(depth)),
        ),
        (
            "10,000-term or chain".into(),
            vec!["title pr"; 10_000].join(" or "),
        ),
        (
            "nested value paths".into(),
            format!("{}x pr{}", "emails[".repeat(5_000), "]".repeat(5_000)),
        ),
    ]
}

/// PATCH bodies too large to keep as files.
fn generated_patches() -> Vec<(String, Value)> {
    let unknown: Map<String, Value> = (0..60_000)
        .map(|i| (format!("unknown{i}"), Value::from(i)))
        .collect();
    let op = |path: &str, value: Value| json!({"op": "add", "path": path, "value": value});
    vec![
        (
            "60,000 unknown attributes".into(),
            body(json!([{"op": "add", "value": unknown}])),
        ),
        (
            "1,000,000-char value".into(),
            body(json!([op(
                "displayName",
                Value::from("x".repeat(1_000_000))
            )])),
        ),
        (
            "1,001 operations".into(),
            body(Value::Array(vec![op("title", "t".into()); 1001])),
        ),
        (
            "10,000 emails".into(),
            body(json!([op(
                "emails",
                (0..10_000)
                    .map(|i| json!({"value": format!("e{i}@x.test")}))
                    .collect()
            )])),
        ),
    ]
}

#[test]
fn the_filter_corpus_replays_cleanly() {
    let files = corpus("filter")
        .into_iter()
        .map(|(name, bytes)| (name, String::from_utf8_lossy(&bytes).into_owned()));
    for (name, text) in files.chain(generated_filters()) {
        fuzz(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn the_patch_corpus_replays_atomically() {
    let r = reg();
    let files = corpus("patch").into_iter().map(|(name, bytes)| {
        let v = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        (name, v)
    });
    for (name, request) in files.chain(generated_patches()) {
        for group in [false, true] {
            check_atomic(&r, &request, group).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

/// Cases for a standing property: `PROPTEST_CASES`, or 100,000.
fn standing(name: &str) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    eprintln!("{name}: {cases} cases");
    TestRunner::new(Config {
        cases,
        // Failures are reported with their minimal input; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    })
}

/// A corpus entry with one structured change: a piece of grammar spliced in somewhere.
fn mutated_corpus_filter() -> impl Strategy<Value = (String, prop::sample::Index, String)> {
    let seeds: Vec<String> = corpus("filter")
        .into_iter()
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    (
        prop::sample::select(seeds),
        any::<prop::sample::Index>(),
        grammarish(),
    )
}

#[test]
#[ignore = "the standing fuzz run: .ci/run runs it with --ignored"]
fn standing_filter_fuzz() {
    standing("printed filters reparse")
        .run(&filter(), |f| fuzz(&f.to_string()))
        .unwrap();
    standing("mutated filters")
        .run(
            &(filter(), any::<prop::sample::Index>(), grammarish()),
            |(f, cut, insert)| fuzz_mutated(&f.to_string(), cut, &insert),
        )
        .unwrap();
    standing("mutated corpus filters")
        .run(&mutated_corpus_filter(), |(seed, cut, insert)| {
            fuzz_mutated(&seed, cut, &insert)
        })
        .unwrap();
    standing("arbitrary strings")
        .run(&any::<String>(), |s| fuzz(&s))
        .unwrap();
}

/// A corpus body with generated operations spliced into its `Operations`, or generated
/// operations alone.
fn patch_request() -> impl Strategy<Value = Value> {
    let seeds: Vec<Value> = corpus("patch")
        .into_iter()
        .map(|(_, b)| serde_json::from_slice(&b).unwrap())
        .collect();
    let ops = prop::collection::vec(prop_oneof![4 => arb_op(), 1 => arb_json()], 0..6);
    prop_oneof![
        ops.clone().prop_map(|ops| body(Value::Array(ops))),
        (
            prop::sample::select(seeds),
            ops,
            any::<prop::sample::Index>()
        )
            .prop_map(|(mut seed, extra, at)| {
                if let Some(Value::Array(list)) = seed.get_mut("Operations") {
                    let at = at.index(list.len() + 1);
                    list.splice(at..at, extra);
                }
                seed
            }),
    ]
}

#[test]
#[ignore = "the standing fuzz run: .ci/run runs it with --ignored"]
fn standing_patch_fuzz() {
    let r = reg();
    standing("PATCH requests")
        .run(&(patch_request(), any::<bool>()), |(request, group)| {
            check_atomic(&r, &request, group)
        })
        .unwrap();
}
