//! Applies one PATCH operation to a document: resolves the path against the schema, then
//! adds, replaces or removes (RFC 7644 §3.5.2.1–3).

use super::keys;
use super::value::{self, json_type};
use super::{MemberChange, OpKind, PatchOp, members};
use crate::ScimError;
use crate::filter::{self, AttrPath, Filter};
use crate::path::{PatchPath, parse_path};
use crate::schema::{
    AttrType, Attribute, Mutability, Registry, ResourceKind, ResourceTypeDef, Schema, find_attr,
};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::hash_map::Entry;

/// What a path names, resolved against the resource type's schemas.
enum Target<'r> {
    /// `schemas`: the server derives it from the extensions present, so setting it
    /// changes nothing.
    Schemas,
    /// A whole schema named by its URN: an extension, or the core schema (the resource).
    Schema(&'r Schema),
    /// A Group's `members`, which live outside the document.
    Members {
        attr: &'r Attribute,
        filter: Option<Filter>,
        sub: Option<&'r Attribute>,
    },
    /// An attribute in the document.
    Attr(AttrTarget<'r>),
}

struct AttrTarget<'r> {
    /// The extension URN the attribute is stored under; `None` for the top level.
    ext: Option<&'r str>,
    attr: &'r Attribute,
    /// `name.givenName`, or `emails[...].value`.
    sub: Option<&'r Attribute>,
    /// `emails[type eq "work"]`: paths relative to the elements, checked against the
    /// sub-attributes.
    filter: Option<Filter>,
}

impl AttrTarget<'_> {
    fn label(&self) -> String {
        let mut label = match self.ext {
            Some(urn) => format!("{urn}:{}", self.attr.name),
            None => self.attr.name.clone(),
        };
        if let Some(filter) = &self.filter {
            label.push_str(&format!("[{filter}]"));
        }
        if let Some(sub) = self.sub {
            label.push('.');
            label.push_str(&sub.name);
        }
        label
    }

    fn read_only(&self) -> bool {
        self.attr.mutability == Mutability::ReadOnly
            || self
                .sub
                .is_some_and(|s| s.mutability == Mutability::ReadOnly)
    }
}

pub(super) struct Engine<'r> {
    registry: &'r Registry,
    rt: &'r ResourceTypeDef,
    members: Vec<MemberChange>,
}

impl<'r> Engine<'r> {
    pub(super) fn new(registry: &'r Registry, rt: &'r ResourceTypeDef) -> Self {
        Engine {
            registry,
            rt,
            members: Vec::new(),
        }
    }

    pub(super) fn into_member_changes(self) -> Vec<MemberChange> {
        self.members
    }

    /// Applies one operation. On error `doc` may be half changed: `patch::apply` works on
    /// a copy.
    pub(super) fn apply(
        &mut self,
        doc: &mut Map<String, Value>,
        op: &PatchOp,
    ) -> Result<(), ScimError> {
        if op.op != OpKind::Remove {
            required_value(op)?;
        }
        match (&op.path, op.op) {
            // RFC 7644 §3.5.2.2: "If "path" is unspecified, the operation fails with ...
            // noTarget".
            (None, OpKind::Remove) => Err(ScimError::NoTarget(
                "remove needs a \"path\" naming what to remove".into(),
            )),
            (None, kind) => {
                let value = required_value(op)?;
                self.apply_object(doc, kind, value, None)
            }
            (Some(path), kind) => {
                let target = self.resolve(path)?;
                check_mutability(&target)?;
                self.apply_target(doc, kind, &target, op.value.as_ref())
            }
        }
    }

