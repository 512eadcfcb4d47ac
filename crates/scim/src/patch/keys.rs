//! Element identity as hashable keys, so that a PATCH adding or removing N values of a
//! multi-valued attribute looks each one up in a map instead of scanning the list: linear
//! in N rather than quadratic (10,000 emails took 3.5 s and held the writer).
//!
//! Two elements get the same key exactly when `value::same_element` holds, and a remove's
//! value names an element exactly when `value::identifies` holds.

use super::value::truthy;
use crate::schema::{AttrType, Attribute, find_attr};
use crate::text::fold_key;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

#[cfg(test)]
thread_local! {
    /// Element comparisons and key computations on this thread: what the tests count to
    /// tell linear from quadratic without a clock.
    pub(super) static WORK: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one unit of comparison work (tests only).
pub(super) fn tally() {
    #[cfg(test)]
    WORK.with(|w| w.set(w.get().saturating_add(1)));
}

/// One scalar as `same_scalar` compares it: booleans as booleans (Entra's `"True"`),
/// strings case-folded unless the attribute is caseExact, anything else as its JSON.
fn scalar(def: Option<&Attribute>, v: &Value) -> String {
    match def {
        Some(d) if d.kind == AttrType::Boolean => {
            if let Some(b) = truthy(v) {
                return format!("b{b}");
            }
        }
        Some(d) if !d.case_exact => {
            if let Value::String(s) = v {
                return format!("t{}", fold_key(s));
            }
        }
        _ => {}
    }
    format!("j{v}")
}

/// The key of one element: its non-null sub-attributes but `primary`, in name order.
pub(super) fn element(attr: &Attribute, v: &Value) -> String {
    tally();
    match v {
        Value::Object(obj) if attr.kind == AttrType::Complex => {
            let mut parts: Vec<(&str, String)> = obj
                .iter()
                .filter(|(k, v)| k.as_str() != "primary" && !v.is_null())
                .map(|(k, v)| (k.as_str(), scalar(find_attr(&attr.sub_attributes, k), v)))
                .collect();
            parts.sort_unstable();
            format!("o{}", serde_json::json!(parts))
        }
        _ => format!("s{}", scalar(Some(attr), v)),
    }
}

/// Where each element of a list is, by key (the first of equal ones).
pub(super) fn index(attr: &Attribute, list: &[Value]) -> HashMap<String, usize> {
    let mut out = HashMap::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        out.entry(element(attr, e)).or_insert(i);
    }
    out
}

/// The elements a remove's value names (`[{"value": x}, ...]` as Entra and Okta send).
pub(super) struct Named<'a> {
    attr: &'a Attribute,
    value_def: Option<&'a Attribute>,
    /// Keys of the given `value`s.
    by_value: HashSet<String>,
    /// Keys of the given elements without a `value`: they name equal elements.
    whole: HashSet<String>,
    /// Keys of every given element: they name equal elements that are not objects.
    whole_any: HashSet<String>,
}

fn named_value(v: &Value) -> Option<&Value> {
    v.as_object()?.get("value").filter(|v| !v.is_null())
}

impl<'a> Named<'a> {
    pub(super) fn new(attr: &'a Attribute, given: &[Value]) -> Named<'a> {
        let value_def = find_attr(&attr.sub_attributes, "value");
        let mut named = Named {
            attr,
            value_def,
            by_value: HashSet::new(),
            whole: HashSet::new(),
            whole_any: HashSet::new(),
        };
        for g in given {
            let key = element(attr, g);
            match named_value(g) {
                Some(v) => {
                    named.by_value.insert(scalar(value_def, v));
                }
                None => {
                    named.whole.insert(key.clone());
                }
            }
            named.whole_any.insert(key);
        }
        named
    }

    /// Whether some given value names `e`.
    pub(super) fn names(&self, e: &Value) -> bool {
        if !e.is_object() {
            return self.whole_any.contains(&element(self.attr, e));
        }
        named_value(e).is_some_and(|v| self.by_value.contains(&scalar(self.value_def, v)))
            || self.whole.contains(&element(self.attr, e))
    }
}

#[cfg(test)]
mod tests {
    use super::super::value::{identifies, same_element};
    use super::*;
    use crate::patch::{PATCH_OP_SCHEMA, apply, parse_request};
    use crate::schema::{Registry, ResourceKind};
    use proptest::prelude::*;
    use serde_json::{Map, json};

