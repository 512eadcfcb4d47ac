//! Compiles a SCIM filter AST into a parameterised SQL condition on either backend.
//!
//! Attributes reach SQL only through this whitelist: each resolved schema attribute maps
//! to a column, a JSON path inside the stored document (names from the schema, never
//! from the request), or a side table (emails, group members). Values are always bound.
//!
//! Case-insensitive attributes are compared on data folded by Rust with
//! `scim::text::fold_key` (the `*_norm` columns and the `doc_ci` document) against a
//! folded value, so both backends fold case the same way (SQLite's own folding is
//! ASCII-only, PostgreSQL's `lower()` is simple lower-casing); never SQL `lower()`.
//!
//! The lookups IdPs make (`id`, `userName`, `externalId`, `emails.value`, group
//! `displayName`, `members.value`) compile to indexed columns or `IN (subquery)` forms
//! that start from an index.

use super::sql::{Dialect, Q, SqlValue};
use crate::domain::OrgId;
use scim::ScimError;
use scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim::schema::{AttrType, Registry, Resolved, ResourceKind, ResourceTypeDef};

/// The alias the resource table must have in the enclosing query.
pub const ALIAS: &str = "r";

/// Compiles `filter` for resources of `rt` of the organization `org_id` into a condition
/// on table alias `r` (the enclosing query restricts `r.org_id` itself). Subqueries on side
/// tables name the organization as a bound value rather than through `r`: uncorrelated,
/// they start from their `(org_id, ...)` index, and PostgreSQL can turn them into a join.
pub fn compile(
    registry: &Registry,
    rt: &ResourceTypeDef,
    dialect: Dialect,
    org_id: &OrgId,
    filter: &Filter,
) -> Result<Q, ScimError> {
    let ctx = Ctx {
        registry,
        rt,
        dialect,
        org_id: org_id.as_str(),
    };
    let mut q = Q::default();
    ctx.filter(&mut q, filter, &Scope::Resource)?;
    Ok(q)
}

/// An `ORDER BY` expression for `sortBy`, or an error if the attribute can't be sorted.
pub fn sort_expr(
    registry: &Registry,
    rt: &ResourceTypeDef,
    dialect: Dialect,
    path: &AttrPath,
) -> Result<String, ScimError> {
    let ctx = Ctx {
        registry,
        rt,
        dialect,
        // Sorting never reaches a side table, the only user of the org id.
        org_id: "",
    };
    let resolved = ctx.resolve(path)?;
    let target = ctx.target(&resolved)?;
    let expr = match target {
        Target::Column { expr, kind, .. } => text_order(dialect, expr, kind),
        Target::Json { segments, ci, kind } => text_order(
            dialect,
            &json_scalar(dialect, doc(ci), &segments, kind),
            kind,
        ),
        // RFC 7644 §3.4.2.3: multi-valued attributes sort by their primary (here: first)
        // value.
        Target::Elements(e) => text_order(
            dialect,
            &json_scalar(dialect, doc(e.ci), &e.first_value(), e.kind),
            e.kind,
        ),
        Target::Side(_) => {
            return Err(ScimError::InvalidValue(format!(
                "sortBy {path} is not supported"
            )));
        }
    };
    Ok(expr)
}

fn text_order(dialect: Dialect, expr: &str, kind: AttrType) -> String {
    // PostgreSQL would otherwise sort text by the database collation; byte order matches
    // SQLite and the lexicographic comparisons of RFC 7644 §3.4.2.2.
    match (dialect, kind) {
        (Dialect::Postgres, AttrType::String | AttrType::Reference | AttrType::DateTime) => {
            format!("({expr}) COLLATE \"C\"")
        }
        _ => expr.to_owned(),
    }
}

struct Ctx<'a> {
    registry: &'a Registry,
    rt: &'a ResourceTypeDef,
    dialect: Dialect,
    org_id: &'a str,
}

/// Where a path is evaluated: on the resource, or on one element of a multi-valued
/// attribute inside a value path `attr[...]`.
enum Scope<'a> {
    Resource,
    Element {
        parent: &'a Resolved<'a>,
        elem: ElemSource,
    },
}

/// How the current element of a value path is reached.
#[derive(Clone, Copy)]
enum ElemSource {
    /// JSON array elements: `je.value`/`je.v` (exact) and `jc.value`/`jc.v` (folded).
    Json,
    /// A row of `scim_group_members` aliased `gm` (with `g` the group for `display`).
    Membership(Side),
}