    fn resolve(&self, path: &PatchPath) -> Result<Target<'r>, ScimError> {
        let registry: &'r Registry = self.registry;
        let attr_path = &path.attr;
        if path.filter.is_none() && path.value_sub.is_none() {
            if attr_path.urn.is_none()
                && attr_path.sub.is_none()
                && attr_path.name.eq_ignore_ascii_case("schemas")
            {
                return Ok(Target::Schemas);
            }
            if let Some(schema) = registry.schema_of_path(self.rt, attr_path) {
                return Ok(Target::Schema(schema));
            }
        }
        let resolved = registry.resolve(self.rt, attr_path)?;
        let attr = resolved.attr;
        let sub = match (resolved.sub, &path.value_sub) {
            (Some(sub), _) => Some(sub),
            (None, Some(name)) => Some(find_attr(&attr.sub_attributes, name).ok_or_else(|| {
                ScimError::InvalidPath(format!(
                    "unknown attribute \"{}.{name}\" for resource type {}",
                    attr.name, self.rt.name
                ))
            })?),
            (None, None) => None,
        };
        if let Some(filter) = &path.filter {
            if !(attr.multi_valued && attr.kind == AttrType::Complex) {
                return Err(ScimError::InvalidPath(format!(
                    "a value filter [...] selects values of a multi-valued complex attribute, and \"{}\" is not one",
                    attr.name
                )));
            }
            check_filter(attr, filter)?;
        }
        if self.rt.kind == ResourceKind::Group && resolved.core && attr.name == "members" {
            return Ok(Target::Members {
                attr,
                filter: path.filter.clone(),
                sub,
            });
        }
        Ok(Target::Attr(AttrTarget {
            ext: (!resolved.core).then_some(resolved.schema),
            attr,
            sub,
            filter: path.filter.clone(),
        }))
    }

    fn apply_target(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: OpKind,
        target: &Target<'r>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        match target {
            Target::Schemas => Ok(()),
            Target::Schema(schema) => self.apply_schema(doc, kind, schema, value),
            Target::Members { attr, filter, .. } => {
                self.members_op(kind, attr, filter.as_ref(), value)
            }
            Target::Attr(target) => {
                let Some(urn) = target.ext else {
                    return self.apply_attr(doc, kind, target, value);
                };
                // The extension's attributes, taken out for the operation and put back
                // only if any remain.
                let mut ext = match value::take(doc, urn) {
                    Some(Value::Object(ext)) => ext,
                    _ => Map::new(),
                };
                let result = self.apply_attr(&mut ext, kind, target, value);
                value::put(doc, urn, value::non_empty_object(ext));
                result
            }
        }
    }

    /// A path that is a schema URN: `urn:...:enterprise:2.0:User` with an object value
    /// sets the attributes it holds, like a no-path operation restricted to that schema
    /// (RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged).
    fn apply_schema(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: OpKind,
        schema: &'r Schema,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let core = schema.id == self.rt.schema;
        match (kind, value) {
            (OpKind::Remove, _) if core => Err(ScimError::InvalidPath(format!(
                "\"{}\" is the resource itself: remove its attributes one by one",
                schema.id
            ))),
            (OpKind::Remove, _) | (OpKind::Replace, Some(Value::Null)) if !core => {
                value::take(doc, &schema.id);
                Ok(())
            }
            (_, None) => Err(ScimError::InvalidSyntax(format!(
                "\"{}\" needs a \"value\"",
                kind.as_str()
            ))),
            (_, Some(Value::Null)) => Ok(()),
            (_, Some(v @ Value::Object(_))) => self.apply_object(doc, kind, v, Some(schema)),
            (_, Some(other)) => Err(ScimError::InvalidValue(format!(
                "the value of \"{}\" must be an object of its attributes, got {}",
                schema.id,
                json_type(other)
            ))),
        }
    }

    /// A no-path add or replace (RFC 7644 §3.5.2.1, §3.5.2.3: "the target location is
    /// assumed to be the resource itself"): each key is applied as if it were a path.
    /// Keys may be dotted (`name.givenName`) or URN-qualified, and an extension URN key
    /// may hold an object of its attributes (Entra and Google send all three).
    ///
    /// Keys that name no attribute are ignored, as in a POST body, and so are readOnly
    /// attributes (RFC 7644 §3.5.1: "SHALL be ignored"): Okta's group rename sends
    /// `{"op":"replace","value":{"id":"...","displayName":"New"}}`.
    fn apply_object(
        &mut self,
        doc: &mut Map<String, Value>,
        kind: OpKind,
        value: &Value,
        scope: Option<&'r Schema>,
    ) -> Result<(), ScimError> {
        let Value::Object(obj) = value else {
            return Err(ScimError::InvalidValue(format!(
                "without a \"path\", the value of \"{}\" must be an object of attributes, got {}",
                kind.as_str(),
                json_type(value)
            )));
        };
        for (key, v) in obj {
            if scope.is_none() && key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let text = match scope {
                Some(schema) if schema.id != self.rt.schema => {
                    Cow::Owned(format!("{}:{key}", schema.id))
                }
                _ => Cow::Borrowed(key.as_str()),
            };
            let Ok(path) = parse_path(&text) else {
                continue;
            };
            let Ok(target) = self.resolve(&path) else {
                continue;
            };
            let ignored = match &target {
                Target::Schemas => true,
                // A schema inside a schema is no attribute.
                Target::Schema(_) => scope.is_some(),
                Target::Attr(t) => t.read_only(),
                Target::Members { sub, .. } => sub.is_some(),
            };
            if !ignored {
                self.apply_target(doc, kind, &target, Some(v))?;
            }
        }
        Ok(())
    }

    /// Applies an operation to one attribute of `container` (the document, or an
    /// extension's object).
    fn apply_attr(
        &self,
        container: &mut Map<String, Value>,
        kind: OpKind,
        target: &AttrTarget<'r>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = &target.attr.name;
        let current = value::take(container, name);
        let new = match (kind, value) {
            (OpKind::Remove, _) => self.remove(target, current, value),
            (_, None) => Err(ScimError::InvalidSyntax(format!(
                "\"{}\" needs a \"value\"",
                kind.as_str()
            ))),
            (_, Some(value)) => self.set(kind, target, current, value),
        }?;
        // RFC 7644 §3.5.2.2: removing a required attribute fails with mutability.
        if target.attr.required && new.is_none() {
            return Err(ScimError::Mutability(format!(
                "{name} is required and cannot be removed"
            )));
        }
        value::put(container, name, new);
        Ok(())
    }

    /// Add and replace (RFC 7644 §3.5.2.1, §3.5.2.3) on an attribute's current value;
    /// returns the new value (`None`: unassigned).
    fn set(
        &self,
        kind: OpKind,
        target: &AttrTarget<'r>,
        current: Option<Value>,
        value: &Value,
    ) -> Result<Option<Value>, ScimError> {
        let attr = target.attr;
        if value.is_null() {
            return match kind {
                // RFC 7643 §2.5: null is unassigned, so replacing with null removes.
                OpKind::Replace => self.remove(target, current, None),
                // Adding nothing changes nothing.
                OpKind::Add | OpKind::Remove => Ok(current),
            };
        }
        match (&target.filter, target.sub) {
            (None, None) if attr.multi_valued => {
                let items = value::items(attr, value);
                match kind {
                    // §3.5.2.3: "the attribute and all values are replaced".
                    OpKind::Replace | OpKind::Remove => Ok(value::non_empty_list(items)),
                    // §3.5.2.1: "a new value is added"; one already there is not
                    // added twice.
                    OpKind::Add => Ok(add_items(attr, value::list(attr, current), items)),
                }
            }
            // §3.5.2.1 and §3.5.2.3: on a complex attribute the value's sub-attributes
            // replace or add to the existing ones; the others are left unchanged.
            (None, None) if attr.kind == AttrType::Complex => {
                let Some(patch) = value::complex_value(attr, value, &target.label())? else {
                    return Ok(current);
                };
                let mut obj = value::object(attr, current);
                value::merge(attr, &mut obj, patch);
                Ok(value::non_empty_object(obj))
            }
            (None, None) => Ok(Some(value.clone())),
            (None, Some(sub)) if !attr.multi_valued => {
                let mut obj = value::object(attr, current);
                value::merge(attr, &mut obj, single(sub, value));
                Ok(value::non_empty_object(obj))
            }
            (filter, sub) => self.set_elements(target, filter.as_ref(), sub, current, value),
        }
    }

    /// Add or replace on the elements a value filter selects (all of them without a
    /// filter): the value's sub-attributes, or the one sub-attribute of the path, are
    /// merged into each. §3.5.2.3: "the matching sub-attribute of all matching records
    /// SHALL be replaced"; without a sub-attribute the matched records are merged into
    /// rather than overwritten, following its rule for complex values ("Sub-attributes
    /// that are not specified in the value parameter are left unchanged"), so that
    /// `replace emails[type eq "work"]` with `{"value": ...}` keeps the element's type.
    fn set_elements(
        &self,
        target: &AttrTarget<'r>,
        filter: Option<&Filter>,
        sub: Option<&Attribute>,
        current: Option<Value>,
        value: &Value,
    ) -> Result<Option<Value>, ScimError> {
        let attr = target.attr;
        let patch = match sub {
            Some(sub) => single(sub, value),
            None => match value::complex_value(attr, value, &target.label())? {
                Some(patch) => patch,
                None => return Ok(current),
            },
        };
        let mut list = value::list(attr, current);
        let matched: Vec<bool> = list
            .iter()
            .map(|e| filter.is_none_or(|f| self.matches(target, f, e)))
            .collect();
        let mut touched = matched.clone();
        if matched.contains(&true) {
            for (element, _) in list.iter_mut().zip(&matched).filter(|(_, m)| **m) {
                value::merge_element(attr, element, patch.clone());
            }
        } else {
            // Nothing matched. RFC 7644 §3.5.2.3 has replace fail with noTarget here, but
            // Entra adds *and replaces* `emails[type eq "work"].value` and
            // `addresses[type eq "work"].streetAddress` on users that have no such
            // element yet and expects it created. So, for add and replace alike, a
            // filter of `eq` terms joined by `and` describes the new element; any other
            // filter cannot, and gets noTarget (RFC 7644 §3.12).
            let mut element = match filter {
                None => Map::new(),
                Some(f) => value::element_from_filter(attr, f).ok_or_else(|| {
                    ScimError::NoTarget(format!(
                        "no value matches {}, and the filter does not describe a new one (only \"eq\" terms joined by \"and\" do)",
                        target.label()
                    ))
                })?,
            };
            value::merge(attr, &mut element, patch);
            list.push(Value::Object(element));
            touched.push(true);
        }
        value::demote_others(&mut list, &touched);
        Ok(value::non_empty_list(list))
    }

    /// Remove (RFC 7644 §3.5.2.2) on an attribute's current value; returns what is left.
    fn remove(
        &self,
        target: &AttrTarget<'r>,
        current: Option<Value>,
        value: Option<&Value>,
    ) -> Result<Option<Value>, ScimError> {
        let attr = target.attr;
        match (&target.filter, target.sub) {
            (None, None) => match value {
                // Entra and Okta remove listed values with path + value, as they do for
                // members: `{"op":"remove","path":"emails","value":[{"value":"x@y"}]}`
                // removes that one email, not all of them.
                Some(v) if attr.multi_valued && !v.is_null() => {
                    let given = value::items(attr, v);
                    let named = keys::Named::new(attr, &given);
                    let mut list = value::list(attr, current);
                    list.retain(|e| !named.names(e));
                    Ok(value::non_empty_list(list))
                }
                // "If the target location is a single-value attribute, the attribute and
                // its associated value is removed"; likewise a multi-valued one without a
                // filter. A value sent along with a single-valued attribute (Entra's
                // manager removal) changes nothing.
                _ => Ok(None),
            },
            (None, Some(sub)) if !attr.multi_valued => {
                let mut obj = value::object(attr, current);
                obj.shift_remove(&sub.name);
                Ok(value::non_empty_object(obj))
            }
            (filter, sub) => {
                // "the values matched by the filter are removed". Unlike replace
                // (§3.5.2.3), remove names no failure when nothing matches, so a filter
                // that matches nothing is a successful no-op: IdPs retry removals, and
                // the retry must not fail.
                //
                // With a sub-attribute (`emails[type eq "work"].value`) only that
                // sub-attribute goes ("Sub-attributes whose values have been removed
                // SHALL be considered unassigned"); an element left with nothing but
                // `type`/`primary`/`display` carries no value and goes too, rather than
                // storing an email without an address.
                let list = value::list(attr, current);
                let mut kept = Vec::with_capacity(list.len());
                for mut element in list {
                    if !filter
                        .as_ref()
                        .is_none_or(|f| self.matches(target, f, &element))
                    {
                        kept.push(element);
                        continue;
                    }
                    let Some(sub) = sub else {
                        continue;
                    };
                    if let Value::Object(obj) = &mut element {
                        obj.shift_remove(&sub.name);
                    }
                    if !value::is_hollow(&element) {
                        kept.push(element);
                    }
                }
                Ok(value::non_empty_list(kept))
            }
        }
    }

    /// Whether an element matches a value filter, with the schema's case rules.
    fn matches(&self, target: &AttrTarget<'r>, filter: &Filter, element: &Value) -> bool {
        let case_exact = |p: &AttrPath| {
            // Filter paths are relative to the element: `type` means `emails.type`.
            let full = AttrPath {
                urn: target.ext.map(str::to_string),
                name: target.attr.name.clone(),
                sub: Some(p.name.clone()),
            };
            self.registry.case_exact(self.rt, &full)
        };
        filter::eval(filter, element, &case_exact)
    }

    /// Group members (RFC 7644 §3.5.2, figures in §3.5.2.1–3) as changes to the
    /// membership table, in request order.
    fn members_op(
        &mut self,
        kind: OpKind,
        attr: &Attribute,
        filter: Option<&Filter>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        match (kind, filter) {
            (OpKind::Add, None) => {
                let refs = members::refs(attr, value)?;
                if !refs.is_empty() {
                    self.members.push(MemberChange::Add(refs));
                }
            }
            (OpKind::Add, Some(_)) => {
                return Err(ScimError::InvalidPath(
                    "add members with the path \"members\"; a filter selects members to remove or replace".into(),
                ));
            }
            (OpKind::Replace, filter) => {
                let refs = members::refs(attr, value)?;
                self.members.push(match filter {
                    // §3.5.2.3: "the attribute and all values are replaced".
                    None => MemberChange::RemoveAll,
                    Some(f) => removal(f),
                });
                if !refs.is_empty() {
                    self.members.push(MemberChange::Add(refs));
                }
            }
            (OpKind::Remove, Some(f)) => self.members.push(removal(f)),
            // Entra and Okta: `{"op":"Remove","path":"members","value":[{"value":id}]}`
            // removes exactly those members, not the whole group.
            (OpKind::Remove, None) => match value {
                None | Some(Value::Null) => self.members.push(MemberChange::RemoveAll),
                Some(v) => {
                    let ids: Vec<String> = members::refs(attr, Some(v))?
                        .into_iter()
                        .map(|m| m.value)
                        .collect();
                    if !ids.is_empty() {
                        self.members.push(MemberChange::Remove(ids));
                    }
                }
            },
        }
        Ok(())
    }
}

