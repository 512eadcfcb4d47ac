//! Sessions: signed access tokens (JWT, keys published as JWKS), rotating refresh tokens,
//! introspection and revocation.
//!
//! An access token is a JWT signed with EdDSA (Ed25519, RFC 8037) whose header names the
//! key (`kid`, the key's RFC 7638 thumbprint). Keys live in the database, so every process
//! signs with the same key and verifies any token another process issued; the signer is
//! read in each issuing transaction, so a rotation (`rollcall keys rotate`) takes effect
//! everywhere at once, and a process that meets an unknown `kid` looks it up. A retired key
//! stays published until the tokens it signed have expired.
//!
//! A refresh token is a random secret stored as its SHA-256. Each use retires it and hands
//! out a new one (RFC 6749 §6, RFC 9700 §4.14.2); presenting a retired one again is taken
//! as theft and revokes the whole session (its "family"). Tokens, keys and refresh tokens
//! are never logged.

use crate::clock::{Clock, Timestamp, format_timestamp};
use crate::domain::kinds::{self, OrgRole};
use crate::domain::{OrgId, UserId};
use crate::outbox::{self, Event, EventType};
use crate::secrets;
use crate::store::sessions::{self as sql, StoredKey, TeamRole};
use crate::store::{Store, StoreError, Tx, audit};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

/// Default lifetime of an access token.
pub const DEFAULT_ACCESS_TTL_SECS: u64 = 15 * 60;

/// Longest access token lifetime the configuration accepts.
pub const MAX_ACCESS_TTL_SECS: u64 = 24 * 60 * 60;

/// Default lifetime of a refresh token (each refresh issues a new one).
pub const DEFAULT_REFRESH_TTL_SECS: u64 = 30 * 24 * 60 * 60;

/// Prefix of refresh tokens, so a leaked one is recognisable by secret scanners.
pub const REFRESH_TOKEN_PREFIX: &str = "rcr_";

/// The signing algorithm of access tokens (RFC 8037).
const ALG: &str = "EdDSA";

/// RFC 8410 §7: the PKCS#8 `OneAsymmetricKey` prefix of an Ed25519 private key, followed
/// by the 32-byte seed. jsonwebtoken reads EdDSA keys as PKCS#8 DER.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Why a session operation failed (our side, not the caller's).
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys, randomness, encoding: our fault.
    #[error("{0}")]
    Internal(String),
}

/// Why a refresh token was refused (RFC 6749 §5.2 `invalid_grant`).
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is invalid, expired or revoked")]
    Invalid,
    /// A retired token came back: the session is revoked (RFC 9700 §4.14.2).
    #[error("the refresh token was already used; the session has been revoked")]
    Reused,
    #[error(transparent)]
    Session(#[from] SessionError),
}

impl From<StoreError> for RefreshError {
    fn from(e: StoreError) -> Self {
        RefreshError::Session(SessionError::Store(e))
    }
}

/// A team in an access token: a membership holding a seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamClaim {
    pub id: String,
    pub role: kinds::TeamRole,
}

/// The claims of an access token (RFC 7519 §4.1 plus ours).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The public base URL of this server.
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The org id.
    pub org: String,
    /// Memberships holding a seat, with the team role.
    pub teams: Vec<TeamClaim>,
    /// `org_admin`, `org_analyst`, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_role: Option<OrgRole>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The session (refresh token family) the token belongs to.
    pub sid: String,
}

/// A freshly issued token pair (RFC 6749 §5.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    pub session_id: String,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
    pub claims: AccessClaims,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("session_id", &self.session_id)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Settings of sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// `iss` of every access token: the public base URL.
    pub issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

/// A key ready to sign or verify.
struct LoadedKey {
    /// None for a retired key: its private half is erased at rotation.
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

/// Issues, refreshes, verifies and revokes sessions. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: Arc<SessionSettings>,
    /// Keys by kid, parsed once. Keys never change under a kid, so the cache needs no
    /// invalidation; which key signs is read from the database each time.
    keys: Arc<RwLock<HashMap<String, Arc<LoadedKey>>>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn internal(what: &str) -> impl FnOnce(String) -> SessionError + '_ {
    move |e| SessionError::Internal(format!("{what}: {e}"))
}