/// Side tables that hold a multi-valued attribute outside the document.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    /// User `emails`: `scim_user_emails` (only `value` is there; the rest is in the doc).
    Emails,
    /// Group `members`: rows of `scim_group_members` for this group.
    Members,
    /// User `groups`: rows of `scim_group_members` naming this user.
    Groups,
}

enum Target {
    /// A column of the resource table.
    Column {
        expr: &'static str,
        ci: bool,
        kind: AttrType,
    },
    /// A single value inside the document.
    Json {
        segments: Vec<String>,
        ci: bool,
        kind: AttrType,
    },
    /// A sub-attribute (or the implied `value`) of the elements of a multi-valued
    /// attribute inside the document.
    Elements(Elements),
    /// A multi-valued attribute in a side table.
    Side(Side),
}

/// A sub-attribute (or the implied `value`) of the elements of a JSON array.
struct Elements {
    /// The JSON path of the array.
    array: Vec<String>,
    /// The sub-attribute; None for the element itself (simple multi-valued attributes).
    sub: Option<String>,
    ci: bool,
    kind: AttrType,
}

impl Elements {
    /// The JSON path of the first element's value.
    fn first_value(&self) -> Vec<String> {
        let mut segments = self.array.clone();
        segments.push("0".to_owned());
        segments.extend(self.sub.clone());
        segments
    }
}

fn doc(ci: bool) -> &'static str {
    if ci { "r.doc_ci" } else { "r.doc" }
}

fn invalid(msg: String) -> ScimError {
    ScimError::InvalidFilter(msg)
}

