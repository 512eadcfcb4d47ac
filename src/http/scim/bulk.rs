//! `/Bulk`, RFC 7644 §3.7: operations run in order, each atomic on its own; `bulkId`
//! references resolved as the resources they name are created; `failOnErrors` honoured.

use super::render::{self, base_url};
use crate::http::extract::ScimBody;
use crate::http::{ApiError, AppState};
use crate::provisioning::{Actor, etag};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scim::ScimError;
use scim::schema::ResourceKind;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

struct Op {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

fn parse_ops(body: &Value, max: usize) -> Result<(Vec<Op>, Option<usize>), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("a BulkRequest must be a JSON object".into()))?;
    if let Some(schemas) = obj.get("schemas")
        && !schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(BULK_REQUEST)))
    {
        return Err(ScimError::InvalidSyntax(format!(
            "a BulkRequest must name the schema {BULK_REQUEST}"
        ))
        .into());
    }
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| {
            ScimError::InvalidSyntax("a BulkRequest needs an Operations array".into())
        })?;
    if ops.len() > max {
        return Err(ApiError::PayloadTooLarge(format!(
            "the bulk request has {} operations; the maximum is {max} (maxOperations)",
            ops.len()
        )));
    }
    let fail_on_errors = match obj.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ScimError::InvalidValue("failOnErrors must be a positive integer".into())
                })?,
        ),
    };
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let field = |name: &str| op.get(name).and_then(Value::as_str).map(ToOwned::to_owned);
        let method = field("method")
            .ok_or_else(|| ScimError::InvalidSyntax(format!("operation {i} has no method")))?
            .to_ascii_uppercase();
        let path = field("path")
            .ok_or_else(|| ScimError::InvalidSyntax(format!("operation {i} has no path")))?;
        out.push(Op {
            method,
            bulk_id: field("bulkId"),
            path,
            data: op.get("data").cloned(),
            version: field("version"),
        });
    }
    Ok((out, fail_on_errors))
}

/// Every `bulkId:x` reference in a path or data.
fn references(op: &Op) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix("bulkId:") {
                    out.push(id.to_owned());
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix("bulkId:") {
            out.push(id.to_owned());
        }
    }
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out
}

fn substitute(v: &Value, ids: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => match s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
            Some(id) => Value::String(id.clone()),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, ids)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

fn target(path: &str) -> Result<(ResourceKind, Option<String>), ScimError> {
    let trimmed = path.trim().trim_start_matches('/');
    let (head, rest) = trimmed
        .split_once('/')
        .map_or((trimmed, None), |(h, r)| (h, Some(r)));
    let kind = match head {
        "Users" => ResourceKind::User,
        "Groups" => ResourceKind::Group,
        _ => {
            return Err(ScimError::InvalidPath(format!(
                "bulk path {path:?} names no resource type"
            )));
        }
    };
    Ok((kind, rest.filter(|r| !r.is_empty()).map(ToOwned::to_owned)))
}