fn team_claims(teams: Vec<TeamRole>) -> Vec<TeamClaim> {
    teams
        .into_iter()
        .map(|TeamRole { team_id, role }| TeamClaim {
            id: team_id.into_string(),
            role,
        })
        .collect()
}

/// A new Ed25519 key with its kid (the RFC 7638 JWK thumbprint). Not stored.
pub fn generate_key(now: OffsetDateTime) -> Result<StoredKey, SessionError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| internal("random")(e.to_string()))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
    // RFC 7638 §3.2: the required members in lexicographic order, no whitespace.
    let thumbprint = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
    let private_key = STANDARD.encode(seed);
    seed.fill(0);
    Ok(StoredKey {
        kid,
        alg: ALG.to_owned(),
        private_key,
        public_key: x,
        signer: true,
        created: Timestamp::from(now),
        retired: None,
    })
}

fn load_key(stored: &StoredKey) -> Result<LoadedKey, SessionError> {
    if stored.alg != ALG {
        return Err(SessionError::Internal(format!(
            "signing key {} has unsupported algorithm {}",
            stored.kid, stored.alg
        )));
    }
    let encoding = if stored.private_key.is_empty() {
        None
    } else {
        let seed = STANDARD
            .decode(&stored.private_key)
            .map_err(|e| internal("stored signing key")(e.to_string()))?;
        if seed.len() != 32 {
            return Err(SessionError::Internal(format!(
                "signing key {} is not an Ed25519 seed",
                stored.kid
            )));
        }
        let mut der = Vec::with_capacity(48);
        der.extend_from_slice(&ED25519_PKCS8_PREFIX);
        der.extend_from_slice(&seed);
        let encoding = EncodingKey::from_ed_der(&der);
        der.fill(0);
        Some(encoding)
    };
    let decoding = DecodingKey::from_ed_components(&stored.public_key)
        .map_err(|e| internal("stored public key")(e.to_string()))?;
    Ok(LoadedKey { encoding, decoding })
}

/// Creates the first signing key if there is none (several processes starting at once
/// agree on one). Returns whether this call created it.
pub async fn ensure_signing_key(store: &Store, now: OffsetDateTime) -> Result<bool, SessionError> {
    let mut tx = store.write().await?;
    if sql::signer(&mut tx).await?.is_some() {
        return Ok(false);
    }
    let created = sql::insert_first_signer(&mut tx, &generate_key(now)?).await?;
    tx.commit().await?;
    Ok(created)
}

/// Makes a new key the signer; the old one stays published until its tokens expire.
/// Returns (new kid, retired kid).
pub async fn rotate_signing_key(
    store: &Store,
    now: OffsetDateTime,
) -> Result<(String, Option<String>), SessionError> {
    let key = generate_key(now)?;
    let mut tx = store.write().await?;
    let old = sql::rotate(&mut tx, &key, &format_timestamp(now)).await?;
    tx.commit().await?;
    Ok((key.kid, old))
}

/// What introspection and `/Me` learn from a live access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveToken {
    /// As signed when the token was issued.
    pub claims: AccessClaims,
    /// The seat-holding memberships now, read with the session: the token's own `teams`
    /// may be up to an access token lifetime old.
    pub teams: Vec<TeamClaim>,
    /// The org role now.
    pub org_role: Option<OrgRole>,
}

