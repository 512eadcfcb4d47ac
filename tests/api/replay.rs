//! Replays the IdP request sequences written down in `conformance/` against a
//! live server.
//!
//! Each file is one scenario: a list of HTTP steps with the status, headers and
//! JSON assertions the server must answer with, plus values captured from one
//! response and substituted into later requests as `${name}`. The format is
//! documented in `conformance/README.md`; [`load_scenario`] is its reference
//! and rejects anything it does not know, so a typo in a file fails loudly
//! instead of silently checking nothing.
//!
//! ```ignore
//! let base = format!("http://127.0.0.1:{port}/scim/v2");
//! for file in replay::conformance_files(Some("okta"))? {
//!     replay::replay_file(&client, &base, &token, &file).await.unwrap();
//! }
//! ```

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

/// The token sent by steps with `"auth": "bad"`: well-formed, never issued.
const BAD_TOKEN: &str = "rollcall-conformance-invalid-token";
/// Variables every scenario may use without defining them.
const BUILTINS: [&str; 2] = ["unique", "token"];
/// Longest response body quoted in a failure message.
const MAX_QUOTED_BODY: usize = 4000;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs every step of `file` in order against the SCIM base URL `scim_base`
/// (for example `http://127.0.0.1:PORT/scim/v2`), authenticating with the
/// bearer `token`. Returns the number of steps run, or a message naming the
/// file, the step, what was expected, what came back and the response body.
pub async fn replay_file(
    client: &reqwest::Client,
    scim_base: &str,
    token: &str,
    file: &Path,
) -> Result<usize, String> {
    let scenario = load_scenario(file)?;
    let mut vars = Vars::default();
    vars.set("unique", Value::String(unique_suffix()));
    vars.set("token", Value::String(token.to_owned()));
    for (name, template) in &scenario.vars {
        let value = vars
            .subst_value(template)
            .map_err(|e| format!("{}: vars.{name}: {e}", file.display()))?;
        vars.set(name, value);
    }

    let base = scim_base.trim_end_matches('/');
    for (index, step) in scenario.steps.iter().enumerate() {
        let at = format!("{}: step {} \"{}\"", file.display(), index + 1, step.name);
        run_step(client, base, token, step, &mut vars)
            .await
            .map_err(|e| format!("{at} {e}"))?;
    }
    Ok(scenario.steps.len())
}

/// The `conformance/` directory: `$ROLLCALL_CONFORMANCE_DIR` if set, else the
/// one next to this crate's `Cargo.toml`.
pub fn conformance_dir() -> PathBuf {
    match std::env::var_os("ROLLCALL_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance"),
    }
}

/// The scenario files of one IdP family (`"okta"`, `"entra"`, `"google"`), or
/// of all of them with `None`, sorted by path so runs are reproducible. A
/// missing or empty directory is an error: a conformance run that finds
/// nothing to replay must not pass.
pub fn conformance_files(family: Option<&str>) -> Result<Vec<PathBuf>, String> {
    let root = conformance_dir();
    let list = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("read {}: {e}", dir.display()))?;
        let mut paths = Vec::new();
        for entry in entries {
            paths.push(
                entry
                    .map_err(|e| format!("read {}: {e}", dir.display()))?
                    .path(),
            );
        }
        Ok(paths)
    };
    let dirs: Vec<PathBuf> = match family {
        Some(family) => vec![root.join(family)],
        None => list(&root)?.into_iter().filter(|p| p.is_dir()).collect(),
    };
    let mut files = Vec::new();
    for dir in dirs {
        files.extend(
            list(&dir)?
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "json")),
        );
    }
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "no scenario files for {family:?} under {}",
            root.display()
        ));
    }
    Ok(files)
}

// ---------------------------------------------------------------------------
// The scenario model, parsed strictly from JSON.

/// One parsed scenario file.
#[derive(Debug)]
pub struct Scenario {
    pub name: String,
    pub steps: Vec<Step>,
    vars: Vec<(String, Value)>,
}

