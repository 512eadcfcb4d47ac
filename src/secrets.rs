//! Bearer tokens: generated at random, stored as SHA-256, compared in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of SCIM bearer tokens, so a leaked one is recognisable by secret scanners.
pub const SCIM_TOKEN_PREFIX: &str = "rcs_";

/// Prefix of admin API bearer tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "rca_";

/// A new random token with the given prefix (256 bits of entropy).
pub fn new_token(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two hashes without leaking where they differ.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashes_stable() {
        let a = new_token(SCIM_TOKEN_PREFIX).unwrap();
        let b = new_token(SCIM_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("rcs_") && a.len() > 40);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert!(hashes_equal(&token_hash(&a), &token_hash(&a)));
        assert!(!hashes_equal(&token_hash(&a), &token_hash(&b)));
    }
}