impl Ctx<'_> {
    fn resolve(&self, path: &AttrPath) -> Result<Resolved<'_>, ScimError> {
        let resolved = self.registry.resolve(self.rt, path).or_else(|e| {
            // Entra filters `manager eq "id"` without the enterprise URN: an unqualified
            // name that only an extension defines is taken from that extension.
            let found = self.rt.extensions.iter().find_map(|(urn, _)| {
                let qualified = AttrPath {
                    urn: Some((*urn).to_owned()),
                    ..path.clone()
                };
                self.registry.resolve(self.rt, &qualified).ok()
            });
            match (path.urn.as_ref(), found) {
                (None, Some(r)) => Ok(r),
                _ => Err(match e {
                    ScimError::InvalidFilter(_) => e,
                    other => invalid(format!("invalid filter: {}", other.detail())),
                }),
            }
        })?;
        // A single-valued complex attribute compared as a whole means its `value`
        // (`manager eq "id"`), as RFC 7644 §3.4.2.2 says of multi-valued ones.
        if resolved.sub.is_none()
            && !resolved.attr.multi_valued
            && resolved.attr.kind == AttrType::Complex
            && let Some(value) = resolved
                .attr
                .sub_attributes
                .iter()
                .find(|s| s.name == "value")
        {
            return Ok(Resolved {
                sub: Some(value),
                ..resolved
            });
        }
        Ok(resolved)
    }

    fn filter(&self, q: &mut Q, f: &Filter, scope: &Scope<'_>) -> Result<(), ScimError> {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let op = if matches!(f, Filter::And(..)) {
                    " AND "
                } else {
                    " OR "
                };
                q.push("(");
                self.filter(q, a, scope)?;
                q.push(op);
                self.filter(q, b, scope)?;
                q.push(")");
            }
            Filter::Not(inner) => {
                // A comparison on a missing value is NULL in SQL; collapse it to false
                // before negating, so `not (x eq 1)` holds where x is absent.
                q.push("(NOT COALESCE(");
                self.filter(q, inner, scope)?;
                q.push(", FALSE))");
            }
            Filter::Present(path) => self.attr_expr(q, path, None, scope)?,
            Filter::Compare { path, op, value } => {
                if *op == CompareOp::Ne {
                    // `ne` is the negation of `eq`, also where the attribute is absent.
                    q.push("(NOT COALESCE(");
                    self.attr_expr(q, path, Some((CompareOp::Eq, value)), scope)?;
                    q.push(", FALSE))");
                } else {
                    self.attr_expr(q, path, Some((*op, value)), scope)?;
                }
            }
            Filter::ValuePath { path, filter } => self.value_path(q, path, filter, scope)?,
        }
        Ok(())
    }

    /// `path op value` (or `path pr` when `cmp` is None).
    fn attr_expr(
        &self,
        q: &mut Q,
        path: &AttrPath,
        cmp: Option<(CompareOp, &CompValue)>,
        scope: &Scope<'_>,
    ) -> Result<(), ScimError> {
        match scope {
            Scope::Resource => {
                let resolved = self.resolve(path)?;
                match self.target(&resolved)? {
                    Target::Column { expr, ci, kind } => {
                        check_op(path, kind, cmp)?;
                        self.scalar(q, expr, ci, kind, cmp)
                    }
                    Target::Json { segments, ci, kind } => {
                        check_op(path, kind, cmp)?;
                        let expr = json_scalar(self.dialect, doc(ci), &segments, kind);
                        self.scalar(q, &expr, ci, kind, cmp)
                    }
                    Target::Elements(e) => {
                        check_op(path, e.kind, cmp)?;
                        self.elements(q, &e, cmp)
                    }
                    Target::Side(side) => {
                        let sub = resolved.sub.map_or("value", |s| s.name.as_str());
                        self.side(q, side, sub, &resolved, cmp, path)
                    }
                }
            }
            Scope::Element { parent, elem } => {
                // Inside `attr[...]`: paths name sub-attributes of `attr`.
                let sub = parent
                    .attr
                    .sub_attributes
                    .iter()
                    .find(|s| path.sub.is_none() && s.name.eq_ignore_ascii_case(&path.name))
                    .ok_or_else(|| {
                        invalid(format!(
                            "invalid filter: \"{}\" is not a sub-attribute of \"{}\"",
                            path, parent.attr.name
                        ))
                    })?;
                check_op(path, sub.kind, cmp)?;
                let ci = !sub.case_exact && is_textual(sub.kind);
                match elem {
                    ElemSource::Json => {
                        let expr = element_scalar(self.dialect, ci, &sub.name, sub.kind);
                        self.scalar(q, &expr, ci, sub.kind, cmp)
                    }
                    ElemSource::Membership(side) => {
                        let expr =
                            membership_column(self.dialect, *side, &sub.name).ok_or_else(|| {
                                invalid(format!("invalid filter: {path} cannot be filtered on"))
                            })?;
                        self.scalar(q, expr, ci, sub.kind, cmp)
                    }
                }
            }
        }
    }

    /// Maps a resolved attribute to where it lives.
    fn target(&self, r: &Resolved<'_>) -> Result<Target, ScimError> {
        let kind = self.rt.kind;
        let top = r.attr.name.as_str();
        let sub = r.sub.map(|s| s.name.as_str());
        let leaf = r.sub.unwrap_or(r.attr);
        let ci = !leaf.case_exact && is_textual(leaf.kind);
        if r.core {
            let column = match (kind, top, sub) {
                (_, "id", None) => Some(("r.id", false, AttrType::String)),
                (_, "externalId", None) => Some(("r.external_id", false, AttrType::String)),
                (_, "meta", Some("created")) => Some(("r.created_at", false, AttrType::DateTime)),
                (_, "meta", Some("lastModified")) => {
                    Some(("r.updated_at", false, AttrType::DateTime))
                }
                (ResourceKind::User, "userName", None) => {
                    Some(("r.user_name_norm", true, AttrType::String))
                }
                (ResourceKind::User, "active", None) => {
                    Some(("r.active", false, AttrType::Boolean))
                }
                (ResourceKind::Group, "displayName", None) => {
                    Some(("r.display_name_norm", true, AttrType::String))
                }
                _ => None,
            };
            if let Some((expr, ci, kind)) = column {
                return Ok(Target::Column { expr, ci, kind });
            }
            if top == "meta" {
                return Err(invalid(format!(
                    "invalid filter: meta.{} cannot be filtered on",
                    sub.unwrap_or("")
                )));
            }
            match (kind, top) {
                (ResourceKind::User, "emails") if matches!(sub, None | Some("value")) => {
                    return Ok(Target::Side(Side::Emails));
                }
                (ResourceKind::Group, "members") => return Ok(Target::Side(Side::Members)),
                (ResourceKind::User, "groups") => return Ok(Target::Side(Side::Groups)),
                _ => {}
            }
        }
        let mut segments = Vec::new();
        if !r.core {
            segments.push(r.schema.to_owned());
        }
        segments.push(top.to_owned());
        if r.attr.multi_valued {
            // RFC 7644 §3.4.2.2: a multi-valued complex attribute without a sub-attribute
            // is compared on its `value`.
            let sub = match (r.attr.kind, sub) {
                (_, Some(s)) => Some(s.to_owned()),
                (AttrType::Complex, None) => Some("value".to_owned()),
                (_, None) => None,
            };
            let leaf = match &sub {
                Some(name) => r
                    .attr
                    .sub_attributes
                    .iter()
                    .find(|s| &s.name == name)
                    .unwrap_or(leaf),
                None => leaf,
            };
            let ci = !leaf.case_exact && is_textual(leaf.kind);
            return Ok(Target::Elements(Elements {
                array: segments,
                sub,
                ci,
                kind: leaf.kind,
            }));
        }
        if leaf.kind == AttrType::Complex {
            return Err(invalid(format!(
                "invalid filter: {} is complex; name one of its sub-attributes",
                r.attr.name
            )));
        }
        segments.extend(sub.map(ToOwned::to_owned));
        Ok(Target::Json {
            segments,
            ci,
            kind: leaf.kind,
        })
    }

    /// `expr op ?` for a single value, or a presence test.
    fn scalar(
        &self,
        q: &mut Q,
        expr: &str,
        ci: bool,
        kind: AttrType,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<(), ScimError> {
        let Some((op, value)) = cmp else {
            q.push("(").push(expr).push(" IS NOT NULL");
            if is_textual(kind) {
                q.push(" AND ").push(expr).push(" <> ''");
            }
            q.push(")");
            return Ok(());
        };
        if matches!(value, CompValue::Null) {
            // `eq null` means absent (RFC 7644 §3.4.2.2 treats null as no value).
            q.push("(").push(expr).push(" IS NULL)");
            return Ok(());
        }
        let bound = bind_value(value, kind, ci)?;
        if let SqlValue::Text(t) = &bound
            && !super::can_match(t)
        {
            // A literal no stored value can equal, contain or order against: no match
            // (and `ne`, the NOT of this, matches every value present), as the same
            // expression with an absent value gives.
            q.push("(").push(expr).push(" <> ").push(expr).push(")");
            return Ok(());
        }
        let text_cmp = |expr: &str| match self.dialect {
            Dialect::Postgres => format!("({expr}) COLLATE \"C\""),
            Dialect::Sqlite => expr.to_owned(),
        };
        match op {
            CompareOp::Eq | CompareOp::Ne => {
                q.push("(")
                    .push(expr)
                    .push(" = ")
                    .push_bind(bound)
                    .push(")");
            }
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
                let sym = match op {
                    CompareOp::Gt => " > ",
                    CompareOp::Ge => " >= ",
                    CompareOp::Lt => " < ",
                    _ => " <= ",
                };
                let lhs = if is_textual(kind) {
                    text_cmp(expr)
                } else {
                    expr.to_owned()
                };
                q.push("(").push(&lhs).push(sym).push_bind(bound).push(")");
            }
            CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                let SqlValue::Text(text) = bound else {
                    return Err(invalid(format!(
                        "invalid filter: {op:?} needs a string value",
                    )));
                };
                self.pattern(q, expr, op, &text);
            }
        }
        Ok(())
    }

    /// `co`/`sw`/`ew` as a case-sensitive pattern match with the wildcards escaped.
    fn pattern(&self, q: &mut Q, expr: &str, op: CompareOp, text: &str) {
        let (head, tail) = match op {
            CompareOp::Co => (true, true),
            CompareOp::Sw => (false, true),
            _ => (true, false),
        };
        match self.dialect {
            // GLOB is case-sensitive (LIKE folds ASCII case in SQLite) and still uses the
            // index for a prefix.
            Dialect::Sqlite => {
                let mut pat = String::new();
                if head {
                    pat.push('*');
                }
                for c in text.chars() {
                    match c {
                        '*' => pat.push_str("[*]"),
                        '?' => pat.push_str("[?]"),
                        '[' => pat.push_str("[[]"),
                        _ => pat.push(c),
                    }
                }
                if tail {
                    pat.push('*');
                }
                q.push("(")
                    .push(expr)
                    .push(" GLOB ")
                    .push_bind(pat)
                    .push(")");
            }
            Dialect::Postgres => {
                let mut pat = String::new();
                if head {
                    pat.push('%');
                }
                for c in text.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pat.push('\\');
                    }
                    pat.push(c);
                }
                if tail {
                    pat.push('%');
                }
                q.push("(")
                    .push(expr)
                    .push(" LIKE ")
                    .push_bind(pat)
                    .push(" ESCAPE '\\')");
            }
        }
    }

    /// A comparison on any element of a multi-valued attribute in the document.
    fn elements(
        &self,
        q: &mut Q,
        e: &Elements,
        cmp: Option<(CompareOp, &CompValue)>,
    ) -> Result<(), ScimError> {
        let from = json_elements(self.dialect, doc(e.ci), &e.array, "je");
        let expr = match &e.sub {
            Some(name) => element_field(self.dialect, "je", name, e.kind),
            None => element_self(self.dialect, "je", e.kind),
        };
        q.push("EXISTS (SELECT 1 FROM ").push(&from).push(" WHERE ");
        self.scalar(q, &expr, e.ci, e.kind, cmp)?;
        q.push(")");
        Ok(())
    }

    /// A comparison on a side-table attribute (emails, members, groups).
    fn side(
        &self,
        q: &mut Q,
        side: Side,
        sub: &str,
        resolved: &Resolved<'_>,
        cmp: Option<(CompareOp, &CompValue)>,
        path: &AttrPath,
    ) -> Result<(), ScimError> {
        let leaf = resolved
            .attr
            .sub_attributes
            .iter()
            .find(|s| s.name == sub)
            .ok_or_else(|| invalid(format!("invalid filter: {path} cannot be filtered on")))?;
        check_op(path, leaf.kind, cmp)?;
        let ci = !leaf.case_exact && is_textual(leaf.kind);
        match side {
            Side::Emails => {
                // Starts from the (org_id, value_norm) index, never a scan of users.
                q.push("r.seq IN (SELECT e.user_seq FROM scim_user_emails e WHERE e.org_id = ")
                    .push_bind(self.org_id)
                    .push(" AND ");
                self.scalar(q, "e.value_norm", true, AttrType::String, cmp)?;
                q.push(")");
            }
            Side::Members | Side::Groups => {
                let column = membership_column(self.dialect, side, sub).ok_or_else(|| {
                    invalid(format!("invalid filter: {path} cannot be filtered on"))
                })?;
                q.push(membership_prefix(side));
                self.scalar(q, column, ci, leaf.kind, cmp)?;
                q.push(")");
            }
        }
        Ok(())
    }

    /// `attr[filter]`: some element of `attr` satisfies `filter`.
    fn value_path(
        &self,
        q: &mut Q,
        path: &AttrPath,
        inner: &Filter,
        scope: &Scope<'_>,
    ) -> Result<(), ScimError> {
        if !matches!(scope, Scope::Resource) {
            return Err(invalid(
                "invalid filter: value paths cannot be nested".to_owned(),
            ));
        }
        let resolved = self.resolve(path)?;
        if resolved.sub.is_some()
            || !resolved.attr.multi_valued
            || resolved.attr.kind != AttrType::Complex
        {
            return Err(invalid(format!(
                "invalid filter: {path}[...] needs a multi-valued complex attribute"
            )));
        }
        match self.target(&resolved)? {
            Target::Side(side @ (Side::Members | Side::Groups)) => {
                q.push(membership_prefix(side));
                let scope = Scope::Element {
                    parent: &resolved,
                    elem: ElemSource::Membership(side),
                };
                self.filter(q, inner, &scope)?;
                q.push(")");
                Ok(())
            }
            Target::Side(Side::Emails) | Target::Elements(_) => {
                let mut array = Vec::new();
                if !resolved.core {
                    array.push(resolved.schema.to_owned());
                }
                array.push(resolved.attr.name.clone());
                let from_exact = json_elements(self.dialect, "r.doc", &array, "je");
                let from_ci = json_elements(self.dialect, "r.doc_ci", &array, "jc");
                // Both the exact and the folded copy of the same element, paired by
                // position, so case-exact and case-insensitive sub-attributes can mix.
                let on = match self.dialect {
                    Dialect::Sqlite => "jc.key = je.key",
                    Dialect::Postgres => "jc.n = je.n",
                };
                q.push("EXISTS (SELECT 1 FROM ")
                    .push(&from_exact)
                    .push(" JOIN ")
                    .push(&from_ci)
                    .push(" ON ")
                    .push(on)
                    .push(" WHERE ");
                let scope = Scope::Element {
                    parent: &resolved,
                    elem: ElemSource::Json,
                };
                self.filter(q, inner, &scope)?;
                q.push(")");
                Ok(())
            }
            Target::Column { .. } | Target::Json { .. } => Err(invalid(format!(
                "invalid filter: {path}[...] needs a multi-valued complex attribute"
            ))),
        }
    }
}

