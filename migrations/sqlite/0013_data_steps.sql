-- Data steps (issue 16, point 4): Rust code that rewrites stored rows once, after the SQL
-- migrations, where SQL alone cannot compute the new values (here: the case-insensitive
-- keys, now Unicode full case folding of the NFC form instead of simple lower-casing).
-- A row here means the step has run; several processes starting at once run it once.

CREATE TABLE data_steps (
    name    TEXT PRIMARY KEY,
    ran_at  TEXT NOT NULL
);