#[derive(Debug)]
pub struct Step {
    pub name: String,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    auth: Auth,
    body: Option<Body>,
    expect: Expect,
    capture: Vec<(String, CaptureFrom)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Auth {
    Token,
    None,
    Bad,
}

#[derive(Debug)]
enum Body {
    Json(Value),
    Raw(String),
}

#[derive(Debug)]
struct Expect {
    status: Vec<u16>,
    headers: Vec<(String, HeaderCheck)>,
    json: Vec<Assertion>,
    empty_body: bool,
}

#[derive(Debug)]
enum HeaderCheck {
    Equals(String),
    Exists(bool),
}

#[derive(Debug)]
struct Assertion {
    pointer: String,
    check: Check,
}

#[derive(Debug)]
enum Check {
    Equals(Value),
    NotEquals(Value),
    EqualsIgnoreCase(String),
    Exists(bool),
    Empty(bool),
    Length(usize),
    MinLength(usize),
    Contains(Value),
    AnyMatch(Value),
    NoneMatch(Value),
    Type(String),
    Gte(f64),
    Lte(f64),
}

#[derive(Debug)]
enum CaptureFrom {
    Pointer(String),
    Header(String),
}

/// Reads and validates a scenario file without running it: unknown keys,
/// missing fields, bad JSON pointers and `${var}` references to variables
/// that are not defined before the step that uses them are all errors.
pub fn load_scenario(file: &Path) -> Result<Scenario, String> {
    let at = |e: String| format!("{}: {e}", file.display());
    let text = std::fs::read_to_string(file).map_err(|e| at(format!("cannot read: {e}")))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| at(format!("not valid JSON: {e}")))?;
    let scenario = parse_scenario(&json).map_err(at)?;
    check_references(&scenario).map_err(at)?;
    Ok(scenario)
}

fn parse_scenario(json: &Value) -> Result<Scenario, String> {
    let obj = as_object(json, "the file")?;
    only_keys(
        obj,
        "the file",
        &["name", "description", "source", "vars", "steps"],
    )?;
    let name = req_str(obj, "name", "the file")?;
    match obj.get("source") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(Value::Array(items))
            if !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.as_str().is_some_and(|s| !s.trim().is_empty())) => {}
        _ => return Err("\"source\" must be a non-empty string or array of strings".into()),
    }
    if let Some(d) = obj.get("description") {
        d.as_str().ok_or("\"description\" must be a string")?;
    }
    let mut vars = Vec::new();
    if let Some(v) = obj.get("vars") {
        for (k, v) in as_object(v, "vars")? {
            check_var_name(k)?;
            if BUILTINS.contains(&k.as_str()) {
                return Err(format!("vars.{k} shadows a builtin variable"));
            }
            vars.push((k.clone(), v.clone()));
        }
    }
    let steps_json = obj
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("\"steps\" must be an array")?;
    if steps_json.is_empty() {
        return Err("\"steps\" is empty".into());
    }
    let mut steps = Vec::new();
    for (i, s) in steps_json.iter().enumerate() {
        let step = parse_step(s).map_err(|e| format!("step {}: {e}", i + 1))?;
        steps.push(step);
    }
    Ok(Scenario { name, steps, vars })
}

