//! Listing and searching: filter, sort, index paging and cursor paging (RFC 9865).

use super::Error;
use super::cursors::{Cursor, CursorScope};
use super::directory::{Actor, Directory, View};
use super::write::table;
use crate::store::Tx;
use crate::store::filter_sql;
use crate::store::resources::{self, ListQuery, Page};
use scim::ScimError;
use scim::filter::{AttrPath, Filter};
use scim::schema::ResourceKind;

/// How the client asked to page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// RFC 7644 §3.4.2.4: 1-based `startIndex` and `count`.
    Index { start_index: i64, count: i64 },
    /// RFC 9865: `cursor` (None for the first page) and `count`.
    Cursor { cursor: Option<String>, count: i64 },
}

/// A list request (already parsed and clamped by the HTTP layer).
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: Option<Filter>,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
    pub page: PageRequest,
    /// Load members / groups of each resource.
    pub with_refs: bool,
    /// Load the team memberships of each user.
    pub with_teams: bool,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub total: i64,
    pub items: Vec<View>,
    /// Index paging: the 1-based index of the first item.
    pub start_index: Option<i64>,
    /// Cursor paging: the cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
}

impl Directory {
    /// Lists resources of one kind, reading on `reader` if given (e.g. the connection the
    /// request's token was checked on) or on a snapshot of its own.
    pub async fn list(
        &self,
        actor: &Actor,
        kind: ResourceKind,
        p: &ListParams,
        reader: Option<Tx>,
    ) -> Result<ListPage, Error> {
        let rt = self.registry.resource_type(kind);
        let dialect = self.store.dialect();
        let filter = p
            .filter
            .as_ref()
            .map(|f| filter_sql::compile(&self.registry, rt, dialect, &actor.org_id, f))
            .transpose()?;
        let sort = p
            .sort_by
            .as_ref()
            .map(|path| {
                filter_sql::sort_expr(&self.registry, rt, dialect, path).map(|e| (e, p.descending))
            })
            .transpose()?;
        let scope = CursorScope {
            org_id: actor.org_id.as_str(),
            kind,
            filter: p.filter.as_ref(),
            sort_by: p.sort_by.as_ref(),
            descending: p.descending,
        };
        let (page, start_index, cursor_mode) = match &p.page {
            PageRequest::Index { start_index, count } => (
                Page::Index {
                    offset: start_index - 1,
                    count: *count,
                },
                Some(*start_index),
                false,
            ),
            PageRequest::Cursor { cursor, count } => {
                let at = cursor
                    .as_deref()
                    .map(|text| self.cursors.open(text, &scope))
                    .transpose()?;
                let page = match (at, sort.is_some()) {
                    (None, false) => Page::After {
                        after_seq: 0,
                        count: *count,
                    },
                    (None, true) => Page::Index {
                        offset: 0,
                        count: *count,
                    },
                    (Some(Cursor::AfterSeq(s)), false) => Page::After {
                        after_seq: s,
                        count: *count,
                    },
                    (Some(Cursor::Offset(o)), true) => Page::Index {
                        offset: o,
                        count: *count,
                    },
                    _ => {
                        return Err(ScimError::InvalidCursor(
                            "the cursor belongs to a differently sorted list".into(),
                        )
                        .into());
                    }
                };
                (page, None, true)
            }
        };
        let mut tx = match reader {
            Some(tx) => tx,
            None => self.store.read_snapshot().await?,
        };
        let limit = match page {
            Page::Index { count, .. } | Page::After { count, .. } => count,
        };
        let query = ListQuery {
            filter: filter.clone(),
            sort,
            // One extra row tells whether a next page exists.
            page: match page {
                Page::Index { offset, count } => Page::Index {
                    offset,
                    count: count + 1,
                },
                Page::After { after_seq, count } => Page::After {
                    after_seq,
                    count: count + 1,
                },
            },
        };
        let mut rows = if limit == 0 {
            Vec::new()
        } else {
            resources::list(&mut tx, table(kind), &actor.org_id, &query).await?
        };
        let has_more = rows.len() as i64 > limit;
        let from_start = matches!(
            page,
            Page::Index { offset: 0, .. } | Page::After { after_seq: 0, .. }
        );
        // An IdP lookup (`userName eq ...`) fits in its first page: the rows are the
        // count, no second query needed.
        let total = if from_start && !has_more && limit > 0 {
            rows.len() as i64
        } else {
            resources::count(&mut tx, table(kind), &actor.org_id, filter.as_ref()).await?
        };
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next_at = match (cursor_mode && has_more, page) {
            (false, _) => None,
            (true, Page::After { .. }) => rows.last().map(|r| Cursor::AfterSeq(r.seq)),
            (true, Page::Index { offset, .. }) => Some(Cursor::Offset(offset + rows.len() as i64)),
        };
        let next_cursor = next_at
            .map(|at| self.cursors.seal(at, &scope))
            .transpose()?;
        let items = self
            .views(&mut tx, kind, rows, p.with_refs, p.with_teams)
            .await?;
        Ok(ListPage {
            total,
            items,
            start_index,
            next_cursor,
        })
    }

    /// Root `/.search` over users then groups (RFC 7644 §3.4.3). A filter naming an
    /// attribute one type lacks matches nothing of that type.
    pub async fn search_all(&self, actor: &Actor, p: &ListParams) -> Result<ListPage, Error> {
        let PageRequest::Index { start_index, count } = p.page else {
            return Err(ScimError::InvalidValue(
                "cursor paging is not supported on the root /.search; search /Users or /Groups"
                    .into(),
            )
            .into());
        };
        let mut results = Vec::new();
        let mut first_error = None;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let zero = ListParams {
                page: PageRequest::Index {
                    start_index: 1,
                    count: 0,
                },
                ..p.clone()
            };
            match self.list(actor, kind, &zero, None).await {
                Ok(page) => results.push((kind, page.total)),
                Err(Error::Scim(
                    e @ (ScimError::InvalidFilter(_) | ScimError::InvalidValue(_)),
                )) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if results.is_empty()
            && let Some(e) = first_error
        {
            return Err(e.into());
        }
        let total = results.iter().map(|(_, t)| t).sum();
        let mut offset = start_index - 1;
        let mut remaining = count;
        let mut items = Vec::new();
        for (kind, kind_total) in results {
            if remaining == 0 {
                break;
            }
            if offset >= kind_total {
                offset -= kind_total;
                continue;
            }
            let page = ListParams {
                page: PageRequest::Index {
                    start_index: offset + 1,
                    count: remaining,
                },
                ..p.clone()
            };
            let got = self.list(actor, kind, &page, None).await?;
            remaining -= got.items.len() as i64;
            offset = 0;
            items.extend(got.items);
        }
        Ok(ListPage {
            total,
            items,
            start_index: Some(start_index),
            next_cursor: None,
        })
    }
}