/// Opens `r.seq IN (SELECT ... WHERE ` over membership rows; the condition and `)` follow.
/// The IN form starts from an index on the membership table (member → groups for
/// `members.value eq`, group → members for `groups.value eq`), never a scan of resources.
/// It yields `seq`, not `id`: `r.seq IN (...)` is a lookup on the `(org_id, seq)` index
/// that the enclosing `r.org_id = ?` already uses, where SQLite, lacking statistics,
/// would rather walk the organization's rows than probe the `id` index.
fn membership_prefix(side: Side) -> &'static str {
    match side {
        Side::Members => {
            "r.seq IN (SELECT rg.seq FROM scim_group_members gm \
             JOIN scim_groups rg ON rg.id = gm.group_id \
             LEFT JOIN scim_users mu ON mu.id = gm.member_id \
             LEFT JOIN scim_groups mg ON mg.id = gm.member_id WHERE "
        }
        _ => {
            "r.seq IN (SELECT ru.seq FROM scim_group_members gm \
             JOIN scim_users ru ON ru.id = gm.member_id \
             JOIN scim_groups g ON g.id = gm.group_id WHERE "
        }
    }
}

/// Columns of a membership row for the sub-attributes of `members` / `groups`. `type` and
/// `display` are not caseExact: they come folded, as the literal they meet is.
fn membership_column(dialect: Dialect, side: Side, sub: &str) -> Option<&'static str> {
    match (side, sub) {
        (Side::Members, "value") => Some("gm.member_id"),
        (Side::Groups, "value") => Some("gm.group_id"),
        // The server writes only these two spellings; their folds are ASCII.
        (Side::Members, "type") => {
            Some("(CASE gm.member_type WHEN 'User' THEN 'user' WHEN 'Group' THEN 'group' END)")
        }
        // A user's displayName folded is in its `doc_ci`; a group's in its norm column.
        (Side::Members, "display") => Some(match dialect {
            Dialect::Sqlite => {
                "COALESCE(json_extract(mu.doc_ci, '$.\"displayName\"'), mg.display_name_norm)"
            }
            Dialect::Postgres => "COALESCE(mu.doc_ci ->> 'displayName', mg.display_name_norm)",
        }),
        (Side::Groups, "display") => Some("g.display_name_norm"),
        _ => None,
    }
}