fn parse_step(json: &Value) -> Result<Step, String> {
    let obj = as_object(json, "step")?;
    only_keys(
        obj,
        "step",
        &[
            "name", "note", "method", "path", "query", "headers", "auth", "body", "rawBody",
            "expect", "capture",
        ],
    )?;
    let name = req_str(obj, "name", "step")?;
    if let Some(n) = obj.get("note") {
        n.as_str().ok_or("\"note\" must be a string")?;
    }
    let method_str = req_str(obj, "method", "step")?;
    let method = match method_str.as_str() {
        "GET" => Method::GET,
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "PATCH" => Method::PATCH,
        "DELETE" => Method::DELETE,
        other => return Err(format!("unsupported method {other:?}")),
    };
    let path = req_str(obj, "path", "step")?;
    if !path.starts_with('/') {
        return Err(format!(
            "path {path:?} must start with '/' (it is relative to the SCIM base)"
        ));
    }
    let query = string_pairs(obj.get("query"), "query")?;
    let headers = string_pairs(obj.get("headers"), "headers")?;
    for (k, _) in &headers {
        HeaderName::from_bytes(k.as_bytes()).map_err(|_| format!("bad header name {k:?}"))?;
    }
    let auth = match obj.get("auth") {
        None => Auth::Token,
        Some(Value::String(s)) if s == "token" => Auth::Token,
        Some(Value::String(s)) if s == "none" => Auth::None,
        Some(Value::String(s)) if s == "bad" => Auth::Bad,
        Some(other) => {
            return Err(format!(
                "auth must be \"token\", \"none\" or \"bad\", not {other}"
            ));
        }
    };
    let body = match (obj.get("body"), obj.get("rawBody")) {
        (Some(_), Some(_)) => return Err("a step has \"body\" or \"rawBody\", not both".into()),
        (Some(b), None) => Some(Body::Json(b.clone())),
        (None, Some(Value::String(raw))) => Some(Body::Raw(raw.clone())),
        (None, Some(_)) => return Err("\"rawBody\" must be a string".into()),
        (None, None) => None,
    };
    if body.is_some() && (method == Method::GET || method == Method::DELETE) {
        return Err(format!("{method} steps carry no body"));
    }
    let expect = parse_expect(obj.get("expect").ok_or("missing \"expect\"")?)?;
    let mut capture = Vec::new();
    if let Some(c) = obj.get("capture") {
        for (var, from) in as_object(c, "capture")? {
            check_var_name(var)?;
            if BUILTINS.contains(&var.as_str()) {
                return Err(format!("capture.{var} shadows a builtin variable"));
            }
            let from = match from {
                Value::String(p) => {
                    check_pointer(p)?;
                    CaptureFrom::Pointer(p.clone())
                }
                Value::Object(o) => {
                    only_keys(o, "capture", &["header"])?;
                    let h = req_str(o, "header", "capture")?;
                    CaptureFrom::Header(h)
                }
                _ => {
                    return Err(format!(
                        "capture.{var} must be a JSON pointer or {{\"header\": name}}"
                    ));
                }
            };
            capture.push((var.clone(), from));
        }
    }
    Ok(Step {
        name,
        method,
        path,
        query,
        headers,
        auth,
        body,
        expect,
        capture,
    })
}

fn parse_expect(json: &Value) -> Result<Expect, String> {
    let obj = as_object(json, "expect")?;
    only_keys(obj, "expect", &["status", "headers", "json", "emptyBody"])?;
    let status = match obj.get("status") {
        Some(Value::Number(n)) => vec![status_code(n)?],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|i| {
                i.as_number()
                    .ok_or("status must be numbers".to_string())
                    .and_then(status_code)
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("expect.status must be a status code or a non-empty array of them".into()),
    };
    let mut headers = Vec::new();
    if let Some(h) = obj.get("headers") {
        for (name, check) in as_object(h, "expect.headers")? {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("bad header name {name:?}"))?;
            let check = match check {
                Value::String(s) => HeaderCheck::Equals(s.clone()),
                Value::Object(o) => {
                    only_keys(o, "expect.headers", &["exists"])?;
                    let b = o
                        .get("exists")
                        .and_then(Value::as_bool)
                        .ok_or("expect.headers: exists must be a boolean")?;
                    HeaderCheck::Exists(b)
                }
                _ => {
                    return Err(format!(
                        "expect.headers.{name} must be a string or {{\"exists\": bool}}"
                    ));
                }
            };
            headers.push((name.clone(), check));
        }
    }
    let mut json_checks = Vec::new();
    if let Some(j) = obj.get("json") {
        let items = j.as_array().ok_or("expect.json must be an array")?;
        for (i, a) in items.iter().enumerate() {
            json_checks.push(parse_assertion(a).map_err(|e| format!("expect.json[{i}]: {e}"))?);
        }
    }
    let empty_body = match obj.get("emptyBody") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("expect.emptyBody must be a boolean".into()),
    };
    if empty_body && !json_checks.is_empty() {
        return Err("expect.emptyBody contradicts expect.json".into());
    }
    Ok(Expect {
        status,
        headers,
        json: json_checks,
        empty_body,
    })
}

