//! The invitation token: `<membership id>.<expiry, unix seconds>.<base64url HMAC-SHA256 of
//! both>`, signed with a key shared by every process.

use crate::domain::MembershipId;
use crate::provisioning::{Error, server_keys};
use crate::store::Store;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use time::OffsetDateTime;

/// The name of the signing key in `server_secrets`.
const KEY_NAME: &str = "invitation_hmac_key";

/// Default validity of an invitation link.
pub const DEFAULT_TTL_DAYS: u32 = 7;

/// What signs invitation links and where they point. `Debug` hides the key.
#[derive(Clone)]
pub struct Invitations {
    key: Hmac<Sha256>,
    /// `https://rollcall.example.com` (no trailing slash).
    base_url: String,
    ttl: time::Duration,
}

impl std::fmt::Debug for Invitations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitations")
            .field("base_url", &self.base_url)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Why an invitation token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInvitation {
    #[error("the invitation link is malformed")]
    Malformed,
    #[error("the invitation link's signature does not match")]
    BadSignature,
    #[error("the invitation link has expired")]
    Expired,
}

impl Invitations {
    /// Loads the shared signing key from the database, creating it on first start.
    pub async fn load(
        store: &Store,
        base_url: &str,
        ttl_days: u32,
        now: OffsetDateTime,
    ) -> Result<Invitations, Error> {
        let key = server_keys::load_or_create(store, KEY_NAME, now).await?;
        Invitations::with_key(&key, base_url, ttl_days)
    }

    /// With a given key (tests, or a key from configuration).
    pub fn with_key(key: &[u8], base_url: &str, ttl_days: u32) -> Result<Invitations, Error> {
        Ok(Invitations {
            key: <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key)
                .map_err(|_| Error::Internal("invalid invitation key length".into()))?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl: time::Duration::days(i64::from(ttl_days.max(1))),
        })
    }

    /// When an invitation sent at `now` expires (whole seconds, as in the token).
    pub fn expiry(&self, now: OffsetDateTime) -> OffsetDateTime {
        let at = now + self.ttl;
        OffsetDateTime::from_unix_timestamp(at.unix_timestamp()).unwrap_or(at)
    }

    fn mac(&self, membership_id: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(format!("rollcall-invitation.v1.{membership_id}.{expires}").as_bytes());
        mac
    }

    /// The signed token for a membership, valid until `expires`.
    pub fn token(&self, membership_id: &MembershipId, expires: OffsetDateTime) -> String {
        let exp = expires.unix_timestamp();
        let sig = self
            .mac(membership_id.as_str(), exp)
            .finalize()
            .into_bytes();
        format!("{membership_id}.{exp}.{}", B64.encode(sig))
    }

    /// The invitation link carrying `token`.
    pub fn link(&self, token: &str) -> String {
        format!("{}/invitations/{token}", self.base_url)
    }

    /// Checks a token's form and signature, whether or not it has expired: an expired
    /// link still names its membership, so it can be renewed.
    pub fn check(&self, token: &str, now: OffsetDateTime) -> Result<Checked, InvalidInvitation> {
        let mut parts = token.split('.');
        let (Some(id), Some(exp), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidInvitation::Malformed);
        };
        let exp = parse_expiry(exp).ok_or(InvalidInvitation::Malformed)?;
        let sig = B64.decode(sig).map_err(|_| InvalidInvitation::Malformed)?;
        // `verify_slice` compares in constant time.
        self.mac(id, exp)
            .verify_slice(&sig)
            .map_err(|_| InvalidInvitation::BadSignature)?;
        let expires =
            OffsetDateTime::from_unix_timestamp(exp).map_err(|_| InvalidInvitation::Malformed)?;
        Ok(Checked {
            membership_id: MembershipId::from(id),
            expires,
            expired: now.unix_timestamp() >= exp,
        })
    }

    /// Checks a token; returns the membership id it names.
    pub fn verify(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<MembershipId, InvalidInvitation> {
        let checked = self.check(token, now)?;
        if checked.expired {
            return Err(InvalidInvitation::Expired);
        }
        Ok(checked.membership_id)
    }
}

/// The expiry as [`Invitations::token`] writes it, and only so: decimal digits without a
/// sign or leading zeros. `i64::from_str` also takes `+1700000000` and `01700000000`,
/// which would give one invitation many valid spellings of its link.
fn parse_expiry(exp: &str) -> Option<i64> {
    let canonical = exp.bytes().all(|b| b.is_ascii_digit()) && !exp.starts_with('0');
    canonical.then(|| exp.parse().ok()).flatten()
}

/// A token whose signature holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub membership_id: MembershipId,
    pub expires: OffsetDateTime,
    pub expired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_expire_and_resist_tampering() {
        let inv = Invitations::with_key(&[7; 32], "https://r.test/", 7).unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let exp = inv.expiry(now);
        assert_eq!(exp - now, time::Duration::days(7));
        let t = inv.token(&MembershipId::from("m-1"), exp);
        assert_eq!(inv.verify(&t, now).unwrap(), "m-1");
        assert!(inv.link(&t).starts_with("https://r.test/invitations/m-1."));
        assert_eq!(inv.verify(&t, exp), Err(InvalidInvitation::Expired));
        let forged = t.replacen("m-1", "m-2", 1);
        assert_eq!(
            inv.verify(&forged, now),
            Err(InvalidInvitation::BadSignature)
        );
        let other = Invitations::with_key(&[8; 32], "https://r.test", 7).unwrap();
        assert_eq!(other.verify(&t, now), Err(InvalidInvitation::BadSignature));
        assert_eq!(inv.verify("x.y", now), Err(InvalidInvitation::Malformed));
        let exp = exp.unix_timestamp().to_string();
        for spelling in [
            format!("0{exp}"),
            format!("+{exp}"),
            format!("-{exp}"),
            " 1".into(),
        ] {
            let other = t.replacen(&format!(".{exp}."), &format!(".{spelling}."), 1);
            assert_eq!(
                inv.verify(&other, now),
                Err(InvalidInvitation::Malformed),
                "{spelling}"
            );
        }
        assert!(!format!("{inv:?}").contains("key"));
    }
}
