//! The process's TLS crypto provider. reqwest (webhooks, OIDC) and lettre (SMTP) share
//! rustls built without a default provider; building any client panics until one is
//! installed, so every entry point calls [`ensure_crypto_provider`] first.

/// Installs ring's provider unless one is installed already. Idempotent.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one meanwhile: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