fn parse_assertion(json: &Value) -> Result<Assertion, String> {
    let obj = as_object(json, "assertion")?;
    let pointer = req_str(obj, "pointer", "assertion")?;
    check_pointer(&pointer)?;
    let ops: Vec<(&String, &Value)> = obj.iter().filter(|(k, _)| *k != "pointer").collect();
    let [(op, arg)] = ops.as_slice() else {
        return Err(format!(
            "needs exactly one check besides \"pointer\", found {}",
            ops.len()
        ));
    };
    let count = |v: &Value| {
        v.as_u64()
            .map(|n| n as usize)
            .ok_or(format!("{op} needs a non-negative integer"))
    };
    let number = |v: &Value| v.as_f64().ok_or(format!("{op} needs a number"));
    let check = match op.as_str() {
        "equals" => Check::Equals((*arg).clone()),
        "notEquals" => Check::NotEquals((*arg).clone()),
        "equalsIgnoreCase" => Check::EqualsIgnoreCase(
            arg.as_str()
                .ok_or("equalsIgnoreCase needs a string")?
                .to_owned(),
        ),
        "exists" => Check::Exists(arg.as_bool().ok_or("exists needs a boolean")?),
        "absent" => {
            if arg.as_bool() != Some(true) {
                return Err("absent takes true (use exists for the other way)".into());
            }
            Check::Exists(false)
        }
        "empty" => Check::Empty(arg.as_bool().ok_or("empty needs a boolean")?),
        "length" => Check::Length(count(arg)?),
        "minLength" => Check::MinLength(count(arg)?),
        "contains" => Check::Contains((*arg).clone()),
        "anyMatch" => Check::AnyMatch((*arg).clone()),
        "noneMatch" => Check::NoneMatch((*arg).clone()),
        "type" => {
            let t = arg.as_str().ok_or("type needs a string")?;
            if ![
                "string", "number", "integer", "boolean", "array", "object", "null",
            ]
            .contains(&t)
            {
                return Err(format!("unknown type {t:?}"));
            }
            Check::Type(t.to_owned())
        }
        "gte" => Check::Gte(number(arg)?),
        "lte" => Check::Lte(number(arg)?),
        other => return Err(format!("unknown check {other:?}")),
    };
    Ok(Assertion { pointer, check })
}

/// Every `${name}` must be a builtin, a file variable, or captured by an
/// earlier step; captures become visible from the next step on.
fn check_references(scenario: &Scenario) -> Result<(), String> {
    let mut known: HashSet<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
    for (name, value) in &scenario.vars {
        each_reference(value, &mut |r| {
            if known.contains(r) {
                Ok(())
            } else {
                Err(format!("vars.{name} uses ${{{r}}} before it is defined"))
            }
        })?;
        known.insert(name.clone());
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        let mut templates: Vec<Value> = vec![Value::String(step.path.clone())];
        for (k, v) in step.query.iter().chain(step.headers.iter()) {
            templates.push(Value::String(k.clone()));
            templates.push(Value::String(v.clone()));
        }
        match &step.body {
            Some(Body::Json(v)) => templates.push(v.clone()),
            Some(Body::Raw(s)) => templates.push(Value::String(s.clone())),
            None => {}
        }
        for (_, check) in &step.expect.headers {
            if let HeaderCheck::Equals(s) = check {
                templates.push(Value::String(s.clone()));
            }
        }
        for a in &step.expect.json {
            match &a.check {
                Check::Equals(v)
                | Check::NotEquals(v)
                | Check::Contains(v)
                | Check::AnyMatch(v)
                | Check::NoneMatch(v) => templates.push(v.clone()),
                Check::EqualsIgnoreCase(s) => templates.push(Value::String(s.clone())),
                _ => {}
            }
        }
        for t in &templates {
            each_reference(t, &mut |r| {
                if known.contains(r) {
                    Ok(())
                } else {
                    Err(format!(
                        "step {} \"{}\" uses ${{{r}}}, which no earlier step captures",
                        i + 1,
                        step.name
                    ))
                }
            })?;
        }
        for (var, _) in &step.capture {
            known.insert(var.clone());
        }
    }
    Ok(())
}

