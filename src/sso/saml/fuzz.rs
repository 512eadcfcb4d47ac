//! The standing fuzz check of the SAML Response reader (issue 16 point 15), through its
//! public entry points only (`decode_base64`, `verify`). The corpus is
//! `tests/fuzz-corpus/saml/`: a Response signed (assertion signature, exclusive c14n) with
//! the key of `tests/fuzz-corpus/saml-idp-cert.pem`, and hostile variants of it (comments
//! and CDATA in signed text, wrapped assertions, DTDs, NUL). The invariant: the reader
//! never panics, and whatever it accepts says exactly what the signed original says, so
//! no mutation can change who signs in.

use super::response::{Expected, Rejected, VerifiedAssertion, decode_base64, verify};
use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use time::macros::datetime;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus")
}

static CERTIFICATE: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let pem = std::fs::read_to_string(corpus_dir().join("saml-idp-cert.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
});

static SIGNED: LazyLock<String> = LazyLock::new(|| {
    std::fs::read_to_string(corpus_dir().join("saml/signed-response.xml")).unwrap()
});

/// What the signed original says: the only thing a variant may be accepted as.
static ORIGINAL: LazyLock<VerifiedAssertion> =
    LazyLock::new(|| verify(&SIGNED, &expected()).unwrap());

fn expected() -> Expected<'static> {
    Expected {
        idp_entity_id: "https://idp.example",
        certificates: std::slice::from_ref(&*CERTIFICATE),
        allow_sha1: false,
        entity_id: "https://sp.example/metadata",
        acs_url: "https://sp.example/acs",
        // Inside the fixture's validity window.
        now: datetime!(2026-01-01 00:01:00 UTC),
    }
}

/// `xml` is refused, or read as exactly the signed original.
fn check(xml: &str) -> Result<Option<Rejected>, TestCaseError> {
    match verify(xml, &expected()) {
        Ok(read) => {
            prop_assert_eq!(&read, &*ORIGINAL);
            Ok(None)
        }
        Err(rejected) => Ok(Some(rejected)),
    }
}

fn corpus() -> Vec<(String, String)> {
    let dir = corpus_dir().join("saml");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            (name, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_saml_corpus_replays_safely() {
    assert_eq!(ORIGINAL.name_id.as_deref(), Some("alice@x.evil.com"));
    for (name, xml) in corpus() {
        let outcome = check(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        // Every variant that changes what is signed, or how, is refused.
        let must_refuse = [
            "changed-nameid.xml",
            "comment-truncates-nameid.xml",
            "signature-value-flipped.xml",
            "unsigned.xml",
            "wrapped-second-assertion.xml",
            "doctype-entity.xml",
            "sha1-signature.xml",
            "other-destination.xml",
            "other-in-response-to.xml",
            "truncated.xml",
            "empty.xml",
            "not-xml.xml",
        ];
        if must_refuse.contains(&name.as_str()) {
            assert!(outcome.is_some(), "{name} was accepted");
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(&xml);
        assert_eq!(
            decode_base64(&encoded).as_deref(),
            Ok(xml.as_str()),
            "{name}"
        );
    }
    let huge = SIGNED.replace("eng &amp; ops", &"x".repeat(1_000_000));
    assert!(check(&huge).unwrap().is_some());
    let deep = SIGNED.replace(
        "<saml:Subject>",
        &format!("{}<saml:Subject>", "<x>".repeat(100_000)),
    );
    assert!(check(&deep).unwrap().is_some());
}

/// Pieces a hostile IdP or a man in the middle would splice into a Response.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "<!---->",
            "<!-- x -->",
            "<![CDATA[x]]>",
            "<![CDATA[",
            "]]>",
            "\u{0}",
            "\u{1}",
            "&amp;",
            "&#0;",
            "&e;",
            "<",
            ">",
            "\"",
            "'",
            " ID=\"a1\"",
            "<saml:Assertion ID=\"a2\"/>",
            "<saml:NameID>admin@x</saml:NameID>",
            "<?pi x?>",
            "<!DOCTYPE r>",
            " xmlns:saml=\"urn:evil\"",
            "admin",
            "W/\"99\"\u{e9}",
        ])
        .prop_map(String::from),
        "\\PC{0,8}",
    ]
}

/// A structured change to `text`: a piece spliced in, a range cut out, or one character
/// replaced.
fn mutate(text: &str) -> impl Strategy<Value = String> + use<> {
    let text = text.to_owned();
    (
        0..3u8,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        piece(),
    )
        .prop_map(move |(how, a, b, piece)| {
            let at = |i: prop::sample::Index| {
                let mut at = i.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                at
            };
            let (x, y) = (at(a), at(b));
            let (lo, hi) = (x.min(y), x.max(y));
            match how {
                0 => format!("{}{piece}{}", &text[..lo], &text[lo..]),
                1 => format!("{}{}", &text[..lo], &text[hi..]),
                _ => {
                    let next = text[lo..].chars().next().map_or(0, char::len_utf8);
                    let with: String = piece.chars().take(1).collect();
                    format!("{}{with}{}", &text[..lo], &text[lo + next..])
                }
            }
        })
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn fuzz(cases: u32) {
    let seeds: Vec<String> = corpus().into_iter().map(|(_, xml)| xml).collect();
    let mutated = prop::sample::select(seeds).prop_flat_map(|seed| mutate(&seed));
    runner(cases)
        .run(&mutated, |xml| check(&xml).map(drop))
        .unwrap();
    runner(cases / 10)
        .run(&any::<String>(), |s| {
            prop_assert!(check(&s)?.is_some());
            let _ = decode_base64(&s);
            Ok(())
        })
        .unwrap();
}

#[test]
fn mutated_responses_are_refused_or_read_as_signed() {
    fuzz(256);
}

#[test]
#[ignore = "the standing fuzz run: .ci/run runs it with --ignored"]
fn standing_saml_fuzz() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    fuzz(cases);
}
