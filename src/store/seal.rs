//! Secrets sealed at rest (issue 16 point 7): what the server must read back in full
//! (OIDC client secrets, webhook signing secrets, signing keys, `server_secrets`) is
//! stored as `sealed:v1:<key id>:<base64 of nonce and ciphertext>`, XChaCha20-Poly1305
//! under the master key with a random 24-byte nonce per value. The associated data names
//! the column and the row, so a sealed value copied into another row does not open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// Every sealed value starts with this; a stored value without it is clear text (written
/// before sealing existed, sealed at the next start).
const SEALED: &str = "sealed:";
const V1: &str = "sealed:v1:";
const NONCE_LEN: usize = 24;
const KEY_LEN: usize = 32;

/// Why a value could not be sealed or opened, or a key not read. Never carries a secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("a master key is the base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")]
    BadKey,
    #[error(
        "{what} was sealed with master key {found}, but this server has master key {ours}: \
         give rollcall the key it was sealed with (ROLLCALL_MASTER_KEY or --master-key-file)"
    )]
    OtherKey {
        what: String,
        found: String,
        ours: String,
    },
    #[error("{what} does not open: it was altered or copied from another row")]
    DoesNotOpen { what: String },
    #[error("{what} is not in a sealed format this version reads")]
    UnknownFormat { what: String },
    #[error("no randomness for a nonce: {0}")]
    Random(String),
}

/// The key that seals secrets at rest. `Debug` shows its id only.
#[derive(Clone)]
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    id: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A key from its base64 text (surrounding whitespace ignored, as in a file).
    pub fn from_base64(text: &str) -> Result<MasterKey, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::BadKey)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        // The id names the key in sealed values and messages without revealing it.
        let digest = Sha256::new()
            .chain_update(b"rollcall master key id\0")
            .chain_update(bytes)
            .finalize();
        Ok(MasterKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            id: hex::encode(&digest[..4]),
        })
    }

    /// A new random key as base64 text (what a key file holds).
    pub fn generate_base64() -> Result<SecretString, SealError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| SealError::Random(e.to_string()))?;
        Ok(SecretString::from(STANDARD.encode(bytes)))
    }

    /// The key's public id (8 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `clear`, bound to `ad` (the column and row it is stored in).
    pub fn seal(&self, ad: &str, clear: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: clear.as_bytes(),
                    aad: ad.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen {
                what: ad.to_owned(),
            })?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{V1}{}:{}", self.id, STANDARD.encode(bytes)))
    }

    /// Opens a value [`MasterKey::seal`] made for the same `ad`.
    pub fn open(&self, ad: &str, stored: &str) -> Result<String, SealError> {
        let unknown = || SealError::UnknownFormat {
            what: ad.to_owned(),
        };
        let rest = stored.strip_prefix(V1).ok_or_else(unknown)?;
        let (id, body) = rest.split_once(':').ok_or_else(unknown)?;
        if id != self.id {
            return Err(SealError::OtherKey {
                what: ad.to_owned(),
                found: id.to_owned(),
                ours: self.id.clone(),
            });
        }
        let bytes = STANDARD.decode(body).map_err(|_| unknown())?;
        if bytes.len() < NONCE_LEN {
            return Err(unknown());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let clear = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: ad.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen {
                what: ad.to_owned(),
            })?;
        String::from_utf8(clear).map_err(|_| SealError::DoesNotOpen {
            what: ad.to_owned(),
        })
    }
}

/// Whether a stored value is sealed (rather than clear text from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

/// The id of the key a stored value was sealed with (None for clear text).
pub fn sealed_with(stored: &str) -> Option<&str> {
    stored.strip_prefix(V1)?.split_once(':').map(|(id, _)| id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    fn key() -> MasterKey {
        MasterKey::from_base64(MasterKey::generate_base64().unwrap().expose_secret()).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_row_with_its_own_key() {
        let k = key();
        let sealed = k.seal("webhook_endpoints.secret:w1", "whsec_abc").unwrap();
        assert!(
            sealed.starts_with(&format!("sealed:v1:{}:", k.id())),
            "{sealed}"
        );
        assert!(!sealed.contains("whsec_abc"));
        assert!(is_sealed(&sealed));
        assert_eq!(sealed_with(&sealed), Some(k.id()));
        assert_eq!(
            k.open("webhook_endpoints.secret:w1", &sealed).unwrap(),
            "whsec_abc"
        );
        // A fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(
            sealed,
            k.seal("webhook_endpoints.secret:w1", "whsec_abc").unwrap()
        );
        assert!(matches!(
            k.open("webhook_endpoints.secret:w2", &sealed),
            Err(SealError::DoesNotOpen { .. })
        ));
        let other = key();
        let err = other
            .open("webhook_endpoints.secret:w1", &sealed)
            .unwrap_err();
        assert!(matches!(err, SealError::OtherKey { .. }));
        assert!(err.to_string().contains(k.id()) && err.to_string().contains(other.id()));
    }

    #[test]
    fn altered_or_foreign_values_are_refused() {
        let k = key();
        let sealed = k.seal("a:1", "secret").unwrap();
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(k.open("a:1", &altered).is_err());
        assert!(matches!(
            k.open("a:1", "sealed:v9:x:y"),
            Err(SealError::UnknownFormat { .. })
        ));
        assert!(!is_sealed("whsec_abc") && sealed_with("whsec_abc").is_none());
    }

    #[test]
    fn keys_are_32_bytes_of_base64_and_debug_shows_only_the_id() {
        assert_eq!(
            MasterKey::from_base64("c2hvcnQ=").unwrap_err(),
            SealError::BadKey
        );
        assert_eq!(
            MasterKey::from_base64("not base64!").unwrap_err(),
            SealError::BadKey
        );
        let text = MasterKey::generate_base64().unwrap();
        let a = MasterKey::from_base64(&format!("{}\n", text.expose_secret())).unwrap();
        let b = MasterKey::from_base64(text.expose_secret()).unwrap();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().len(), 8);
        let debug = format!("{a:?}");
        assert!(debug.contains(a.id()) && !debug.contains(text.expose_secret()));
    }
}