fn each_reference(
    value: &Value,
    f: &mut dyn FnMut(&str) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::String(s) => {
            for r in references(s)? {
                f(&r)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| each_reference(v, f)),
        Value::Object(map) => map.values().try_for_each(|v| each_reference(v, f)),
        _ => Ok(()),
    }
}

/// The variable names referenced as `${name}` in `s`.
fn references(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
        let name = &after[..end];
        check_var_name(name)?;
        out.push(name.to_owned());
        rest = &after[end + 1..];
    }
    Ok(out)
}

fn check_var_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(format!("bad variable name {name:?}"))
    }
}

fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "JSON pointer {p:?} must be empty or start with '/'"
        ))
    }
}

fn status_code(n: &serde_json::Number) -> Result<u16, String> {
    match n.as_u64() {
        Some(c @ 100..=599) => Ok(c as u16),
        _ => Err(format!("{n} is not an HTTP status code")),
    }
}

fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{what} must be a JSON object"))
}

fn only_keys(obj: &Map<String, Value>, what: &str, allowed: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "unknown key {k:?} in {what} (allowed: {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

fn req_str(obj: &Map<String, Value>, key: &str, what: &str) -> Result<String, String> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("{what} needs a non-empty string \"{key}\"")),
    }
}

fn string_pairs(v: Option<&Value>, what: &str) -> Result<Vec<(String, String)>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    as_object(v, what)?
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(format!("{what}.{k} must be a string")),
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running a step.

#[derive(Default)]
struct Vars(Vec<(String, Value)>);

