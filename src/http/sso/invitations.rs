//! Invitation links and email sign-in codes.
//!
//! - `GET /invitations/{token}`: what the invitation is, with an Accept button. Changes
//!   nothing: mail scanners prefetch links. HTML for browsers, JSON when asked
//!   (`Accept: application/json`).
//! - `POST /invitations/{token}`: accepts it.
//! - `POST /invitations/{token}/renew`: a new link for an expired one, emailed to the
//!   user's own address.
//! - `POST /sign-in/email` `{"org_id", "email"}`: emails a one-time code (202 whoever
//!   asks), `POST /sign-in/email/verify` `{"org_id", "email", "code"}`: signs in and
//!   answers the token response (RFC 6749 §5.1).
//!
//! Errors are `{"error": "<code>", "message": "<sentence>"}` (or a page saying the same).
//! Tokens and codes never reach the logs: the request span records the path without
//! the token (see `http::loggable_path`) and no handler logs its input.

use super::openapi::SignInError;
use crate::domain::OrgId;
use crate::http::AppState;
use crate::http::edge::SsoBody;
use crate::http::rate_limit::{AuthFailure, ClientAddress};
use crate::provisioning::invitations::{self, InvitationError, InvitationView, Renewed};
use crate::sso::email_code::CodeError;
use crate::sso::signin::SignedIn;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/invitations/{token}",
            get(show_invitation).post(accept_invitation),
        )
        .route("/invitations/{token}/renew", post(renew_invitation))
        .route("/sign-in/email", post(send_sign_in_code))
        .route("/sign-in/email/verify", post(verify_sign_in_code))
        .with_state(state)
}

/// How to answer: a page for browsers, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Html,
    Json,
}

fn format(headers: &HeaderMap) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if accept.contains("json") && !accept.contains("text/html") {
        Format::Json
    } else {
        Format::Html
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small page; `form` is trusted markup built here, everything else is escaped.
fn page(status: StatusCode, title: &str, message: &str, form: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{t}</title></head>\
         <body><main><h1>{t}</h1><p>{m}</p>{form}</main></body></html>\n",
        t = escape(title),
        m = escape(message),
    );
    private((status, Html(html)).into_response())
}

/// Pages and answers carrying tokens are nobody's to cache; the link must not leak
/// through the Referer either (the page sets `no-referrer`).
fn private(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_answer(status: StatusCode, body: Value) -> Response {
    private((status, Json(body)).into_response())
}

fn button(action: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><button type=\"submit\">{}</button></form>",
        escape(action),
        escape(label)
    )
}

fn sign_in_hint(view: &InvitationView) -> String {
    if view.sso_enforced {
        format!(
            "{} requires single sign-on for this team: sign in with your {} account through \
             your company's identity provider.",
            view.org_name, view.org_name
        )
    } else {
        "Sign in with your email address.".to_owned()
    }
}

/// An invitation error as the person sees it.
fn invitation_error(e: InvitationError, token: &str, fmt: Format) -> Response {
    let (status, code) = match &e {
        InvitationError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_invitation"),
        InvitationError::Expired { .. } => (StatusCode::GONE, "invitation_expired"),
        InvitationError::Gone => (StatusCode::NOT_FOUND, "invitation_not_found"),
        InvitationError::AlreadyAccepted(_) => (StatusCode::CONFLICT, "already_accepted"),
        InvitationError::NotWaiting => (StatusCode::CONFLICT, "not_invited"),
        InvitationError::StillValid => (StatusCode::CONFLICT, "invitation_still_valid"),
        InvitationError::AlreadyRenewed(_) => (StatusCode::CONFLICT, "already_renewed"),
        InvitationError::NoAddress => (StatusCode::CONFLICT, "no_address"),
        InvitationError::Provisioning(cause) => {
            return internal(&cause.to_string(), fmt, is_unavailable(cause));
        }
    };
    let message = e.to_string();
    let renew = format!("/invitations/{token}/renew");
    match fmt {
        Format::Json => {
            let mut body = json!({"error": code, "message": message});
            if let InvitationError::Expired { view, .. } = &e {
                body["renew_url"] = json!(renew);
                body["invitation"] = json!(view);
            }
            json_answer(status, body)
        }
        Format::Html => {
            let (title, form) = match &e {
                InvitationError::Expired { .. } => (
                    "This invitation link has expired",
                    button(&renew, "Email me a new link"),
                ),
                InvitationError::AlreadyAccepted(_) => ("You have already accepted", String::new()),
                _ => ("This invitation cannot be used", String::new()),
            };
            page(status, title, &message, &form)
        }
    }
}