/// `POST /Bulk`.
pub async fn bulk(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    ScimBody(body): ScimBody,
) -> Result<Response, ApiError> {
    let (ops, fail_on_errors) = parse_ops(&body, state.config.scim.bulk_max_operations)?;
    let base = base_url(&state, &headers);
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0usize;
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    // Run what can run; an operation waiting for a bulkId goes after the one creating it
    // (RFC 7644 §3.7.2 lets the server reorder). No progress left means a cycle or a
    // reference to nothing.
    'outer: while !pending.is_empty() {
        let mut progressed = false;
        let mut still = Vec::new();
        for &i in &pending {
            let Some(op) = ops.get(i) else { continue };
            let waits = references(op).into_iter().any(|r| {
                !created.contains_key(&r)
                    && ops
                        .iter()
                        .any(|o| o.method == "POST" && o.bulk_id.as_deref() == Some(&r))
                    && pending.iter().any(|&j| {
                        j != i && ops.get(j).is_some_and(|o| o.bulk_id.as_deref() == Some(&r))
                    })
            });
            if waits {
                still.push(i);
                continue;
            }
            progressed = true;
            let outcome = run_op(&state, &actor, &base, op, &created).await;
            let result = match outcome {
                Ok((status, location, version, id)) => {
                    if let (Some(b), Some(id)) = (&op.bulk_id, id) {
                        created.insert(b.clone(), id);
                    }
                    let mut r =
                        json!({ "method": op.method, "status": status.as_u16().to_string() });
                    if let Some(obj) = r.as_object_mut() {
                        if let Some(b) = &op.bulk_id {
                            obj.insert("bulkId".into(), b.clone().into());
                        }
                        if let Some(l) = location {
                            obj.insert("location".into(), l.into());
                        }
                        if let Some(v) = version {
                            obj.insert("version".into(), v.into());
                        }
                    }
                    r
                }
                Err(e) => {
                    errors += 1;
                    let (status, _, _) = e.parts();
                    let mut r = json!({
                        "method": op.method,
                        "status": status.as_u16().to_string(),
                        "response": e.body(),
                    });
                    if let (Some(b), Some(obj)) = (&op.bulk_id, r.as_object_mut()) {
                        obj.insert("bulkId".into(), b.clone().into());
                    }
                    r
                }
            };
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(result);
            }
            if fail_on_errors.is_some_and(|max| errors >= max) {
                break 'outer;
            }
        }
        if !progressed {
            for &i in &still {
                let Some(op) = ops.get(i) else { continue };
                let e = ApiError::Scim(ScimError::InvalidValue(
                    "the operation references a bulkId that could not be resolved (circular reference?)".into(),
                ));
                let mut r = json!({ "method": op.method, "status": "409", "response": e.body() });
                if let Some(obj) = r.as_object_mut() {
                    obj.insert("response".into(), {
                        let mut b = e.body();
                        if let Some(bo) = b.as_object_mut() {
                            bo.insert("status".into(), "409".into());
                        }
                        b
                    });
                    if let Some(b) = &op.bulk_id {
                        obj.insert("bulkId".into(), b.clone().into());
                    }
                }
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(r);
                }
            }
            break;
        }
        pending = still;
    }
    let body = json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results.into_iter().flatten().collect::<Vec<_>>(),
    });
    Ok(super::resources::scim_response(
        StatusCode::OK,
        &body,
        None,
        None,
    ))
}

type OpResult = (StatusCode, Option<String>, Option<String>, Option<String>);

async fn run_op(
    state: &AppState,
    actor: &Actor,
    base: &str,
    op: &Op,
    created: &HashMap<String, String>,
) -> Result<OpResult, ApiError> {
    let mut path = op.path.clone();
    for (bulk_id, id) in created {
        path = path.replace(&format!("bulkId:{bulk_id}"), id);
    }
    let (kind, id) = target(&path)?;
    let data = op.data.as_ref().map(|d| substitute(d, created));
    let need_data = || {
        data.clone().ok_or_else(|| {
            ApiError::Scim(ScimError::InvalidSyntax(format!(
                "{} {} needs data",
                op.method, op.path
            )))
        })
    };
    let need_id = || {
        id.clone().ok_or_else(|| {
            ApiError::Scim(ScimError::InvalidPath(format!(
                "{} needs a resource id in its path",
                op.method
            )))
        })
    };
    let dir = &state.directory;
    let version = op.version.as_deref();
    let view = match op.method.as_str() {
        "POST" => {
            if id.is_some() {
                return Err(ScimError::InvalidPath("POST goes to /Users or /Groups".into()).into());
            }
            if op.bulk_id.is_none() {
                return Err(ScimError::InvalidSyntax("a bulk POST needs a bulkId".into()).into());
            }
            let v = dir.create(actor, kind, &need_data()?).await?;
            return Ok((
                StatusCode::CREATED,
                Some(render::location(base, kind, &v.stored.id)),
                Some(etag(v.stored.version)),
                Some(v.stored.id),
            ));
        }
        "PUT" => {
            dir.replace(actor, kind, &need_id()?, &need_data()?, version)
                .await?
        }
        "PATCH" => {
            dir.patch(actor, kind, &need_id()?, &need_data()?, version, false)
                .await?
        }
        "DELETE" => {
            dir.delete(actor, kind, &need_id()?, version).await?;
            return Ok((StatusCode::NO_CONTENT, None, None, None));
        }
        other => {
            return Err(ApiError::MethodNotAllowed(format!(
                "bulk method {other} is not supported (POST, PUT, PATCH, DELETE)"
            )));
        }
    };
    Ok((
        StatusCode::OK,
        Some(render::location(base, kind, &view.stored.id)),
        Some(etag(view.stored.version)),
        None,
    ))
}