impl Vars {
    fn set(&mut self, name: &str, value: Value) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    fn get(&self, name: &str) -> Result<&Value, String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("${{{name}}} is not defined"))
    }

    /// Replaces every `${name}` in `s` with the variable's text (a string as
    /// is, any other JSON value as JSON).
    fn subst_str(&self, s: &str) -> Result<String, String> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {s:?}"))?;
            match self.get(&after[..end])? {
                Value::String(v) => out.push_str(v),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Substitutes inside every string of `v`. A string that is exactly one
    /// `${name}` becomes the variable's JSON value, so a captured number or
    /// object keeps its type.
    fn subst_value(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => {
                let whole = s.starts_with("${") && s.ends_with('}') && s.matches("${").count() == 1;
                if whole {
                    self.get(&s[2..s.len() - 1])?.clone()
                } else {
                    Value::String(self.subst_str(s)?)
                }
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| self.subst_value(i))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.subst_value(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

async fn run_step(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    step: &Step,
    vars: &mut Vars,
) -> Result<(), String> {
    let mut url = format!("{base}{}", vars.subst_str(&step.path)?);
    if !step.query.is_empty() {
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for (k, v) in &step.query {
            url.push(sep);
            url.push_str(&percent_encode(&vars.subst_str(k)?));
            url.push('=');
            url.push_str(&percent_encode(&vars.subst_str(v)?));
            sep = '&';
        }
    }
    let at = format!("({} {url})", step.method);

    let mut headers = HeaderMap::new();
    for (k, v) in &step.headers {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|e| format!("{at}: header {k}: {e}"))?;
        let value = HeaderValue::from_str(&vars.subst_str(v)?)
            .map_err(|e| format!("{at}: header {k}: {e}"))?;
        headers.append(name, value);
    }
    if !headers.contains_key(reqwest::header::AUTHORIZATION) {
        let bearer = match step.auth {
            Auth::Token => Some(token),
            Auth::Bad => Some(BAD_TOKEN),
            Auth::None => None,
        };
        if let Some(t) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|e| format!("{at}: token: {e}"))?;
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
    }
    let body_text = match &step.body {
        Some(Body::Json(v)) => Some(vars.subst_value(v)?.to_string()),
        Some(Body::Raw(s)) => Some(vars.subst_str(s)?),
        None => None,
    };
    if body_text.is_some() && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/scim+json"),
        );
    }

    let mut request = client
        .request(step.method.clone(), &url)
        .headers(headers)
        .timeout(REQUEST_TIMEOUT);
    if let Some(text) = &body_text {
        request = request.body(text.clone());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{at}: request failed: {e}"))?;
    let status = response.status().as_u16();
    let response_headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|e| format!("{at}: reading the body failed: {e}"))?;
    let json: Option<Value> = if text.trim().is_empty() {
        None
    } else {
        serde_json::from_str(&text).ok()
    };

    let mut failures = Vec::new();
    let status_ok = step.expect.status.contains(&status);
    if !status_ok {
        let wanted: Vec<String> = step.expect.status.iter().map(u16::to_string).collect();
        failures.push(format!(
            "status: expected {}, got {status}",
            wanted.join(" or ")
        ));
    }
    for (name, check) in &step.expect.headers {
        let got = response_headers
            .get(name.as_str())
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        match check {
            HeaderCheck::Exists(true) if got.is_none() => {
                failures.push(format!("header {name}: expected present, got none"))
            }
            HeaderCheck::Exists(false) if got.is_some() => failures.push(format!(
                "header {name}: expected absent, got {:?}",
                got.unwrap_or_default()
            )),
            HeaderCheck::Exists(_) => {}
            HeaderCheck::Equals(want) => {
                let want = vars.subst_str(want)?;
                match got {
                    Some(g) if header_matches(&want, &g) => {}
                    Some(g) => {
                        failures.push(format!("header {name}: expected {want:?}, got {g:?}"))
                    }
                    None => failures.push(format!("header {name}: expected {want:?}, got none")),
                }
            }
        }
    }
    if step.expect.empty_body && !text.trim().is_empty() {
        failures.push("body: expected empty".to_owned());
    }
    // With the wrong status the body is usually an error document, and
    // listing every JSON assertion it fails would bury the one line that
    // matters; the body is quoted below anyway.
    if status_ok && (!step.expect.json.is_empty() || !step.capture.is_empty()) {
        match &json {
            None if text.trim().is_empty() => {
                failures.push("body: expected JSON, got an empty body".to_owned())
            }
            None => {
                failures.push("body: expected JSON, got something that does not parse".to_owned())
            }
            Some(doc) => {
                for a in &step.expect.json {
                    if let Err(e) = check_assertion(doc, a, vars) {
                        failures.push(e);
                    }
                }
            }
        }
    }

    if failures.is_empty() {
        for (var, from) in &step.capture {
            let value = match from {
                CaptureFrom::Pointer(p) => json.as_ref().and_then(|doc| doc.pointer(p)).cloned(),
                CaptureFrom::Header(h) => response_headers
                    .get(h.as_str())
                    .map(|v| Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned())),
            };
            match value {
                Some(v) if !v.is_null() => vars.set(var, v),
                _ => failures.push(format!(
                    "capture {var}: {} is missing from the response",
                    describe_capture(from)
                )),
            }
        }
    }
    if failures.is_empty() {
        return Ok(());
    }

    let mut msg = format!("{at} failed:\n");
    for f in &failures {
        let _ = writeln!(msg, "  - {f}");
    }
    if let Some(text) = &body_text {
        let _ = writeln!(
            msg,
            "  request body: {}",
            truncate(text, MAX_QUOTED_BODY / 2)
        );
    }
    let content_type = response_headers
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_else(|| "(none)".to_owned());
    let _ = writeln!(msg, "  response: {status}, content-type {content_type}");
    let shown = match &json {
        Some(doc) => serde_json::to_string_pretty(doc).unwrap_or_else(|_| text.clone()),
        None if text.is_empty() => "(empty)".to_owned(),
        None => text.clone(),
    };
    let _ = write!(
        msg,
        "  response body: {}",
        truncate(&shown, MAX_QUOTED_BODY)
    );
    Err(msg)
}

