//! The PATCH engine, RFC 7644 §3.5.2, with the dialects real IdPs send.
//!
//! [`parse_request`] turns a PatchOp body into [`PatchOp`]s; [`apply`] applies them, in
//! order and all or nothing, to a stored resource document (core attributes at the top
//! level, extension attributes under their URN key, no `id`/`meta`/`schemas`/`members`).
//! The caller then runs `resource::normalize` on the result (types, `"True"` → `true`,
//! required attributes, a `password` to hash) and `resource::check_immutable`.
//!
//! Group `members` never go through the document: membership is a table, so member
//! changes come back as [`MemberChange`]s and cost what the change costs, not what the
//! group weighs.

mod engine;
mod keys;
mod members;
#[cfg(test)]
pub(crate) mod tests;
mod value;

use crate::ScimError;
use crate::filter::Filter;
use crate::path::{PatchPath, parse_path};
use crate::resource::MemberRef;
use crate::schema::{Registry, ResourceTypeDef};
use serde_json::{Map, Value};

/// The message schema a PatchOp body declares, RFC 7644 §3.5.2.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The most operations one PATCH request may carry. IdPs send a handful; Entra batches
/// group member changes in tens. The bound keeps one request's work predictable.
pub const MAX_OPERATIONS: usize = 1000;

/// A PATCH operation kind, RFC 7644 §3.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// The operation as RFC 7644 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One parsed PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    /// `None` targets the resource itself (add and replace only).
    pub path: Option<PatchPath>,
    /// `None` only for `remove`; `Some(Value::Null)` when the client sent `null`.
    pub value: Option<Value>,
}

/// A change to a Group's members, in request order. Applying them in order to the
/// membership table gives the result the request asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberChange {
    /// Add these members (already present ones stay as they are).
    Add(Vec<MemberRef>),
    /// Remove the members with these ids (absent ones are no error).
    Remove(Vec<String>),
    /// Remove every member.
    RemoveAll,
    /// Remove the members matching this filter. Its paths are relative to a member
    /// (`value`, `type`, `display`, `$ref`), as inside `members[...]`; they have been
    /// checked against the `members` sub-attributes.
    RemoveMatching(Filter),
}

/// What [`apply`] produced besides the new document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Group member changes, in order. Always empty for a User.
    pub members: Vec<MemberChange>,
}

/// Parses a PatchOp request body (RFC 7644 §3.5.2), leniently where IdPs need it:
/// member names in any case (`Operations`, `OP`), op names in any case (`"Replace"`),
/// an empty `path` taken as no path. `schemas` must be an array listing
/// [`PATCH_OP_SCHEMA`].
///
/// Errors: `InvalidSyntax` for a malformed body, `InvalidPath` for a malformed path,
/// `TooMany` for more than [`MAX_OPERATIONS`] operations. Messages name the operation by
/// its index and never echo a value (it may be a password).
pub fn parse_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::InvalidSyntax(
            "a PATCH request body must be a JSON object".into(),
        ));
    };
    // RFC 7644 §3.5.2: the PatchOp message names its schema, in the array `schemas`.
    let is_patch_op = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    };
    let declared = match member(body, "schemas") {
        Some(Value::Array(items)) => items.iter().any(is_patch_op),
        _ => false,
    };
    if !declared {
        return Err(ScimError::InvalidSyntax(format!(
            "\"schemas\" must be an array that contains \"{PATCH_OP_SCHEMA}\""
        )));
    }
    let ops = match member(body, "Operations") {
        Some(Value::Array(ops)) => ops,
        Some(_) => {
            return Err(ScimError::InvalidSyntax(
                "\"Operations\" must be an array of operations".into(),
            ));
        }
        None => {
            return Err(ScimError::InvalidSyntax(
                "a PATCH request needs \"Operations\", an array of operations".into(),
            ));
        }
    };
    // RFC 7644 §3.5.2: "an array of one or more PATCH operations".
    if ops.is_empty() {
        return Err(ScimError::InvalidSyntax(
            "\"Operations\" must contain at least one operation".into(),
        ));
    }
    check_count(ops.len())?;
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(op).map_err(|e| in_operation(i, e)))
        .collect()
}