    fn emails(r: &Registry) -> Attribute {
        let rt = r.resource_type(ResourceKind::User);
        r.attribute(rt, "emails").unwrap().clone()
    }

    fn work() -> usize {
        WORK.with(std::cell::Cell::get)
    }

    fn patch_user(r: &Registry, doc: &mut Map<String, Value>, ops: Value) {
        let rt = r.resource_type(ResourceKind::User);
        let ops = parse_request(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})).unwrap();
        apply(r, rt, doc, &ops).unwrap();
    }

    /// Adding N emails to N stored ones, then removing N by value, does work in
    /// proportion to N: a scan per added value would be N² (4,000,000 here).
    #[test]
    fn adding_and_removing_n_values_is_linear_in_n() {
        const N: usize = 2000;
        let r = Registry::load().unwrap();
        let stored: Vec<Value> = (0..N)
            .map(|i| json!({"value": format!("old{i}@example.com"), "type": "work"}))
            .collect();
        let mut doc = json!({"userName": "u", "emails": stored})
            .as_object()
            .unwrap()
            .clone();
        // Half new, half the stored ones again in another case (no second copy).
        let added: Vec<Value> = (0..N)
            .map(|i| match i % 2 {
                0 => json!({"value": format!("new{i}@example.com"), "type": "work"}),
                _ => json!({"value": format!("OLD{i}@EXAMPLE.COM"), "type": "work"}),
            })
            .collect();
        let before = work();
        patch_user(
            &r,
            &mut doc,
            json!([{"op": "add", "path": "emails", "value": added}]),
        );
        let add_work = work() - before;
        assert_eq!(doc["emails"].as_array().unwrap().len(), N + N / 2);
        assert!(
            add_work <= 4 * N,
            "adding {N} values took {add_work} comparisons"
        );

        let removed: Vec<Value> = (0..N)
            .map(|i| json!({"value": format!("old{i}@example.com")}))
            .collect();
        let before = work();
        patch_user(
            &r,
            &mut doc,
            json!([{"op": "remove", "path": "emails", "value": removed}]),
        );
        let remove_work = work() - before;
        assert_eq!(doc["emails"].as_array().unwrap().len(), N / 2);
        assert!(
            remove_work <= 4 * N,
            "removing {N} values took {remove_work} comparisons"
        );
    }

    thread_local! {
        static EMAILS: Attribute = emails(&Registry::load().unwrap());
    }

    fn scalar_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            Just(json!("a@x")),
            Just(json!("A@X")),
            Just(json!("b@x")),
            Just(json!("work")),
            Just(json!("Work")),
            Just(json!(true)),
            Just(json!("True")),
            Just(json!(false)),
            Just(json!("false")),
            Just(json!(1)),
        ]
    }

    fn element_value() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("value"),
            Just("type"),
            Just("primary"),
            Just("display"),
            Just("other")
        ];
        prop_oneof![
            scalar_value(),
            prop::collection::vec((key, scalar_value()), 0..4).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// The keys agree with the pairwise comparisons they replace.
        #[test]
        fn keys_agree_with_the_pairwise_rules(
            a in element_value(),
            b in element_value(),
            given in prop::collection::vec(element_value(), 0..4),
        ) {
            let attr = EMAILS.with(Clone::clone);
            prop_assert_eq!(element(&attr, &a) == element(&attr, &b), same_element(&attr, &a, &b));
            let named = Named::new(&attr, &given);
            prop_assert_eq!(
                named.names(&a),
                given.iter().any(|g| identifies(&attr, g, &a))
            );
        }
    }
}
