//! Sessions: signed access tokens (JWT, keys published as JWKS), rotating refresh tokens, introspection and revocation.
