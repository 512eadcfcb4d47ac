//! Email sign-in: one-time codes sent through the outbox, for members of teams that do not enforce SSO.