fn is_unavailable(e: &crate::provisioning::Error) -> bool {
    matches!(
        e,
        crate::provisioning::Error::Store(crate::store::StoreError::Connect(_))
    )
}

/// A 5xx that tells nothing internal; the cause is logged once, in the request span.
fn internal(cause: &str, fmt: Format, unavailable: bool) -> Response {
    tracing::error!(%cause, "sign-in request failed");
    let (status, code, message) = if unavailable {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is unavailable; try again later.",
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side; try again later.",
        )
    };
    match fmt {
        Format::Json => json_answer(status, json!({"error": code, "message": message})),
        Format::Html => page(status, "Something went wrong", message, ""),
    }
}

#[utoipa::path(get, path = "/invitations/{token}", tag = "invitations",
    params(("token" = String, Path, description = "The token of the invitation link")),
    responses(
        (status = 200, description = "The invitation: a page with an Accept button, or JSON when asked",
            content((InvitationView = "application/json"), (String = "text/html"))),
        (status = 400, description = "Not an invitation link (malformed or tampered with)", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 404, description = "The invitation no longer exists", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 410, description = "The link expired; `renew_url` asks for a new one", content((SignInError = "application/json"), (String = "text/html")))))]
/// `GET /invitations/{token}`: the invitation and an Accept button; changes nothing.
async fn show_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fmt = format(&headers);
    match invitations::show(&state.directory, &token).await {
        Err(e) => invitation_error(e, &token, fmt),
        Ok(view) => match fmt {
            Format::Json => json_answer(StatusCode::OK, json!(view)),
            Format::Html if view.status == "accepted" => page(
                StatusCode::OK,
                "You have already accepted",
                &format!(
                    "You are a member of the team {} at {}. {}",
                    view.team_name,
                    view.org_name,
                    sign_in_hint(&view)
                ),
                "",
            ),
            Format::Html => page(
                StatusCode::OK,
                &format!("Join {} at {}", view.team_name, view.org_name),
                &format!(
                    "{} invites you to the team {} as {}. This link is valid until {}.",
                    view.org_name,
                    view.team_name,
                    if view.role == crate::domain::kinds::TeamRole::Admin {
                        "a team admin"
                    } else {
                        "a member"
                    },
                    view.expires
                ),
                // Posts back to this very URL.
                &button(&format!("/invitations/{token}"), "Accept the invitation"),
            ),
        },
    }
}

#[utoipa::path(post, path = "/invitations/{token}", tag = "invitations",
    params(("token" = String, Path, description = "The token of the invitation link")),
    responses(
        (status = 200, description = "Accepted: the person is a member of the team",
            content((InvitationView = "application/json"), (String = "text/html"))),
        (status = 400, description = "Not an invitation link (malformed or tampered with)", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 404, description = "The invitation no longer exists", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 409, description = "Already accepted, or the membership no longer waits for acceptance", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 410, description = "The link expired; `renew_url` asks for a new one", content((SignInError = "application/json"), (String = "text/html")))))]
/// `POST /invitations/{token}`: accepts the invitation.
async fn accept_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fmt = format(&headers);
    match invitations::accept(&state.directory, &token).await {
        Err(e) => invitation_error(e, &token, fmt),
        Ok(view) => match fmt {
            Format::Json => json_answer(StatusCode::OK, json!(view)),
            Format::Html => page(
                StatusCode::OK,
                &format!("Welcome to {}", view.team_name),
                &format!(
                    "You have joined the team {} at {}. {}",
                    view.team_name,
                    view.org_name,
                    sign_in_hint(&view)
                ),
                "",
            ),
        },
    }
}

