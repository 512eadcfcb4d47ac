//! The authorization code flow (OIDC Core §3.1) with PKCE S256 (RFC 7636), from the
//! redirect to the IdP to the verified login handed to [`crate::sso::signin::sign_in`].

use super::connections::parse_match_by;
use super::{Oidc, discover};
use crate::domain::time::Timestamp;
use crate::secrets;
use crate::sso::Sso;
use crate::sso::signin::{
    JitProfile, MatchBy, Refusal, SignInMethod, SignedIn, VerifiedLogin, sign_in,
};
use crate::store::StoreError;
use crate::store::sso_oidc::{self, OidcConnectionRow, PendingLogin};
use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreIdTokenClaims, CoreJsonWebKeyType,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, JwsSigningAlgorithm as _, LoginHint, Nonce, OAuth2TokenResponse as _,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse as _,
    UserInfoClaims, UserInfoError,
};
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How long a started login may take to come back.
const LOGIN_TTL: time::Duration = time::Duration::minutes(10);

/// The longest `login_hint` passed on (an email address or a user name).
const MAX_LOGIN_HINT: usize = 256;

/// A login just started: where to send the browser and the cookie that binds it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The IdP's authorization endpoint with our request.
    pub redirect_to: String,
    pub cookie_name: String,
    /// Random; only its hash is stored. Never logged.
    pub cookie_value: String,
    /// Seconds the cookie lives (the login's lifetime).
    pub max_age: i64,
}

/// The query of the redirect back from the IdP (OIDC Core §3.1.2.5 and §3.1.2.6).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// RFC 9207: the issuer of the response, when the IdP says it.
    pub iss: Option<String>,
}

/// Why a sign-in did not happen. Every message is written for the person signing in.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The org does not exist or has no enabled SSO connection.
    #[error("this organization has no single sign-on connection enabled")]
    NoConnection,
    /// The org has several connections and the request did not say which.
    #[error(
        "this organization has several sign-on connections; choose one with ?connection=ID: {0}"
    )]
    ConnectionRequired(String),
    /// `?connection=ID` names no enabled connection of the org.
    #[error("this organization has no enabled sign-on connection {0:?}")]
    UnknownConnection(String),
    /// The request itself is malformed (e.g. its query string).
    #[error("{0}")]
    BadRequest(String),
    /// `login_hint` is too long to be an email or a user name.
    #[error("login_hint is too long (at most {MAX_LOGIN_HINT} characters)")]
    BadLoginHint,
    /// No state, or one we never issued or already used.
    #[error(
        "this sign-in is not valid: it was already used or not started here; start the sign-in again"
    )]
    InvalidState,
    /// The state is ours but too old.
    #[error("this sign-in took too long and expired; start the sign-in again")]
    Expired,
    /// The browser lacks the cookie set when the sign-in started, or has another.
    #[error(
        "this sign-in was started in another browser, or this browser did not keep its cookie; \
         start the sign-in again in this browser"
    )]
    BrowserMismatch,
    /// The IdP answered with an error (OAuth 2.0 error response, RFC 6749 §4.1.2.1, §5.2).
    #[error("your identity provider did not sign you in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    IdpRefused {
        error: String,
        description: Option<String>,
    },
    /// The redirect's `iss` is not the connection's issuer (RFC 9207 mix-up defence).
    #[error("the answer came from another identity provider than this sign-in's")]
    IssuerMismatch,
    /// The redirect carries neither a code nor an error.
    #[error("the identity provider's answer has no authorization code")]
    MissingCode,
    /// The connection was deleted or disabled while the person was at the IdP.
    #[error("the sign-on connection of this sign-in was disabled or deleted")]
    ConnectionGone,
    /// The IdP could not be reached or answered something unusable; the message is the
    /// same for every cause (`super::UNUSABLE`), which the log records.
    #[error("{0}")]
    Idp(String),
    /// The ID token failed a check: signature (JWKS), iss, aud, exp ...
    #[error("the identity provider's ID token is not valid: {0}")]
    InvalidIdToken(String),
    /// The ID token's nonce is not the one of this sign-in (OIDC Core §3.1.3.7 step 11).
    #[error("the ID token belongs to another sign-in (nonce mismatch); start the sign-in again")]
    NonceMismatch,
    /// The configured claim is not in the ID token (nor in userinfo, when used).
    #[error(
        "the identity provider did not send the {0:?} claim that identifies you; ask your IT admin to check the sign-on connection"
    )]
    MissingClaim(String),
    /// The `email` claim is used while the IdP says it is not verified.
    #[error("the identity provider says your email address is not verified")]
    EmailNotVerified,
    /// The login is genuine but the sign-in rules refuse it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our fault; logged, not shown.
    #[error("{0}")]
    Internal(String),
}