fn describe_capture(from: &CaptureFrom) -> String {
    match from {
        CaptureFrom::Pointer(p) => format!("body pointer {p:?}"),
        CaptureFrom::Header(h) => format!("header {h}"),
    }
}

/// Media types compare without their parameters unless the expectation
/// names some: `application/scim+json` matches
/// `application/scim+json; charset=utf-8`. Anything else compares exactly.
fn header_matches(want: &str, got: &str) -> bool {
    let norm = |s: &str| {
        s.split(';')
            .map(|p| p.trim().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(";")
    };
    if want.contains('/') && !want.contains(';') {
        got.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case(want.trim()))
    } else if want.contains('/') {
        norm(want) == norm(got)
    } else {
        want == got
    }
}

fn check_assertion(doc: &Value, a: &Assertion, vars: &Vars) -> Result<(), String> {
    let at = if a.pointer.is_empty() {
        "(root)".to_owned()
    } else {
        a.pointer.clone()
    };
    let got = doc.pointer(&a.pointer);
    let show =
        |v: Option<&Value>| v.map_or("nothing".to_owned(), |v| truncate(&v.to_string(), 300));
    let fail = |what: String| Err(format!("{at}: expected {what}, got {}", show(got)));
    match &a.check {
        Check::Exists(want) => {
            if got.is_some_and(|v| !v.is_null()) != *want {
                return fail(if *want {
                    "a value".into()
                } else {
                    "no value".into()
                });
            }
        }
        Check::Equals(want) => {
            let want = vars.subst_value(want)?;
            if got != Some(&want) {
                return fail(want.to_string());
            }
        }
        Check::NotEquals(want) => {
            let want = vars.subst_value(want)?;
            if got.is_none() || got == Some(&want) {
                return fail(format!("a value other than {want}"));
            }
        }
        Check::EqualsIgnoreCase(want) => {
            let want = vars.subst_str(want)?;
            if got
                .and_then(Value::as_str)
                .is_none_or(|g| g.to_lowercase() != want.to_lowercase())
            {
                return fail(format!("{want:?} (ignoring case)"));
            }
        }
        Check::Empty(want) => {
            let empty = match got {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(Value::String(s)) => s.is_empty(),
                Some(_) => false,
            };
            if empty != *want {
                return fail(if *want {
                    "nothing (absent, null or empty)".into()
                } else {
                    "a non-empty value".into()
                });
            }
        }
        Check::Length(n) => {
            if got.and_then(Value::as_array).map(Vec::len) != Some(*n) {
                return fail(format!("an array of {n}"));
            }
        }
        Check::MinLength(n) => {
            if got.and_then(Value::as_array).is_none_or(|a| a.len() < *n) {
                return fail(format!("an array of at least {n}"));
            }
        }
        Check::Contains(want) => {
            let want = vars.subst_value(want)?;
            let ok = match (got, &want) {
                (Some(Value::Array(items)), _) => items.contains(&want),
                (Some(Value::String(s)), Value::String(w)) => s.contains(w.as_str()),
                _ => false,
            };
            if !ok {
                return fail(format!("something containing {want}"));
            }
        }
        Check::AnyMatch(want) => {
            let want = vars.subst_value(want)?;
            if !got
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().any(|i| subset(&want, i)))
            {
                return fail(format!("an array with an element matching {want}"));
            }
        }
        Check::NoneMatch(want) => {
            let want = vars.subst_value(want)?;
            // A missing or null multi-valued attribute has no matching element.
            let clash = match got {
                None | Some(Value::Null) => false,
                Some(Value::Array(items)) => items.iter().any(|i| subset(&want, i)),
                Some(_) => true,
            };
            if clash {
                return fail(format!("no element matching {want}"));
            }
        }
        Check::Type(t) => {
            let ok = match (t.as_str(), got) {
                ("string", Some(Value::String(_))) => true,
                ("number", Some(Value::Number(_))) => true,
                ("integer", Some(Value::Number(n))) => n.is_i64() || n.is_u64(),
                ("boolean", Some(Value::Bool(_))) => true,
                ("array", Some(Value::Array(_))) => true,
                ("object", Some(Value::Object(_))) => true,
                ("null", Some(Value::Null)) => true,
                _ => false,
            };
            if !ok {
                return fail(format!("a JSON {t}"));
            }
        }
        Check::Gte(n) => {
            if !got.and_then(Value::as_f64).is_some_and(|g| g >= *n) {
                return fail(format!("a number >= {n}"));
            }
        }
        Check::Lte(n) => {
            if !got.and_then(Value::as_f64).is_some_and(|g| g <= *n) {
                return fail(format!("a number <= {n}"));
            }
        }
    }
    Ok(())
}