/// `members[value eq "a" or value eq "b"]` is a removal by id; other filters go to the
/// store as they are.
fn removal(filter: &Filter) -> MemberChange {
    members::ids_of_filter(filter).map_or_else(
        || MemberChange::RemoveMatching(filter.clone()),
        MemberChange::Remove,
    )
}

fn required_value(op: &PatchOp) -> Result<&Value, ScimError> {
    op.value.as_ref().ok_or_else(|| {
        ScimError::InvalidSyntax(format!("\"{}\" needs a \"value\"", op.op.as_str()))
    })
}

/// RFC 7644 §3.5.2: "a client MUST NOT modify an attribute that has mutability
/// "readOnly"". Immutable attributes are left to `resource::check_immutable`, which knows
/// whether they had a value before.
fn check_mutability(target: &Target<'_>) -> Result<(), ScimError> {
    match target {
        Target::Attr(t) if t.read_only() => {
            Err(ScimError::Mutability(format!("{} is readOnly", t.label())))
        }
        Target::Members { sub: Some(sub), .. } => Err(ScimError::Mutability(format!(
            "members are added and removed whole; members.{} cannot be changed",
            sub.name
        ))),
        Target::Schemas | Target::Schema(_) | Target::Members { .. } | Target::Attr(_) => Ok(()),
    }
}

