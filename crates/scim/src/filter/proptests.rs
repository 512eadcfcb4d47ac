//! Property tests: printing round-trips, and no input makes the parsers or the evaluator
//! panic (the style guide asks parsers to be fuzzed).

use super::*;
use crate::ScimError;
use crate::path::{PatchPath, parse_path};
use proptest::prelude::*;
use serde_json::{Number, Value};

fn attr_name() -> BoxedStrategy<String> {
    prop_oneof![
        8 => "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
        1 => Just("$ref".to_string()),
        1 => prop::sample::select(vec!["not", "and", "or", "pr", "eq", "true", "null", "urn"])
            .prop_map(String::from),
    ]
    .boxed()
}

fn urn() -> BoxedStrategy<String> {
    prop_oneof![
        "[uU][rR][nN](:[a-zA-Z0-9.!$&'*+,;=@/~_-]{1,6}){1,5}",
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()),
    ]
    .boxed()
}

fn attr_path(names: BoxedStrategy<String>, urns: BoxedStrategy<String>) -> BoxedStrategy<AttrPath> {
    (
        prop::option::weighted(0.2, urns),
        names.clone(),
        prop::option::of(names),
    )
        .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
        .boxed()
}

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        1 => Just(CompValue::Null),
        1 => any::<bool>().prop_map(CompValue::Bool),
        1 => any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        1 => any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        1 => any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        4 => any_string().prop_map(CompValue::Str),
        1 => Just(CompValue::Str("2011-05-13T04:42:34Z".into())),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

/// A comparison or `pr`, with only operator/value pairs the grammar allows.
fn leaf(paths: BoxedStrategy<AttrPath>) -> BoxedStrategy<Filter> {
    prop_oneof![
        (paths.clone(), op(), comp_value()).prop_map(|(path, op, value)| {
            let ordering = matches!(
                op,
                CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
            );
            let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
            let op = match value {
                CompValue::Null | CompValue::Bool(_) if ordering || substring => CompareOp::Eq,
                CompValue::Number(_) if substring => CompareOp::Gt,
                _ => op,
            };
            Filter::Compare { path, op, value }
        }),
        paths.prop_map(Filter::Present),
    ]
    .boxed()
}

fn logic(leaves: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaves
        .prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
}

/// Filters over the given names, with value paths (which do not nest).
fn filter_over(names: BoxedStrategy<String>, urns: BoxedStrategy<String>) -> BoxedStrategy<Filter> {
    let paths = attr_path(names.clone(), urns.clone());
    let value_path = (
        attr_path(names.clone(), urns).prop_map(|p| AttrPath { sub: None, ..p }),
        logic(leaf(
            attr_path(names, Just(String::new()).boxed())
                .prop_map(|p| AttrPath { urn: None, ..p })
                .boxed(),
        )),
    )
        .prop_map(|(path, f)| Filter::ValuePath {
            path,
            filter: Box::new(f),
        });
    logic(prop_oneof![3 => leaf(paths), 1 => value_path].boxed())
}

pub(crate) fn filter() -> BoxedStrategy<Filter> {
    filter_over(attr_name(), urn())
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    (
        attr_path(attr_name(), urn()),
        prop::option::of((
            filter_over(attr_name(), urn()).prop_filter("no value path", |f| !has_value_path(f)),
            prop::option::of(attr_name()),
        )),
    )
        .prop_map(|(attr, filtered)| match filtered {
            None => PatchPath {
                attr,
                filter: None,
                value_sub: None,
            },
            Some((filter, value_sub)) => PatchPath {
                attr: AttrPath { sub: None, ..attr },
                filter: Some(filter),
                value_sub,
            },
        })
}

fn has_value_path(f: &Filter) -> bool {
    match f {
        Filter::And(l, r) | Filter::Or(l, r) => has_value_path(l) || has_value_path(r),
        Filter::Not(inner) => has_value_path(inner),
        Filter::ValuePath { .. } => true,
        Filter::Compare { .. } | Filter::Present(_) => false,
    }
}