/// Whether `pattern` is contained in `value`: objects match when every key of
/// the pattern matches, anything else must be equal.
fn subset(pattern: &Value, value: &Value) -> bool {
    match (pattern, value) {
        (Value::Object(p), Value::Object(v)) => p
            .iter()
            .all(|(k, pv)| v.get(k).is_some_and(|vv| subset(pv, vv))),
        _ => pattern == value,
    }
}

/// RFC 3986 percent-encoding of everything but the unreserved characters, as
/// IdPs send query values (`filter=userName%20eq%20%22a%40b%22`).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &s[..end], s.len() - end)
}

/// A suffix unique to this run of this file, so names never clash with
/// another scenario replayed against the same organization.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n}", nanos % 0xffff_ffff, std::process::id())
}

#[test]
fn every_conformance_file_parses() {
    let files = conformance_files(None).unwrap();
    let mut errors = Vec::new();
    let mut names = HashSet::new();
    for file in &files {
        match load_scenario(file) {
            Ok(s) => {
                if !names.insert(s.name.clone()) {
                    errors.push(format!(
                        "{}: scenario name {:?} is used twice",
                        file.display(),
                        s.name
                    ));
                }
            }
            Err(e) => errors.push(e),
        }
    }
    assert!(
        errors.is_empty(),
        "malformed conformance files:\n{}",
        errors.join("\n")
    );
}

#[test]
fn substitution_keeps_types_and_encodes_queries() {
    let mut vars = Vars::default();
    vars.set("id", Value::String("a b".into()));
    vars.set("n", serde_json::json!(3));
    assert_eq!(
        vars.subst_value(&serde_json::json!("${n}")).unwrap(),
        serde_json::json!(3)
    );
    assert_eq!(
        vars.subst_value(&serde_json::json!("x-${id}-${n}"))
            .unwrap(),
        serde_json::json!("x-a b-3")
    );
    assert!(vars.subst_str("${missing}").is_err());
    assert_eq!(
        percent_encode("userName eq \"a@b.c\""),
        "userName%20eq%20%22a%40b.c%22"
    );
    assert!(header_matches(
        "application/scim+json",
        "application/scim+json; charset=utf-8"
    ));
    assert!(!header_matches("application/scim+json", "application/json"));
    assert!(subset(
        &serde_json::json!({"value": "x"}),
        &serde_json::json!({"value": "x", "display": "y"})
    ));
}
