//! Sign-in and sessions: matching a login to a user, activating memberships, the signing
//! keys of access tokens, sessions and their refresh tokens (stored only as hashes).

use super::fold_keys::duplicate_key;
use super::sealed_columns::SIGNING_KEYS;
use super::sql::{Q, Row};
use super::teams::SEAT_STATES;
use super::{StoreError, Tx};
use crate::domain::kinds::{self, MembershipState, OrgRole};
use crate::domain::time::Timestamp;
use crate::domain::{MembershipId, OrgId, TeamId, UserId};

/// Which column a login is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchColumn {
    /// `user_name_norm` (the caller folds the value with `scim::text::fold_key`).
    UserNameNorm,
    /// `scim_user_emails.value_norm` (the caller folds the value).
    EmailNorm,
    /// `external_id`, exactly.
    ExternalId,
}

/// A user a login matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedUser {
    pub id: String,
    pub active: bool,
}

/// The users of the org whose `column` equals `value`, at most `limit` of them. Indexed:
/// `scim_users_user_name`, `scim_user_emails_value`, `scim_users_external_id`. A userName
/// also finds the later user whose name folds to the same key (moved aside by the start-up
/// refold, `fold_keys::duplicate_key`): the match is then ambiguous, never the wrong one.
pub async fn match_users(
    tx: &mut Tx,
    org_id: &OrgId,
    column: MatchColumn,
    value: &str,
    limit: i64,
) -> Result<Vec<MatchedUser>, StoreError> {
    let sql = match column {
        MatchColumn::UserNameNorm => {
            "SELECT u.id, u.active FROM scim_users u \
             WHERE u.org_id = ? AND u.user_name_norm IN (?, ?) ORDER BY u.seq"
        }
        MatchColumn::EmailNorm => {
            "SELECT DISTINCT u.id, u.active, u.seq FROM scim_user_emails e \
             JOIN scim_users u ON u.seq = e.user_seq \
             WHERE e.org_id = ? AND e.value_norm = ? ORDER BY u.seq"
        }
        MatchColumn::ExternalId => {
            "SELECT u.id, u.active FROM scim_users u \
             WHERE u.org_id = ? AND u.external_id = ? ORDER BY u.seq"
        }
    };
    let mut q = Q::new(sql).bind(org_id).bind(value);
    if column == MatchColumn::UserNameNorm {
        q = q.bind(duplicate_key(value, 1));
    }
    q.push_limit(limit);
    let rows = tx.fetch_all(q).await?;
    rows.iter()
        .map(|r| {
            Ok(MatchedUser {
                id: r.text("id")?,
                active: r.bool("active")?,
            })
        })
        .collect()
}

/// Whether the user exists in the org and is active; None if there is no such user.
pub async fn user_active(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Option<bool>, StoreError> {
    tx.fetch_optional(
        Q::new("SELECT active FROM scim_users WHERE org_id = ? AND id = ?")
            .bind(org_id)
            .bind(user_id),
    )
    .await?
    .map(|r| r.bool("active"))
    .transpose()
}

/// A membership as a sign-in sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInMembership {
    pub id: MembershipId,
    pub team_id: TeamId,
    pub role: kinds::TeamRole,
    pub state: MembershipState,
    pub first_sign_in_at: Option<Timestamp>,
}

/// The user's memberships in the org, locked until the transaction ends (PostgreSQL).
pub async fn memberships_for_sign_in(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<Vec<SignInMembership>, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new(
        "SELECT id, team_id, role, state, first_sign_in_at FROM memberships \
         WHERE org_id = ? AND user_id = ? ORDER BY team_id",
    )
    .bind(org_id)
    .bind(user_id);
    q.push(d.for_update());
    tx.fetch_all(q)
        .await?
        .iter()
        .map(|r| {
            Ok(SignInMembership {
                id: r.id("id")?,
                team_id: r.id("team_id")?,
                role: r.parse("role")?,
                state: r.parse("state")?,
                first_sign_in_at: r.opt_parse("first_sign_in_at")?,
            })
        })
        .collect()
}