/// The name of the cookie that binds the login of `state` to its browser. One per login,
/// so two sign-ins started in two tabs do not overwrite each other's.
pub fn cookie_name(state: &str) -> String {
    format!("rollcall_oidc_{}", &secrets::token_hash(state)[..16])
}

/// Every claim the ID token or userinfo carries, standard or not (`upn`, `oid` ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
struct OtherClaims(Map<String, Value>);

impl AdditionalClaims for OtherClaims {}

fn client(
    conn: &OidcConnectionRow,
    meta: CoreProviderMetadata,
    redirect: &str,
) -> Result<
    openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    LoginError,
> {
    let redirect =
        RedirectUrl::new(redirect.to_owned()).map_err(|e| LoginError::Internal(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(conn.client_id.clone()),
        Some(ClientSecret::new(
            conn.client_secret.expose_secret().to_owned(),
        )),
    )
    .set_redirect_uri(redirect))
}

/// The ID token algorithms we accept: those the provider advertises that are verified
/// with its published keys (RSA, EC, EdDSA). Never `none`, and never HS256/384/512:
/// `openidconnect` would otherwise trust any advertised alg, and an HMAC keyed with the
/// client secret lets whoever holds that secret mint ID tokens (OIDC Core §10.1 allows it;
/// we do not).
fn trusted_algs(meta: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    let algs: Vec<CoreJwsSigningAlgorithm> = meta
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|a| {
            a.key_type()
                .is_some_and(|k| k != CoreJsonWebKeyType::Symmetric)
        })
        .cloned()
        .collect();
    if algs.is_empty() {
        // OIDC Core §3.1.3.7 step 7: RS256 is the default.
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
    } else {
        algs
    }
}

/// The payload of a compact JWS whose signature was verified already.
fn jws_payload(compact: &str) -> Result<Map<String, Value>, LoginError> {
    decode_payload(compact).map_err(LoginError::InvalidIdToken)
}

fn decode_payload(compact: &str) -> Result<Map<String, Value>, String> {
    let payload = compact
        .split('.')
        .nth(1)
        .ok_or_else(|| "not a compact JWS".to_owned())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("payload is not a JSON object: {e}"))
}