impl Sessions {
    /// Sessions over `store`; call [`ensure_signing_key`] once at start-up.
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: SessionSettings) -> Sessions {
        // Pin jsonwebtoken's backend to RustCrypto explicitly: its automatic choice panics
        // if another crate in the build ever enables its aws-lc backend too.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        Sessions {
            store,
            clock,
            settings: Arc::new(settings),
            keys: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn cached(&self, kid: &str) -> Option<Arc<LoadedKey>> {
        self.keys.read().ok().and_then(|m| m.get(kid).cloned())
    }

    fn remember(&self, kid: &str, stored: &StoredKey) -> Result<Arc<LoadedKey>, SessionError> {
        let loaded = Arc::new(load_key(stored)?);
        if let Ok(mut m) = self.keys.write() {
            m.insert(kid.to_owned(), loaded.clone());
        }
        Ok(loaded)
    }

    /// Opens a session for a user who just signed in, in the sign-in's transaction.
    pub(crate) async fn open(
        &self,
        tx: &mut Tx,
        org_id: &OrgId,
        user_id: &UserId,
        method: &str,
        now: OffsetDateTime,
    ) -> Result<Issued, SessionError> {
        let session_id = uuid::Uuid::new_v4().to_string();
        sql::insert_session(
            tx,
            &sql::NewSession {
                id: &session_id,
                org_id,
                user_id,
                method,
                now: &Timestamp::from(now),
            },
        )
        .await?;
        self.issue(tx, &session_id, org_id, user_id, now).await
    }

    /// Signs an access token and stores a new refresh token for the session.
    async fn issue(
        &self,
        tx: &mut Tx,
        session_id: &str,
        org_id: &OrgId,
        user_id: &UserId,
        now: OffsetDateTime,
    ) -> Result<Issued, SessionError> {
        let (teams, org_role) = sql::access_of(tx, org_id, user_id).await?;
        let signer = sql::signer(tx)
            .await?
            .ok_or_else(|| SessionError::Internal("no signing key in the database".into()))?;
        let key = match self.cached(&signer.kid) {
            Some(k) => k,
            None => self.remember(&signer.kid, &signer)?,
        };
        let ttl = self.settings.access_ttl_secs;
        let iat = now.unix_timestamp();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: user_id.to_string(),
            org: org_id.to_string(),
            teams: team_claims(teams),
            org_role,
            iat,
            exp: iat.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session_id.to_owned(),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        let encoding = key.encoding.as_ref().ok_or_else(|| {
            SessionError::Internal(format!("signing key {} has no private key", signer.kid))
        })?;
        let access_token = jsonwebtoken::encode(&header, &claims, encoding)
            .map_err(|e| internal("signing an access token")(e.to_string()))?;
        let refresh_token = secrets::new_token(REFRESH_TOKEN_PREFIX)
            .map_err(|e| internal("random")(e.to_string()))?;
        let refresh_ttl = Duration::seconds(
            i64::try_from(self.settings.refresh_ttl_secs).unwrap_or(i64::MAX / 2),
        );
        sql::insert_refresh_token(
            tx,
            &secrets::token_hash(&refresh_token),
            session_id,
            org_id,
            &format_timestamp(now),
            &format_timestamp(now.saturating_add(refresh_ttl)),
        )
        .await?;
        Ok(Issued {
            session_id: session_id.to_owned(),
            access_token,
            refresh_token,
            expires_in: ttl,
            claims,
        })
    }

    /// RFC 6749 §6: trades a refresh token for a new access and refresh token, retiring
    /// the one presented. A retired token presented again revokes its session (and with
    /// it every token of the family); that revocation is committed though the request fails.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Issued, RefreshError> {
        let now = self.clock.now();
        let stamp = format_timestamp(now);
        let hash = secrets::token_hash(refresh_token);
        let mut tx = self.store.write().await?;
        let Some(found) = sql::refresh_token(&mut tx, &hash).await? else {
            return Err(RefreshError::Invalid);
        };
        if !secrets::hashes_equal(&found.token_hash, &hash) || found.session_revoked.is_some() {
            return Err(RefreshError::Invalid);
        }
        if found.used.is_some() || !sql::use_refresh_token(&mut tx, &hash, &stamp).await? {
            self.revoke_for_reuse(&mut tx, &found, now).await?;
            tx.commit().await?;
            return Err(RefreshError::Reused);
        }
        if found.expires.as_str() <= stamp.as_str() {
            return Err(RefreshError::Invalid);
        }
        // A deprovisioned user's sessions are revoked already; this also covers a user
        // deactivated by any path that did not.
        if sql::user_active(&mut tx, &found.org_id, &found.user_id).await? != Some(true) {
            return Err(RefreshError::Invalid);
        }
        sql::touch_session(&mut tx, &found.session_id, &stamp).await?;
        let issued = self
            .issue(
                &mut tx,
                &found.session_id,
                &found.org_id,
                &found.user_id,
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(issued)
    }

    async fn revoke_for_reuse(
        &self,
        tx: &mut Tx,
        found: &sql::RefreshToken,
        now: OffsetDateTime,
    ) -> Result<(), SessionError> {
        let stamp = format_timestamp(now);
        if !sql::revoke_session(tx, &found.session_id, &stamp, "refresh_token_reuse").await? {
            return Ok(());
        }
        tracing::warn!(
            session = %found.session_id,
            org = %found.org_id,
            "a retired refresh token was presented again; the session is revoked"
        );
        let after = json!({"session_id": found.session_id, "reason": "refresh_token_reuse"});
        audit::insert(
            tx,
            &audit::NewEntry {
                org_id: &found.org_id,
                at: &stamp,
                actor: "sessions",
                action: "session.revoked",
                target: &format!("user:{}", found.user_id),
                before: None,
                after: Some(&after),
            },
        )
        .await?;
        sessions_revoked_event(
            tx,
            &found.org_id,
            &found.user_id,
            std::slice::from_ref(&found.session_id),
            "refresh_token_reuse",
            now,
        )
        .await
    }

    /// Verifies an access token's signature (EdDSA only, key by `kid`), issuer and expiry
    /// against our clock. Says nothing of revocation; see [`Sessions::live`].
    pub async fn verify(&self, token: &str) -> Option<AccessClaims> {
        // Only EdDSA: `alg: none` does not parse, and an HS256 token "signed" with our
        // public key fails the algorithm check before any key is used.
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::EdDSA {
            return None;
        }
        let kid = header.kid?;
        let key = match self.cached(&kid) {
            Some(k) => k,
            None => {
                // Another process may have rotated in a key we have not seen yet.
                let mut tx = self.store.read().await.ok()?;
                let stored = sql::key(&mut tx, &kid).await.ok()??;
                drop(tx);
                self.remember(&kid, &stored).ok()?
            }
        };
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Expiry is checked below against the app's clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation).ok()?;
        let now = self.clock.now().unix_timestamp();
        (data.claims.exp > now).then_some(data.claims)
    }

    /// A verified access token whose session is not revoked and whose user is still an
    /// active user of the token's org: what introspection answers `active` for.
    pub async fn live(&self, token: &str) -> Result<Option<LiveToken>, SessionError> {
        let Some(claims) = self.verify(token).await else {
            return Ok(None);
        };
        let mut tx = self.store.read().await?;
        let state = sql::session(&mut tx, &claims.sid).await?;
        let live = state.is_some_and(|s| {
            s.revoked.is_none()
                && s.user_active == Some(true)
                && s.org_id == claims.org.as_str()
                && s.user_id == claims.sub.as_str()
        });
        if !live {
            return Ok(None);
        }
        // Read in the same snapshot as the session: a membership removed after the token
        // was issued is not reported (issue 16, point 12).
        let (org_id, user_id) = (
            OrgId::from(claims.org.as_str()),
            UserId::from(claims.sub.as_str()),
        );
        let (teams, org_role) = sql::access_of(&mut tx, &org_id, &user_id).await?;
        Ok(Some(LiveToken {
            claims,
            teams: team_claims(teams),
            org_role,
        }))
    }

    /// The JWK Set (RFC 7517 §5) of the keys that verify live tokens: the signer and the
    /// keys retired less than an access token lifetime ago.
    pub async fn jwks(&self) -> Result<Value, SessionError> {
        let ttl = i64::try_from(self.settings.access_ttl_secs).unwrap_or(i64::MAX / 2);
        // One minute more for clock differences between processes.
        let horizon = self.clock.now() - Duration::seconds(ttl) - Duration::minutes(1);
        let mut tx = self.store.read().await?;
        let keys = sql::published_keys(&mut tx, &format_timestamp(horizon)).await?;
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| {
                // RFC 8037 §2: an Ed25519 public key as an OKP JWK.
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": k.public_key,
                    "kid": k.kid,
                    "alg": k.alg,
                    "use": "sig",
                })
            })
            .collect();
        Ok(json!({ "keys": keys }))
    }
}

/// Queues `user.sessions_revoked` for the org's webhook endpoints.
pub(crate) async fn sessions_revoked_event(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    session_ids: &[String],
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), SessionError> {
    let event = Event {
        kind: EventType::UserSessionsRevoked,
        data: json!({
            "user": {"id": user_id},
            "sessions": session_ids,
            "reason": reason,
        }),
    };
    let key = format!(
        "{}:{user_id}:{}",
        EventType::UserSessionsRevoked.as_str(),
        session_ids.join(",")
    );
    outbox::enqueue_event(tx, org_id, &key, &event, now)
        .await
        .map_err(|e| match e {
            outbox::OutboxError::Store(s) => SessionError::Store(s),
            other => SessionError::Internal(other.to_string()),
        })?;
    Ok(())
}