fn is_textual(kind: AttrType) -> bool {
    matches!(
        kind,
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime
    )
}

/// Rejects operators the attribute's type doesn't support (RFC 7644 §3.4.2.2: gt/ge/lt/le
/// on booleans or binary, co/sw/ew on non-strings).
fn check_op(
    path: &AttrPath,
    kind: AttrType,
    cmp: Option<(CompareOp, &CompValue)>,
) -> Result<(), ScimError> {
    let Some((op, value)) = cmp else {
        return Ok(());
    };
    let ordered = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let ok = match kind {
        AttrType::Boolean => !ordered && !substring,
        AttrType::Binary => !ordered,
        AttrType::Integer | AttrType::Decimal => !substring,
        AttrType::Complex => false,
        AttrType::String | AttrType::Reference | AttrType::DateTime => true,
    };
    let value_ok = match (kind, value) {
        (_, CompValue::Null) => matches!(op, CompareOp::Eq | CompareOp::Ne),
        (AttrType::Boolean, CompValue::Bool(_)) => true,
        (AttrType::Integer | AttrType::Decimal, CompValue::Number(_)) => true,
        (
            AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime,
            CompValue::Str(_),
        ) => true,
        _ => false,
    };
    if !ok {
        return Err(invalid(format!(
            "invalid filter: operator {} is not supported on {path}",
            op.as_str()
        )));
    }
    if !value_ok {
        return Err(invalid(format!(
            "invalid filter: the value compared with {path} has the wrong type"
        )));
    }
    Ok(())
}