/// Applies `ops` in order to `doc` (RFC 7644 §3.5.2: "each operation ... is applied in
/// sequence"). On error `doc` is left exactly as it was: the request is atomic.
///
/// The result still needs `resource::normalize` (types, coercion, required attributes,
/// the `password` a PATCH may have set) and `resource::check_immutable`.
pub fn apply(
    registry: &Registry,
    rt: &ResourceTypeDef,
    doc: &mut Map<String, Value>,
    ops: &[PatchOp],
) -> Result<Outcome, ScimError> {
    check_count(ops.len())?;
    let mut work = doc.clone();
    let mut engine = engine::Engine::new(registry, rt);
    for (i, op) in ops.iter().enumerate() {
        engine
            .apply(&mut work, op)
            .map_err(|e| in_operation(i, e))?;
    }
    let members = engine.into_member_changes();
    let named = members
        .iter()
        .map(|c| match c {
            MemberChange::Add(refs) => refs.len(),
            MemberChange::Remove(ids) => ids.len(),
            MemberChange::RemoveAll | MemberChange::RemoveMatching(_) => 0,
        })
        .sum();
    crate::limits::check_members(named)?;
    *doc = work;
    Ok(Outcome { members })
}

fn check_count(n: usize) -> Result<(), ScimError> {
    // tooMany rather than invalidSyntax: the body is well formed, it is only more than
    // this server processes at once (both are 400; the scimType tells the client why).
    if n > MAX_OPERATIONS {
        return Err(ScimError::TooMany(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations, got {n}"
        )));
    }
    Ok(())
}

fn parse_op(op: &Value) -> Result<PatchOp, ScimError> {
    let Some(op) = op.as_object() else {
        return Err(ScimError::InvalidSyntax(
            "an operation must be a JSON object with \"op\", \"path\" and \"value\"".into(),
        ));
    };
    let kind = match member(op, "op") {
        Some(Value::String(name)) => match name.trim().to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            _ => {
                return Err(ScimError::InvalidSyntax(format!(
                    "unknown op {}: expected \"add\", \"remove\" or \"replace\"",
                    quote_short(name)
                )));
            }
        },
        Some(_) => {
            return Err(ScimError::InvalidSyntax(
                "\"op\" must be a string: \"add\", \"remove\" or \"replace\"".into(),
            ));
        }
        None => {
            return Err(ScimError::InvalidSyntax(
                "an operation needs \"op\": \"add\", \"remove\" or \"replace\"".into(),
            ));
        }
    };
    let path = match member(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(parse_path(p)?),
        Some(_) => {
            return Err(ScimError::InvalidPath("\"path\" must be a string".into()));
        }
    };
    let value = member(op, "value").cloned();
    // RFC 7644 §3.5.2.1 and §3.5.2.3: add and replace carry a value; remove may not.
    if value.is_none() && kind != OpKind::Remove {
        return Err(ScimError::InvalidSyntax(format!(
            "\"{}\" needs a \"value\"",
            kind.as_str()
        )));
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

/// A member of a JSON object by case-insensitive name (RFC 7643 §2.1), preferring the
/// exact spelling.
fn member<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A client string for an error message, cut short so a hostile body cannot inflate it.
fn quote_short(s: &str) -> String {
    const MAX: usize = 40;
    let cut: String = s.chars().take(MAX).collect();
    let cut = if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    };
    serde_json::to_string(&cut).unwrap_or_default()
}

/// Prefixes an error's detail with the operation it came from.
fn in_operation(index: usize, err: ScimError) -> ScimError {
    let at = |detail: String| format!("Operations[{index}]: {detail}");
    match err {
        ScimError::InvalidFilter(d) => ScimError::InvalidFilter(at(d)),
        ScimError::TooMany(d) => ScimError::TooMany(at(d)),
        ScimError::Uniqueness(d) => ScimError::Uniqueness(at(d)),
        ScimError::Mutability(d) => ScimError::Mutability(at(d)),
        ScimError::InvalidSyntax(d) => ScimError::InvalidSyntax(at(d)),
        ScimError::InvalidPath(d) => ScimError::InvalidPath(at(d)),
        ScimError::NoTarget(d) => ScimError::NoTarget(at(d)),
        ScimError::InvalidValue(d) => ScimError::InvalidValue(at(d)),
        ScimError::InvalidVersion(d) => ScimError::InvalidVersion(at(d)),
        ScimError::InvalidCursor(d) => ScimError::InvalidCursor(at(d)),
    }
}
