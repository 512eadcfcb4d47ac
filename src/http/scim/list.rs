//! List and `.search` requests: parameters from the query string or a SearchRequest body.

use super::render::{self, Projection, base_url};
use super::resources::{Call, scim_response};
use crate::http::ApiError;
use crate::provisioning::{ListParams, PageRequest};
use crate::store::Tx;
use axum::http::StatusCode;
use axum::response::Response;
use scim::ScimError;
use scim::schema::ResourceKind;
use serde_json::Value;

/// SearchRequest message schema, RFC 7644 §3.4.3.
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The raw list parameters, before validation.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ListRequest {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    /// RFC 9865: present (even empty) selects cursor paging.
    pub cursor: Option<String>,
    pub attributes: Option<String>,
    pub excluded: Option<String>,
}

fn number(name: &str, text: &str) -> Result<i64, ApiError> {
    text.trim().parse().map_err(|_| {
        ScimError::InvalidValue(format!("{name} must be an integer, not {text:?}")).into()
    })
}

impl ListRequest {
    /// From `?filter=...&startIndex=...` (names matched case-insensitively).
    pub fn from_query(pairs: &[(String, String)]) -> Result<ListRequest, ApiError> {
        let mut r = ListRequest::default();
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "filter" => r.filter = Some(v.clone()),
                "sortby" => r.sort_by = Some(v.clone()),
                "sortorder" => r.sort_order = Some(v.clone()),
                "startindex" => r.start_index = Some(number("startIndex", v)?),
                "count" => r.count = Some(number("count", v)?),
                "cursor" => r.cursor = Some(v.clone()),
                "attributes" => r.attributes = Some(v.clone()),
                "excludedattributes" => r.excluded = Some(v.clone()),
                _ => {}
            }
        }
        Ok(r)
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search_body(body: &Value) -> Result<ListRequest, ApiError> {
        let obj = body.as_object().ok_or_else(|| {
            ScimError::InvalidSyntax("a SearchRequest must be a JSON object".into())
        })?;
        if let Some(schemas) = obj.get("schemas")
            && !schemas
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(SEARCH_SCHEMA)))
        {
            return Err(ScimError::InvalidSyntax(format!(
                "a SearchRequest must name the schema {SEARCH_SCHEMA}"
            ))
            .into());
        }
        let text = |name: &str| -> Result<Option<String>, ApiError> {
            match obj
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
            {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Array(items)) => {
                    let parts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                    parts.map(|p| Some(p.join(","))).ok_or_else(|| {
                        ScimError::InvalidValue(format!("{name} must be a list of strings")).into()
                    })
                }
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => {
                    Err(ScimError::InvalidValue(format!("{name} has the wrong type")).into())
                }
            }
        };
        let int = |name: &str| -> Result<Option<i64>, ApiError> {
            text(name)?.map(|t| number(name, &t)).transpose()
        };
        Ok(ListRequest {
            filter: text("filter")?,
            sort_by: text("sortBy")?,
            sort_order: text("sortOrder")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            cursor: text("cursor")?,
            attributes: text("attributes")?,
            excluded: text("excludedAttributes")?,
        })
    }
}

/// Runs a list request and renders the ListResponse.
pub async fn list_response(
    call: &Call,
    kind: Option<ResourceKind>,
    r: ListRequest,
    reader: Option<Tx>,
) -> Result<Response, ApiError> {
    let Call {
        state,
        actor,
        headers,
        ..
    } = call;
    let limits = &state.config.scim;
    let filter = r
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(scim::filter::parse)
        .transpose()?;
    let sort_by = r
        .sort_by
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            scim::filter::parse_attr_path(s.trim()).map_err(|e| {
                ScimError::InvalidValue(format!("sortBy {s:?} is not an attribute: {}", e.detail()))
            })
        })
        .transpose()?;
    let descending = match r
        .sort_order
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("ascending") => false,
        Some("descending") => true,
        Some(other) => {
            return Err(ScimError::InvalidValue(format!(
                "sortOrder must be \"ascending\" or \"descending\", not {other:?}"
            ))
            .into());
        }
    };
    // RFC 7644 §3.4.2.4: a negative count means 0; more than the maximum is clamped.
    let max = i64::try_from(limits.max_results).unwrap_or(i64::MAX);
    let default = i64::try_from(limits.default_count).unwrap_or(100);
    let count = r.count.unwrap_or(default).clamp(0, max);
    let page = match r.cursor {
        Some(c) => PageRequest::Cursor {
            cursor: Some(c).filter(|c| !c.is_empty()),
            count,
        },
        // RFC 7644 §3.4.2.4: a startIndex below 1 is interpreted as 1.
        None => PageRequest::Index {
            start_index: r.start_index.unwrap_or(1).max(1),
            count,
        },
    };
    let projection = Projection::parse(r.attributes.as_deref(), r.excluded.as_deref())?;
    let with_refs = match kind {
        Some(k) => projection.wants_refs(&state.registry, state.registry.resource_type(k)),
        None => true,
    };
    let params = ListParams {
        filter,
        sort_by,
        descending,
        page,
        with_refs,
        with_teams: !projection.is_default(),
    };
    let result = match kind {
        Some(k) => state.directory.list(actor, k, &params, reader).await?,
        None => state.directory.search_all(actor, &params).await?,
    };
    // RFC 7644 §3.4.2.4: count=0 returns no resources; the page is still a whole
    // ListResponse (`itemsPerPage: 0`, `Resources: []`), since clients index into it.
    let body = render::list(
        &state.registry,
        &base_url(state, headers),
        &result,
        &projection,
    );
    Ok(scim_response(StatusCode::OK, &body, None, None))
}