/// Strings assembled from pieces of the grammar, so that inputs get deep into the parser.
pub(crate) fn grammarish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "eq", "NE", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "and", "OR", "not", "(", ")",
        "[", "]", "\"", "\\", "\\u", "d83d", "\"x\"", "urn:", "urn:a:b:", ":", ".", "..", " ",
        "  ", "\t", "\n", "userName", "emails", "value", "$ref", "true", "null", "-", "1", "1e5",
        "0.5", "é", "😀", "名", "\u{0}", "\u{a0}", "\u{2028}",
    ]);
    prop::collection::vec(pieces, 0..40).prop_map(|v| v.concat())
}

fn json() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "a", "A", "b", "emails", "EMAILS", "value", "type", "$ref", "urn:x:y", "userName", "",
    ])
    .prop_map(String::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9@. é:-]{0,8}".prop_map(Value::from),
        Just(Value::from("2011-05-13T04:42:34Z")),
    ];
    leaf.prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Names that appear as keys in `json()`, so evaluation takes every branch.
fn json_names() -> BoxedStrategy<String> {
    prop::sample::select(vec![
        "a", "b", "emails", "value", "type", "$ref", "userName", "missing",
    ])
    .prop_map(String::from)
    .boxed()
}

pub(crate) fn check_reparses(f: &Filter) -> Result<(), TestCaseError> {
    let printed = f.to_string();
    if printed.len() <= MAX_FILTER_LEN {
        let again = parse(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&again, f, "{}", printed);
        prop_assert_eq!(again.to_string(), printed);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn printed_filters_reparse(f in filter()) {
        check_reparses(&f)?;
    }

    #[test]
    fn printed_paths_reparse(p in patch_path()) {
        let printed = p.to_string();
        prop_assert_eq!(parse_path(&printed).map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?, p);
    }

    #[test]
    fn printed_attr_paths_reparse(a in attr_path(attr_name(), urn())) {
        prop_assert_eq!(parse_attr_path(&a.to_string())?, a);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>()) {
        fuzz(&s)?;
    }

    #[test]
    fn grammarish_strings_never_panic(s in grammarish()) {
        fuzz(&s)?;
    }

    #[test]
    fn mutated_filters_never_panic(f in filter(), cut in any::<prop::sample::Index>(), insert in grammarish()) {
        fuzz_mutated(&f.to_string(), cut, &insert)?;
    }

    #[test]
    fn eval_never_panics(
        f in filter_over(json_names(), Just("urn:x:y".to_string()).boxed()),
        v in json(),
        exact in any::<bool>(),
    ) {
        let direct = eval(&f, &v, &|_| exact);
        // `not` really negates.
        prop_assert_eq!(eval(&Filter::Not(Box::new(f.clone())), &v, &|_| exact), !direct);
        for element in v.as_object().into_iter().flat_map(|m| m.values()) {
            eval(&f, element, &|_| exact);
        }
    }
}

/// Fuzzes `text` with `insert` spliced in at `cut`, and `text` cut short there.
pub(crate) fn fuzz_mutated(
    text: &str,
    cut: prop::sample::Index,
    insert: &str,
) -> Result<(), TestCaseError> {
    let mut at = cut.index(text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    fuzz(&format!("{}{insert}{}", &text[..at], &text[at..]))?;
    fuzz(&text[..at])
}

/// Runs every parser on `s`; whatever parses must print and re-parse to itself, and every
/// error must be of the parser's own kind.
pub(crate) fn fuzz(s: &str) -> Result<(), TestCaseError> {
    match parse(s) {
        Ok(f) => check_reparses(&f)?,
        Err(e) => prop_assert!(matches!(e, ScimError::InvalidFilter(_)), "{:?}", e),
    }
    match parse_path(s) {
        Ok(p) => prop_assert_eq!(parse_path(&p.to_string())?, p),
        Err(e) => prop_assert!(matches!(e, ScimError::InvalidPath(_)), "{:?}", e),
    }
    match parse_attr_path(s) {
        Ok(a) => prop_assert_eq!(parse_attr_path(&a.to_string())?, a),
        Err(e) => prop_assert!(matches!(e, ScimError::InvalidFilter(_)), "{:?}", e),
    }
    Ok(())
}
