//! The OpenAPI document of the sign-in and session API (`/openapi.json`): email sign-in,
//! invitation links, the token and introspection endpoints and the JWK Set. The browser
//! redirects of OIDC and SAML sign-in are not in it: an IdP and a browser follow them,
//! not a generated client.

use super::{invitations, session};
use crate::http::openapi::{AdminToken, EachOperation, RequestText, retry_after};
use crate::provisioning::invitations::InvitationView;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rollcall sign-in and session API",
        description = "Email sign-in with a one-time code, invitation links, the session \
                       tokens (refresh and introspection, RFC 6749 and RFC 7662) and the keys \
                       that verify access tokens. Sign-in through the company's IdP (OIDC or \
                       SAML) starts at `/sso/{org}/start` in a browser and is not described \
                       here. The admin API has its own document at `/admin/v1/openapi.json`."
    ),
    paths(
        invitations::show_invitation,
        invitations::accept_invitation,
        invitations::renew_invitation,
        invitations::send_sign_in_code,
        invitations::verify_sign_in_code,
        session::get_jwks,
        session::create_token,
        session::introspect_token,
    ),
    components(schemas(SignInError, OAuthErrorBody)),
    modifiers(&AdminToken, &COMMON_RESPONSES, &RequestText)
)]
struct PublicDoc;

/// The error body of sign-in and invitation answers.
#[derive(Serialize, ToSchema)]
pub(super) struct SignInError {
    /// A code for programs: `invalid_request`, `invalid_code`, `no_such_user`,
    /// `user_deactivated`, `ambiguous_user`, `sso_required`, `seat_limit`, `jit_refused`,
    /// `invalid_invitation`,
    /// `invitation_expired`, `invitation_not_found`, `already_accepted`, `not_invited`,
    /// `invitation_still_valid`, `already_renewed`, `no_address`, `payload_too_large`,
    /// `uri_too_long`, `rate_limited`, `internal`, `unavailable`.
    error: String,
    /// A sentence for the person.
    message: String,
    /// Where to ask for a new link (an expired invitation).
    renew_url: Option<String>,
    /// What the expired invitation was.
    invitation: Option<InvitationView>,
}

/// The error body of `/oauth/*` (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
pub(super) struct OAuthErrorBody {
    /// `invalid_request`, `unsupported_grant_type`, `invalid_grant`, `invalid_token`,
    /// `payload_too_large`, `uri_too_long`, `rate_limited`, `server_error`,
    /// `temporarily_unavailable`.
    error: String,
    /// A sentence for the developer.
    error_description: String,
}

/// The grant type `/oauth/token` takes.
#[derive(Serialize, ToSchema)]
#[expect(
    dead_code,
    reason = "describes the form that `session::form` reads as pairs"
)]
#[serde(rename_all = "snake_case")]
pub(super) enum GrantType {
    RefreshToken,
}

/// The form of `POST /oauth/token`.
#[derive(Serialize, ToSchema)]
pub(super) struct TokenForm {
    grant_type: GrantType,
    /// The refresh token of the last token response; each is used once.
    refresh_token: String,
}

/// The form of `POST /oauth/introspect`.
#[derive(Serialize, ToSchema)]
pub(super) struct IntrospectForm {
    /// The access token to judge.
    token: String,
}

/// A team of the token's user: a membership holding a seat.
#[derive(Serialize, ToSchema)]
pub(super) struct IntrospectedTeam {
    id: String,
    /// `user` or `admin`.
    role: String,
}

/// RFC 7662 §2.2: only `active` when the token is not live (or of another org).
#[derive(Serialize, ToSchema)]
pub(super) struct Introspection {
    active: bool,
    #[schema(pattern = "^Bearer$")]
    token_type: Option<String>,
    /// This server's public base URL.
    iss: Option<String>,
    /// The user id.
    sub: Option<String>,
    /// The org id.
    org: Option<String>,
    iat: Option<i64>,
    exp: Option<i64>,
    jti: Option<String>,
    /// The session the token belongs to.
    sid: Option<String>,
    teams: Option<Vec<IntrospectedTeam>>,
    /// `org_admin` or `org_analyst`; absent without an org role.
    org_role: Option<String>,
}

/// An Ed25519 public key (RFC 8037 §2).
#[derive(Serialize, ToSchema)]
pub(super) struct Jwk {
    #[schema(pattern = "^OKP$")]
    kty: String,
    #[schema(pattern = "^Ed25519$")]
    crv: String,
    /// The public key, base64url.
    x: String,
    kid: String,
    #[schema(pattern = "^EdDSA$")]
    alg: String,
    #[serde(rename = "use")]
    #[schema(pattern = "^sig$")]
    use_: String,
}

/// The JWK Set (RFC 7517 §5).
#[derive(Serialize, ToSchema)]
pub(super) struct Jwks {
    keys: Vec<Jwk>,
}

/// The answers every operation can give: 413 where a body is read, 414, 429, 500, 503,
/// in the error format of its route (`/oauth/*` answers as RFC 6749 says).
const COMMON_RESPONSES: EachOperation = EachOperation(add_common_responses);

fn add_common_responses(path: &str, op: &mut Operation) {
    let body = if path.starts_with("/oauth/") {
        "OAuthErrorBody"
    } else {
        "SignInError"
    };
    let error = |description: &str| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(body)))
                .build(),
        )
    };
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, response: ResponseBuilder| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| response.build().into());
    };
    if op.request_body.is_some() {
        add("413", error("The body is larger than the route reads"));
    }
    add("414", error("The URI is longer than 32 KiB"));
    add(
        "429",
        error(
            "Over a rate limit: too many requests from this address, or too many failed \
             attempts (wrong codes, bad tokens) from this address",
        )
        .header("Retry-After", retry_after()),
    );
    add("500", error("Our fault; the cause is in the server log"));
    add(
        "503",
        error(
            "The database is unavailable, or the request took longer than 60 s (that answer \
             has no body); try again later",
        ),
    );
}

/// The document as JSON.
pub fn document() -> utoipa::openapi::OpenApi {
    PublicDoc::openapi()
}