/// Value filter paths name sub-attributes of the filtered attribute (`type`, `value`).
fn check_filter(attr: &Attribute, filter: &Filter) -> Result<(), ScimError> {
    match filter {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check_filter(attr, l)?;
            check_filter(attr, r)
        }
        Filter::Not(inner) => check_filter(attr, inner),
        Filter::Compare { path, .. } | Filter::Present(path) => {
            let known = path.urn.is_none()
                && path.sub.is_none()
                && find_attr(&attr.sub_attributes, &path.name).is_some();
            if known {
                Ok(())
            } else {
                Err(ScimError::InvalidPath(format!(
                    "\"{path}\" in the filter is not a sub-attribute of {}",
                    attr.name
                )))
            }
        }
        Filter::ValuePath { .. } => Err(ScimError::InvalidPath(
            "value filters cannot be nested".into(),
        )),
    }
}

/// Adds elements to a multi-valued attribute. An element already there (same
/// sub-attributes, `primary` aside) is not added twice (§3.5.2.1: "If the target location
/// already contains the value specified, no changes SHOULD be made"), but a `primary:
/// true` on it is taken. A new primary demotes the others (§3.5.2).
fn add_items(attr: &Attribute, mut list: Vec<Value>, items: Vec<Value>) -> Option<Value> {
    let mut touched = vec![false; list.len()];
    let mut at = keys::index(attr, &list);
    for item in items {
        match at.entry(keys::element(attr, &item)) {
            Entry::Occupied(found) => {
                let i = *found.get();
                if value::is_primary(&item)
                    && let Some(existing) = list.get_mut(i)
                    && !value::is_primary(existing)
                    && let Value::Object(obj) = existing
                {
                    obj.insert("primary".into(), Value::Bool(true));
                    if let Some(t) = touched.get_mut(i) {
                        *t = true;
                    }
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(list.len());
                list.push(item);
                touched.push(true);
            }
        }
    }
    value::demote_others(&mut list, &touched);
    value::non_empty_list(list)
}

/// `{sub: value}`.
fn single(sub: &Attribute, value: &Value) -> Map<String, Value> {
    let mut obj = Map::new();
    obj.insert(sub.name.clone(), value.clone());
    obj
}