/// The value to bind, normalised like the stored data.
fn bind_value(value: &CompValue, kind: AttrType, ci: bool) -> Result<SqlValue, ScimError> {
    Ok(match value {
        CompValue::Null => SqlValue::Null,
        CompValue::Bool(b) => SqlValue::Bool(*b),
        CompValue::Number(n) => match (kind, n.as_i64()) {
            (AttrType::Integer, Some(i)) => SqlValue::Int(i),
            _ => SqlValue::Float(
                n.as_f64()
                    .ok_or_else(|| invalid("invalid filter: number out of range".to_owned()))?,
            ),
        },
        CompValue::Str(s) if kind == AttrType::DateTime => {
            SqlValue::Text(crate::clock::normalize_timestamp(s).ok_or_else(|| {
                invalid(format!(
                    "invalid filter: {s:?} is not a date-time (RFC 3339, e.g. 2024-05-13T04:42:34Z)"
                ))
            })?)
        }
        CompValue::Str(s) if ci => SqlValue::Text(scim::text::fold_key(s)),
        CompValue::Str(s) => SqlValue::Text(s.clone()),
    })
}

fn sqlite_json_path<S: AsRef<str>>(segments: &[S]) -> String {
    let mut p = String::from("$");
    for s in segments {
        let s = s.as_ref();
        if s.bytes().all(|b| b.is_ascii_digit()) {
            p.push('[');
            p.push_str(s);
            p.push(']');
        } else {
            // Names come from the schema documents, never from the request.
            p.push_str(".\"");
            p.push_str(s);
            p.push('"');
        }
    }
    p
}