/// Marks the user's seat-holding memberships `active`, sets `first_sign_in_at` where it
/// is empty and `last_active_at` on all of them. `awaiting_seat` rows are left alone.
pub async fn activate_memberships(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    now: &str,
) -> Result<u64, StoreError> {
    tx.execute(
        Q::new(&format!(
            "UPDATE memberships SET state = 'active', \
             first_sign_in_at = COALESCE(first_sign_in_at, ?), last_active_at = ? \
             WHERE org_id = ? AND user_id = ? AND state IN {SEAT_STATES}"
        ))
        .bind(now)
        .bind(now)
        .bind(org_id)
        .bind(user_id),
    )
    .await
}

/// A team claim of an access token: a membership holding a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRole {
    pub team_id: TeamId,
    pub role: kinds::TeamRole,
}

/// The teams (memberships holding a seat) and the org role of a user: what an access
/// token carries.
pub async fn access_of(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
) -> Result<(Vec<TeamRole>, Option<OrgRole>), StoreError> {
    let teams = tx
        .fetch_all(
            Q::new(&format!(
                "SELECT team_id, role FROM memberships \
                 WHERE org_id = ? AND user_id = ? AND state IN {SEAT_STATES} ORDER BY team_id"
            ))
            .bind(org_id)
            .bind(user_id),
        )
        .await?
        .iter()
        .map(|r| {
            Ok(TeamRole {
                team_id: r.id("team_id")?,
                role: r.parse("role")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let org_role = tx
        .fetch_optional(
            Q::new("SELECT role FROM org_roles WHERE org_id = ? AND user_id = ?")
                .bind(org_id)
                .bind(user_id),
        )
        .await?
        .map(|r| r.parse("role"))
        .transpose()?;
    Ok((teams, org_role))
}

/// Which of `user_ids` have no membership left at all.
pub async fn without_memberships(
    tx: &mut Tx,
    user_ids: &[UserId],
) -> Result<Vec<UserId>, StoreError> {
    let head = Q::new("SELECT DISTINCT user_id FROM memberships WHERE user_id IN (");
    let left = tx
        .fetch_all_in(head, user_ids, ")", 500)
        .await?
        .iter()
        .map(|row| row.id::<UserId>("user_id"))
        .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
    Ok(user_ids
        .iter()
        .filter(|u| !left.contains(*u))
        .cloned()
        .collect())
}

// ---- signing keys ----

/// A signing key as stored. `Debug` leaves the private key out.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// Base64 Ed25519 seed.
    pub private_key: String,
    /// Base64url Ed25519 public key.
    pub public_key: String,
    pub signer: bool,
    pub created: Timestamp,
    pub retired: Option<Timestamp>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("signer", &self.signer)
            .field("created", &self.created)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

const KEY_COLUMNS: &str =
    "kid, alg, private_key, public_key, signer, created_at, retired_at FROM signing_keys";

fn decode_key(r: &Row, tx: &Tx) -> Result<StoredKey, StoreError> {
    let kid = r.text("kid")?;
    let private_key = tx.open(SIGNING_KEYS, &kid, &r.text("private_key")?)?;
    Ok(StoredKey {
        kid,
        alg: r.text("alg")?,
        private_key,
        public_key: r.text("public_key")?,
        signer: r.opt_int("signer")?.is_some(),
        created: r.parse("created_at")?,
        retired: r.opt_parse("retired_at")?,
    })
}

/// Stores `key` as the signer unless there is one already (several processes starting at
/// once end up with one signer). Returns whether it was stored.
pub async fn insert_first_signer(tx: &mut Tx, key: &StoredKey) -> Result<bool, StoreError> {
    let private_key = tx.seal(SIGNING_KEYS, &key.kid, &key.private_key)?;
    let n = tx
        .execute(
            Q::new(
                "INSERT INTO signing_keys \
                 (kid, alg, private_key, public_key, signer, created_at) \
                 VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (signer) DO NOTHING",
            )
            .bind(key.kid.as_str())
            .bind(key.alg.as_str())
            .bind(private_key)
            .bind(key.public_key.as_str())
            .bind(key.created.as_str()),
        )
        .await?;
    Ok(n == 1)
}

/// Retires the current signer (at `now`, erasing its private key) and makes `key` the
/// signer. Returns the kid of
/// the retired key, if there was one.
pub async fn rotate(tx: &mut Tx, key: &StoredKey, now: &str) -> Result<Option<String>, StoreError> {
    let d = tx.dialect();
    let old = tx
        .fetch_optional(Q::new(&format!(
            "SELECT kid FROM signing_keys WHERE signer = 1{}",
            d.for_update()
        )))
        .await?
        .map(|r| r.text("kid"))
        .transpose()?;
    tx.execute(
        // The retired key only verifies from now on: its private half is erased.
        Q::new(
            "UPDATE signing_keys SET signer = NULL, retired_at = ?, private_key = '' \
             WHERE signer = 1",
        )
        .bind(now),
    )
    .await?;
    insert_first_signer(tx, key).await?;
    Ok(old)
}

/// The key that signs new tokens.
pub async fn signer(tx: &mut Tx) -> Result<Option<StoredKey>, StoreError> {
    let row = tx
        .fetch_optional(Q::new(&format!("SELECT {KEY_COLUMNS} WHERE signer = 1")))
        .await?;
    row.as_ref().map(|r| decode_key(r, tx)).transpose()
}

/// A key by its `kid`.
pub async fn key(tx: &mut Tx, kid: &str) -> Result<Option<StoredKey>, StoreError> {
    let row = tx
        .fetch_optional(Q::new(&format!("SELECT {KEY_COLUMNS} WHERE kid = ?")).bind(kid))
        .await?;
    row.as_ref().map(|r| decode_key(r, tx)).transpose()
}

/// The keys to publish: the signer and every key retired after `retired_after` (its
/// tokens may still be alive), newest first.
pub async fn published_keys(
    tx: &mut Tx,
    retired_after: &str,
) -> Result<Vec<StoredKey>, StoreError> {
    let rows = tx
        .fetch_all(
            Q::new(&format!(
                "SELECT {KEY_COLUMNS} WHERE retired_at IS NULL OR retired_at > ? \
                 ORDER BY created_at DESC, kid"
            ))
            .bind(retired_after),
        )
        .await?;
    rows.iter().map(|r| decode_key(r, tx)).collect()
}

// ---- sessions and refresh tokens ----

/// A new session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub org_id: &'a OrgId,
    pub user_id: &'a UserId,
    pub method: &'a str,
    pub now: &'a Timestamp,
}

/// Stores a new session.
pub async fn insert_session(tx: &mut Tx, s: &NewSession<'_>) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO sessions (id, org_id, user_id, method, created_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(s.id)
        .bind(s.org_id)
        .bind(s.user_id)
        .bind(s.method)
        .bind(s.now),
    )
    .await?;
    Ok(())
}

/// A session's state, with whether its user is (still) active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub revoked: Option<Timestamp>,
    /// None: the user no longer exists.
    pub user_active: Option<bool>,
}

/// A session by id, with its user's `active`.
pub async fn session(tx: &mut Tx, id: &str) -> Result<Option<SessionState>, StoreError> {
    tx.fetch_optional(
        Q::new(
            "SELECT s.id, s.org_id, s.user_id, s.revoked_at, u.id AS found, u.active \
             FROM sessions s \
             LEFT JOIN scim_users u ON u.id = s.user_id AND u.org_id = s.org_id \
             WHERE s.id = ?",
        )
        .bind(id),
    )
    .await?
    .map(|r| {
        Ok(SessionState {
            id: r.text("id")?,
            org_id: r.id("org_id")?,
            user_id: r.id("user_id")?,
            revoked: r.opt_parse("revoked_at")?,
            user_active: match r.opt_text("found")? {
                Some(_) => Some(r.bool("active")?),
                None => None,
            },
        })
    })
    .transpose()
}

/// Records that the session was refreshed at `now`.
pub async fn touch_session(tx: &mut Tx, id: &str, now: &str) -> Result<(), StoreError> {
    tx.execute(
        Q::new("UPDATE sessions SET refreshed_at = ? WHERE id = ?")
            .bind(now)
            .bind(id),
    )
    .await?;
    Ok(())
}

/// Revokes sessions that are not revoked yet and retires their refresh tokens. Returns
/// the ids of the sessions it revoked.
async fn revoke_where(
    tx: &mut Tx,
    filter: Q,
    now: &str,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let d = tx.dialect();
    let mut select = Q::new("SELECT id FROM sessions WHERE revoked_at IS NULL AND ");
    select.append(filter);
    select.push(d.for_update());
    let ids = tx
        .fetch_all(select)
        .await?
        .iter()
        .map(|r| r.text("id"))
        .collect::<Result<Vec<_>, _>>()?;
    for chunk in ids.chunks(500) {
        let mut q = Q::new("UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id IN (")
            .bind(now)
            .bind(reason);
        q.push_list(chunk);
        q.push(")");
        tx.execute(q).await?;
        let mut q = Q::new(
            "UPDATE refresh_tokens SET used_at = ? WHERE used_at IS NULL AND session_id IN (",
        )
        .bind(now);
        q.push_list(chunk);
        q.push(")");
        tx.execute(q).await?;
    }
    Ok(ids)
}

/// Revokes one session (reuse of a retired refresh token). Returns whether it was live.
pub async fn revoke_session(
    tx: &mut Tx,
    id: &str,
    now: &str,
    reason: &str,
) -> Result<bool, StoreError> {
    Ok(!revoke_where(tx, Q::new("id = ?").bind(id), now, reason)
        .await?
        .is_empty())
}

/// Revokes every live session of a user of the org. Returns the revoked session ids.
pub async fn revoke_user_sessions(
    tx: &mut Tx,
    org_id: &OrgId,
    user_id: &UserId,
    now: &str,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    revoke_where(
        tx,
        Q::new("org_id = ? AND user_id = ?")
            .bind(org_id)
            .bind(user_id),
        now,
        reason,
    )
    .await
}

/// A refresh token found by its hash, with its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub session_id: String,
    pub org_id: OrgId,
    pub user_id: UserId,
    pub expires: Timestamp,
    pub used: Option<Timestamp>,
    pub session_revoked: Option<Timestamp>,
    pub method: String,
}