#[utoipa::path(post, path = "/invitations/{token}/renew", tag = "invitations",
    params(("token" = String, Path, description = "The token of an expired invitation link")),
    responses(
        (status = 202, description = "A new link is emailed to the person's own address",
            content((Renewed = "application/json"), (String = "text/html"))),
        (status = 400, description = "Not an invitation link (malformed or tampered with)", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 404, description = "The invitation no longer exists", content((SignInError = "application/json"), (String = "text/html"))),
        (status = 409, description = "The link is still valid, was renewed already, was accepted, or the person has no address", content((SignInError = "application/json"), (String = "text/html")))))]
/// `POST /invitations/{token}/renew`: emails a new link for an expired one.
async fn renew_invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fmt = format(&headers);
    match invitations::renew(&state.directory, &token).await {
        Err(e) => invitation_error(e, &token, fmt),
        Ok(renewed) => match fmt {
            Format::Json => json_answer(StatusCode::ACCEPTED, json!(renewed)),
            Format::Html => page(
                StatusCode::ACCEPTED,
                "A new link is on its way",
                &format!(
                    "We sent a new invitation link to {}. It is valid until {}.",
                    renewed.sent_to, renewed.expires
                ),
                "",
            ),
        },
    }
}

/// Body of `POST /sign-in/email`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeRequest {
    /// The organization's id or name.
    org_id: String,
    /// The person's email address.
    email: String,
}

/// Body of `POST /sign-in/email/verify`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeVerification {
    /// The organization's id or name.
    org_id: String,
    /// The address the code was sent to.
    email: String,
    /// The code from the email: its digits (spaces and dashes are ignored).
    code: String,
}

/// The answer of `POST /sign-in/email`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct CodeSent {
    /// The same sentence whoever asks.
    message: &'static str,
    /// Seconds a code stays valid.
    expires_in: i64,
}

/// The token response of RFC 6749 §5.1, as the email sign-in and `/oauth/token` answer it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct TokenAnswer {
    /// A signed JWT (EdDSA), verifiable with `/.well-known/jwks.json`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, pattern = "^Bearer$")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// For `POST /oauth/token` with `grant_type=refresh_token`; each is used once.
    pub refresh_token: String,
    /// The signed-in user's SCIM id (email sign-in only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// The largest sign-in request body.
const MAX_BODY: usize = 16 * 1024;

fn bad_request(message: String) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({"error": "invalid_request", "message": message}),
    )
}

/// Why a sign-in request body was refused.
enum BodyError {
    TooLarge,
    Invalid(String),
}

impl BodyError {
    fn into_response(self) -> Response {
        match self {
            BodyError::TooLarge => json_answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "payload_too_large",
                       "message": format!("The request body exceeds {MAX_BODY} bytes.")}),
            ),
            BodyError::Invalid(message) => bad_request(message),
        }
    }
}