fn pg_json_chain<S: AsRef<str>>(base: &str, segments: &[S], last_as_text: bool) -> String {
    let mut e = base.to_owned();
    let n = segments.len();
    for (i, s) in segments.iter().enumerate() {
        let s = s.as_ref();
        let arrow = if last_as_text && i + 1 == n {
            "->>"
        } else {
            "->"
        };
        if s.bytes().all(|b| b.is_ascii_digit()) {
            e = format!("({e} {arrow} {s})");
        } else {
            e = format!("({e} {arrow} '{s}')");
        }
    }
    e
}

/// A scalar inside a document column, typed for comparison.
fn json_scalar(dialect: Dialect, column: &str, segments: &[String], kind: AttrType) -> String {
    match dialect {
        Dialect::Sqlite => format!("json_extract({column}, '{}')", sqlite_json_path(segments)),
        Dialect::Postgres => pg_typed(&pg_json_chain(column, segments, true), kind),
    }
}

fn pg_typed(text_expr: &str, kind: AttrType) -> String {
    match kind {
        AttrType::Boolean => format!("({text_expr})::boolean"),
        AttrType::Integer | AttrType::Decimal => format!("({text_expr})::numeric"),
        _ => text_expr.to_owned(),
    }
}

/// `FROM`-clause item iterating a JSON array, exposing `alias` as the element.
fn json_elements(dialect: Dialect, column: &str, array: &[String], alias: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "json_each({column}, '{}') AS {alias}",
            sqlite_json_path(array)
        ),
        Dialect::Postgres => format!(
            "jsonb_array_elements(CASE WHEN jsonb_typeof({0}) = 'array' THEN {0} ELSE '[]'::jsonb END) WITH ORDINALITY AS {alias}(v, n)",
            pg_json_chain(column, array, false)
        ),
    }
}

/// A field of the current element `alias`.
fn element_field(dialect: Dialect, alias: &str, name: &str, kind: AttrType) -> String {
    match dialect {
        Dialect::Sqlite => format!("json_extract({alias}.value, '$.\"{name}\"')"),
        Dialect::Postgres => pg_typed(&format!("({alias}.v ->> '{name}')"), kind),
    }
}

/// The current element `alias` itself (multi-valued simple attributes).
fn element_self(dialect: Dialect, alias: &str, kind: AttrType) -> String {
    match dialect {
        Dialect::Sqlite => format!("{alias}.value"),
        Dialect::Postgres => pg_typed(&format!("({alias}.v #>> '{{}}')"), kind),
    }
}

/// A sub-attribute of the current value-path element, from the exact or folded copy.
fn element_scalar(dialect: Dialect, ci: bool, name: &str, kind: AttrType) -> String {
    element_field(dialect, if ci { "jc" } else { "je" }, name, kind)
}

#[cfg(test)]
mod tests;
