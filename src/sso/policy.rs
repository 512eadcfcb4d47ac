//! SSO policies and settings policies applied to chosen teams, and the effective settings they give.