/// A JSON object body (or an HTML form's `application/x-www-form-urlencoded`).
fn parse_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, BodyError> {
    if body.len() > MAX_BODY {
        return Err(BodyError::TooLarge);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Invalid(
            "The request body is empty; send a JSON object.".into(),
        ));
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let value: Value = if form {
        let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map_err(|e| BodyError::Invalid(format!("The form is not valid: {e}.")))?;
        let mut fields = serde_json::Map::new();
        for (name, value) in pairs {
            if fields.contains_key(&name) {
                return Err(BodyError::Invalid(format!(
                    "The field {} is repeated.",
                    name.escape_debug()
                )));
            }
            fields.insert(name, Value::String(value));
        }
        Value::Object(fields)
    } else {
        serde_json::from_slice(body)
            .map_err(|e| BodyError::Invalid(format!("The request body is not valid: {e}.")))?
    };
    // The one rule on stored and compared text: no control characters but tab, LF, CR.
    if let Some(at) = crate::http::text::forbidden_char_at(&value) {
        let what = if at.is_empty() {
            "The body".to_owned()
        } else {
            format!("The field {at}")
        };
        return Err(BodyError::Invalid(format!(
            "{what} holds a control character."
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| BodyError::Invalid(format!("The request body is not valid: {e}.")))
}

fn code_error(e: CodeError) -> Response {
    let (status, code) = match &e {
        CodeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        CodeError::SsoRequired { .. } => (StatusCode::FORBIDDEN, "sso_required"),
        CodeError::Rejected => (StatusCode::BAD_REQUEST, "invalid_code"),
        CodeError::Refused(r) => match super::refusal_parts(r) {
            (status, code) if !status.is_server_error() => (status, code),
            (status, _) => {
                return internal(
                    &r.to_string(),
                    Format::Json,
                    status == StatusCode::SERVICE_UNAVAILABLE,
                );
            }
        },
        CodeError::Store(s) => {
            let unavailable = matches!(s, crate::store::StoreError::Connect(_));
            return internal(&s.to_string(), Format::Json, unavailable);
        }
        CodeError::Internal(m) => return internal(m, Format::Json, false),
    };
    let mut response = json_answer(status, json!({"error": code, "message": e.to_string()}));
    if matches!(e, CodeError::Rejected) {
        response.extensions_mut().insert(AuthFailure);
    }
    response
}

#[utoipa::path(post, path = "/sign-in/email", tag = "sign-in",
    request_body(content((CodeRequest = "application/json"), (CodeRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 202, description = "The same answer whoever asks", body = CodeSent),
        (status = 400, description = "The body is not of the schema, or the address is not an email address", body = SignInError)))]
/// `POST /sign-in/email`: emails a one-time code. 202 whether or not the address belongs
/// to anyone, so nobody can probe who exists.
async fn send_sign_in_code(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientAddress>>,
    headers: HeaderMap,
    SsoBody(body): SsoBody,
) -> Response {
    let req: CodeRequest = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let requester = ClientAddress::of(client);
    match state
        .sso
        .send_email_code(
            &OrgId::from_request_text(req.org_id),
            &req.email,
            &requester,
        )
        .await
    {
        Ok(()) => json_answer(
            StatusCode::ACCEPTED,
            json!(CodeSent {
                message: "If this address belongs to a member of the organization, an email \
                          is on its way to it: a sign-in code, or how to sign in through \
                          your company's SSO where your team requires it.",
                expires_in: crate::sso::email_code::CODE_TTL_MINUTES * 60,
            }),
        ),
        Err(e) => code_error(e),
    }
}

#[utoipa::path(post, path = "/sign-in/email/verify", tag = "sign-in",
    request_body(content((CodeVerification = "application/json"), (CodeVerification = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Signed in", body = TokenAnswer),
        (status = 400, description = "The body is not of the schema, or the code is not the one sent (`invalid_code`)", body = SignInError),
        (status = 403, description = "No such member, deactivated, SSO required, or no seat", body = SignInError),
        (status = 409, description = "The address belongs to more than one user", body = SignInError)))]
/// `POST /sign-in/email/verify`: checks the code and answers the session tokens.
async fn verify_sign_in_code(
    State(state): State<AppState>,
    client: Option<axum::Extension<ClientAddress>>,
    headers: HeaderMap,
    SsoBody(body): SsoBody,
) -> Response {
    let req: CodeVerification = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match state
        .sso
        .verify_email_code(
            &OrgId::from_request_text(req.org_id),
            &req.email,
            &req.code,
            &ClientAddress::of(client),
        )
        .await
    {
        Ok(signed) => token_response(&signed),
        Err(e) => code_error(e),
    }
}

/// The token response of RFC 6749 §5.1.
fn token_response(s: &SignedIn) -> Response {
    json_answer(
        StatusCode::OK,
        json!(TokenAnswer {
            access_token: s.access_token.clone(),
            token_type: "Bearer",
            expires_in: s.expires_in,
            refresh_token: s.refresh_token.clone(),
            user_id: Some(s.user_id.to_string()),
        }),
    )
}
