//! OIDC sign-in per organization (openidconnect): discovery, authorization code with PKCE, state and nonce, ID token checks.