/// Stores a refresh token's hash.
pub async fn insert_refresh_token(
    tx: &mut Tx,
    token_hash: &str,
    session_id: &str,
    org_id: &OrgId,
    now: &str,
    expires: &str,
) -> Result<(), StoreError> {
    tx.execute(
        Q::new(
            "INSERT INTO refresh_tokens (token_hash, session_id, org_id, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(session_id)
        .bind(org_id)
        .bind(now)
        .bind(expires),
    )
    .await?;
    Ok(())
}

/// The refresh token with this hash, locked until the transaction ends (PostgreSQL).
pub async fn refresh_token(
    tx: &mut Tx,
    token_hash: &str,
) -> Result<Option<RefreshToken>, StoreError> {
    let d = tx.dialect();
    let mut q = Q::new(
        "SELECT r.token_hash, r.session_id, r.org_id, s.user_id, r.expires_at, r.used_at, \
         s.revoked_at, s.method FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id \
         WHERE r.token_hash = ?",
    )
    .bind(token_hash);
    if d == super::Dialect::Postgres {
        q.push(" FOR UPDATE OF r");
    }
    tx.fetch_optional(q)
        .await?
        .map(|r| {
            Ok(RefreshToken {
                token_hash: r.text("token_hash")?,
                session_id: r.text("session_id")?,
                org_id: r.id("org_id")?,
                user_id: r.id("user_id")?,
                expires: r.parse("expires_at")?,
                used: r.opt_parse("used_at")?,
                session_revoked: r.opt_parse("revoked_at")?,
                method: r.text("method")?,
            })
        })
        .transpose()
}

/// Retires a refresh token. Returns false if it was already used (a concurrent refresh
/// won the race).
pub async fn use_refresh_token(
    tx: &mut Tx,
    token_hash: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            Q::new(
                "UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL",
            )
            .bind(now)
            .bind(token_hash),
        )
        .await?;
    Ok(n == 1)
}

/// Every signing key, newest first (for `rollcall keys list`).
pub async fn all_keys(tx: &mut Tx) -> Result<Vec<StoredKey>, StoreError> {
    let rows = tx
        .fetch_all(Q::new(&format!(
            "SELECT {KEY_COLUMNS} ORDER BY created_at DESC, kid"
        )))
        .await?;
    rows.iter().map(|r| decode_key(r, tx)).collect()
}