/// What is wrong with the ID token of a token response the crate could not parse (it
/// reads the claims while parsing the response), if the ID token is what is wrong: the
/// claim at fault and what was expected, never a value of the token. None when the
/// response has no string `id_token` or its claims read fine (the fault is elsewhere).
fn unreadable_id_token(body: &[u8]) -> Option<String> {
    let response: Value = serde_json::from_slice(body).ok()?;
    let token = response.get("id_token")?.as_str()?;
    let claims = match decode_payload(token) {
        Ok(claims) => claims,
        Err(why) => return Some(why),
    };
    // The response's fields are flattened by the crate, which loses the error's path, so
    // the claims are read again here to name the one at fault.
    let e =
        serde_path_to_error::deserialize::<_, CoreIdTokenClaims>(Value::Object(claims)).err()?;
    Some(if e.path().iter().next().is_some() {
        format!("claim {:?}: {}", e.path().to_string(), e.inner())
    } else {
        e.inner().to_string()
    })
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// What a just-in-time user gets from the claims. The userName is the matched value when
/// users are matched by userName, else the email (or `preferred_username`).
fn jit_profile(match_by: MatchBy, value: &str, claims: &Map<String, Value>) -> JitProfile {
    let email = string_claim(claims, "email");
    let user_name = match match_by {
        MatchBy::UserName => value.to_owned(),
        MatchBy::Email | MatchBy::ExternalId => email
            .clone()
            .or_else(|| string_claim(claims, "preferred_username"))
            .unwrap_or_else(|| value.to_owned()),
    };
    JitProfile {
        user_name,
        email,
        given_name: string_claim(claims, "given_name"),
        family_name: string_claim(claims, "family_name"),
        external_id: (match_by == MatchBy::ExternalId).then(|| value.to_owned()),
    }
}

impl Oidc {
    /// Starts a login through `conn`: PKCE S256 challenge, state and nonce, stored hashed
    /// (the verifier as is) with an expiry; answers where to send the browser.
    pub(crate) async fn start(
        &self,
        sso: &Sso,
        conn: &OidcConnectionRow,
        login_hint: Option<&str>,
    ) -> Result<Started, LoginError> {
        let login_hint = login_hint.map(str::trim).filter(|h| !h.is_empty());
        if login_hint.is_some_and(|h| h.chars().count() > MAX_LOGIN_HINT) {
            return Err(LoginError::BadLoginHint);
        }
        let meta = discover(&self.http, &conn.issuer)
            .await
            .map_err(LoginError::Idp)?;
        let client = client(conn, meta, &self.redirect_uri())?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in conn.scopes.split_whitespace() {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
        if let Some(hint) = login_hint {
            // OIDC Core §3.1.2.1: a hint the IdP may use to pre-fill or pick the account.
            request = request.set_login_hint(LoginHint::new(hint.to_owned()));
        }
        let (url, state, nonce) = request.url();
        let browser = secrets::new_token("")
            .map_err(|e| LoginError::Internal(format!("no randomness: {e}")))?;
        let now = sso.clock.now();
        let login = PendingLogin {
            state_hash: secrets::token_hash(state.secret()),
            org_id: conn.org_id.clone(),
            connection_id: conn.id.clone(),
            browser_hash: secrets::token_hash(&browser),
            nonce_hash: secrets::token_hash(nonce.secret()),
            pkce_verifier: verifier.secret().clone().into(),
            created: Timestamp::from(now),
            expires: Timestamp::from(now + LOGIN_TTL),
        };
        let mut tx = sso.store.write().await?;
        sso_oidc::delete_expired_logins(&mut tx, &login.created).await?;
        sso_oidc::insert_login(&mut tx, &login, verifier.secret()).await?;
        tx.commit().await?;
        Ok(Started {
            redirect_to: url.to_string(),
            cookie_name: cookie_name(state.secret()),
            cookie_value: browser,
            max_age: LOGIN_TTL.whole_seconds(),
        })
    }

    /// Takes the login of `state` out of the database, once, if `browser` is the cookie
    /// value its browser got. The login is used up before the IdP is asked anything, so
    /// a replayed callback fails even if the first one is still running.
    async fn take_login(
        &self,
        sso: &Sso,
        state: &str,
        browser: Option<&str>,
    ) -> Result<PendingLogin, LoginError> {
        let state_hash = secrets::token_hash(state);
        let now = Timestamp::from(sso.clock.now());
        let mut tx = sso.store.write().await?;
        let login = sso_oidc::get_login(&mut tx, &state_hash)
            .await?
            .filter(|l| secrets::hashes_equal(&l.state_hash, &state_hash))
            .ok_or(LoginError::InvalidState)?;
        if login.expires < now {
            sso_oidc::delete_login(&mut tx, &state_hash).await?;
            tx.commit().await?;
            return Err(LoginError::Expired);
        }
        let bound = browser
            .is_some_and(|b| secrets::hashes_equal(&secrets::token_hash(b), &login.browser_hash));
        if !bound {
            // The login stays: the browser that started it may still finish it.
            return Err(LoginError::BrowserMismatch);
        }
        if !sso_oidc::delete_login(&mut tx, &state_hash).await? {
            return Err(LoginError::InvalidState);
        }
        tx.commit().await?;
        Ok(login)
    }

    /// Finishes a login: state and browser, the IdP's answer, the code exchange with the
    /// PKCE verifier, the ID token (signature via the JWKS, iss, aud, exp, nonce, at_hash),
    /// userinfo when configured, then the claim goes to [`sign_in`].
    pub(crate) async fn finish(
        &self,
        sso: &Sso,
        callback: Callback,
        browser: Option<&str>,
    ) -> Result<SignedIn, LoginError> {
        let state = callback
            .state
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or(LoginError::InvalidState)?;
        let login = self.take_login(sso, state, browser).await?;
        if let Some(error) = callback.error {
            return Err(LoginError::IdpRefused {
                error,
                description: callback.error_description,
            });
        }
        let conn = {
            let mut tx = sso.store.read().await?;
            sso_oidc::get_connection(&mut tx, &login.org_id, &login.connection_id).await?
        }
        .filter(|c| c.enabled)
        .ok_or(LoginError::ConnectionGone)?;
        if callback
            .iss
            .as_deref()
            .is_some_and(|iss| iss != conn.issuer)
        {
            return Err(LoginError::IssuerMismatch);
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty())
            .ok_or(LoginError::MissingCode)?;
        let claims = self.verified_claims(&conn, &login, code).await?;
        let match_by = parse_match_by(&conn.match_by)
            .ok_or_else(|| LoginError::Internal(format!("stored match_by {:?}", conn.match_by)))?;
        let value = string_claim(&claims, &conn.claim)
            .ok_or_else(|| LoginError::MissingClaim(conn.claim.clone()))?;
        // OIDC Core §5.1: an unverified email must not identify anyone.
        if conn.claim == "email" && claims.get("email_verified") == Some(&Value::Bool(false)) {
            return Err(LoginError::EmailNotVerified);
        }
        let jit = conn.jit.then(|| jit_profile(match_by, &value, &claims));
        let signed_in = sign_in(
            sso,
            VerifiedLogin {
                org_id: conn.org_id.clone(),
                method: SignInMethod::Oidc {
                    connection_id: conn.id.clone().into_string(),
                },
                match_by,
                value,
                jit,
            },
        )
        .await?;
        Ok(signed_in)
    }

    /// Exchanges the code and returns the verified claims (ID token, then userinfo).
    async fn verified_claims(
        &self,
        conn: &OidcConnectionRow,
        login: &PendingLogin,
        code: String,
    ) -> Result<Map<String, Value>, LoginError> {
        let meta = discover(&self.http, &conn.issuer)
            .await
            .map_err(LoginError::Idp)?;
        let algs = trusted_algs(&meta);
        let client = client(conn, meta, &self.redirect_uri())?;
        let token = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| LoginError::Idp(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(
                login.pkce_verifier.expose_secret().to_owned(),
            ))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                // The IdP answered, with an ID token whose claims are missing or of the
                // wrong type (no `exp`, `email` as a list): a bad token, not an outage.
                if let RequestTokenError::Parse(_, body) = &e
                    && let Some(why) = unreadable_id_token(body)
                {
                    return LoginError::InvalidIdToken(why);
                }
                match e {
                    // RFC 6749 §5.2: e.g. invalid_grant for a used or foreign code.
                    RequestTokenError::ServerResponse(r) => LoginError::IdpRefused {
                        error: r.error().to_string(),
                        description: r.error_description().cloned(),
                    },
                    other => LoginError::Idp(super::unusable(
                        "token request",
                        &conn.issuer,
                        &super::discovery_message(&other),
                    )),
                }
            })?;
        let id_token = token.id_token().ok_or_else(|| {
            LoginError::InvalidIdToken("the token response has no id_token".into())
        })?;
        let verifier = client.id_token_verifier().set_allowed_algs(algs);
        let nonce_hash = login.nonce_hash.clone();
        let id_claims = id_token
            .claims(&verifier, move |nonce: Option<&Nonce>| match nonce {
                Some(n) if secrets::hashes_equal(&secrets::token_hash(n.secret()), &nonce_hash) => {
                    Ok(())
                }
                Some(_) => Err("nonce mismatch".to_owned()),
                None => Err("the ID token has no nonce".to_owned()),
            })
            .map_err(|e| match e {
                ClaimsVerificationError::InvalidNonce(_) => LoginError::NonceMismatch,
                other => LoginError::InvalidIdToken(super::discovery_message(&other)),
            })?;
        // OIDC Core §3.1.3.8: the access token is the one this ID token was issued with.
        if let Some(expected) = id_claims.access_token_hash() {
            let alg = id_token
                .signing_alg()
                .map_err(|e| LoginError::InvalidIdToken(e.to_string()))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| LoginError::InvalidIdToken(e.to_string()))?;
            let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                .map_err(|e| LoginError::InvalidIdToken(e.to_string()))?;
            if actual != *expected {
                return Err(LoginError::InvalidIdToken(
                    "at_hash does not match the access token".into(),
                ));
            }
        }
        let mut claims = jws_payload(&id_token.to_string())?;
        if conn.use_userinfo {
            let subject = id_claims.subject().clone();
            let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
                .user_info(token.access_token().clone(), Some(subject))
                .map_err(|e| LoginError::Idp(format!("userinfo: {e}")))?
                .request_async(&self.http)
                .await
                .map_err(|e| match e {
                    UserInfoError::ClaimsVerification(e) => {
                        LoginError::InvalidIdToken(format!("userinfo: {e}"))
                    }
                    // JSON whose claims are of the wrong type: a bad answer, not an outage.
                    UserInfoError::Parse(e)
                        if e.inner().classify() == serde_json::error::Category::Data =>
                    {
                        LoginError::InvalidIdToken(format!("userinfo: {}", e.inner()))
                    }
                    other => LoginError::Idp(super::unusable(
                        "userinfo request",
                        &conn.issuer,
                        &super::discovery_message(&other),
                    )),
                })?;
            let info = serde_json::to_value(&info)
                .map_err(|e| LoginError::Internal(format!("userinfo claims: {e}")))?;
            if let Value::Object(map) = info {
                // The ID token's iss/aud/nonce stay; userinfo adds or refreshes the rest.
                for (k, v) in map {
                    if !matches!(k.as_str(), "iss" | "aud" | "nonce" | "exp" | "iat")
                        && !v.is_null()
                    {
                        claims.insert(k, v);
                    }
                }
            }
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jit_user_name_follows_the_match() {
        let claims = json!({"sub": "s1", "email": "a@x.com", "given_name": "A",
                            "preferred_username": "ann"});
        let claims = claims.as_object().unwrap();
        let p = jit_profile(MatchBy::ExternalId, "s1", claims);
        assert_eq!(p.user_name, "a@x.com");
        assert_eq!(p.external_id.as_deref(), Some("s1"));
        let p = jit_profile(MatchBy::UserName, "ann", claims);
        assert_eq!(p.user_name, "ann");
        assert_eq!(p.external_id, None);
        assert_eq!(p.given_name.as_deref(), Some("A"));
    }

    #[test]
    fn cookie_names_differ_per_state() {
        assert_ne!(cookie_name("a"), cookie_name("b"));
        assert!(cookie_name("a").starts_with("rollcall_oidc_"));
    }
}
