//! The one case-insensitive key of a string, for uniqueness and for every comparison of
//! attributes that are not `caseExact` (RFC 7643 §2.1).
//!
//! Simple lower-casing misses letters whose case forms differ in length or position:
//! `groß` and `GROSS`, final and medial sigma (`ΣΑΣ`, `σας`, `σασ`), and a letter
//! spelled composed (`é`, U+00E9) or decomposed (`e` + U+0301). The key is the Unicode
//! canonical caseless form (Unicode §3.13, D145: NFD, full case folding, NFD again),
//! kept in NFC so it stays short and readable.

use icu_casemap::CaseMapper;
use icu_normalizer::{ComposingNormalizer, DecomposingNormalizer};

/// The canonical caseless key of `s`: two strings are equal ignoring case and Unicode
/// spelling exactly when their keys are equal. Idempotent: `fold_key(fold_key(s))` is
/// `fold_key(s)`.
pub fn fold_key(s: &str) -> String {
    // Most names are ASCII, where both normalisations do nothing and folding is
    // lower-casing: every write folds each string of the document.
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    fold_unicode(s)
}

fn fold_unicode(s: &str) -> String {
    // Folding a decomposed string and composing again: case folding is defined on
    // decomposed text (U+0345 and letters with several marks fold correctly only there).
    let nfd = DecomposingNormalizer::new_nfd().normalize(s);
    let folded = CaseMapper::new().fold_string(&nfd);
    ComposingNormalizer::new_nfc()
        .normalize(&folded)
        .into_owned()
}

/// Whether `a` and `b` are equal ignoring case and Unicode spelling.
pub fn fold_eq(a: &str, b: &str) -> bool {
    a == b || fold_key(a) == fold_key(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases = [
            ("bjensen@example.com", "BJensen@Example.COM"),
            // Final, medial and capital sigma.
            ("σασ@c.com", "ΣΑΣ@c.com"),
            ("σας@c.com", "ΣΑΣ@c.com"),
            // Sharp s folds to "ss" (full folding; simple lower-casing keeps it).
            ("groß@c.com", "GROSS@c.com"),
            ("groß@c.com", "GROẞ@c.com"),
            // Composed and decomposed é.
            ("\u{e9}mile", "e\u{301}mile"),
            ("\u{c9}MILE", "e\u{301}mile"),
            // Angstrom sign and A with ring above are canonically equivalent.
            ("\u{212b}", "\u{e5}"),
            // Kelvin sign folds to k.
            ("\u{212a}", "k"),
            // Ligature ﬁ folds to "fi".
            ("\u{fb01}le", "FILE"),
            // Iota subscript (U+0345) folds to iota only in decomposed text.
            ("\u{1fb3}", "\u{3b1}\u{3b9}"),
            ("\u{1fbc}", "\u{3b1}\u{3b9}"),
        ];
        for (a, b) in cases {
            assert_eq!(fold_key(a), fold_key(b), "{a:?} vs {b:?}");
            assert!(fold_eq(a, b), "{a:?} vs {b:?}");
        }
        let distinct = [
            ("alice", "alicE2"),
            ("e\u{301}", "e"),
            ("ı", "i"),
            ("straße", "strase"),
        ];
        for (a, b) in distinct {
            assert_ne!(fold_key(a), fold_key(b), "{a:?} vs {b:?}");
            assert!(!fold_eq(a, b), "{a:?} vs {b:?}");
        }
        assert_eq!(fold_key("GROß@C.COM"), "gross@c.com");
        assert_eq!(fold_key("e\u{301}"), "\u{e9}", "the key is NFC");
        assert_eq!(fold_key(""), "");
    }

    proptest! {
        #[test]
        fn idempotent(s in "\\PC{0,24}") {
            let k = fold_key(&s);
            prop_assert_eq!(fold_key(&k), k);
        }

        #[test]
        fn the_ascii_shortcut_agrees(s in "[\\x00-\\x7f]{0,32}") {
            prop_assert_eq!(fold_key(&s), fold_unicode(&s));
        }
    }
}
