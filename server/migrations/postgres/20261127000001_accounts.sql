-- Accounts, and sessions apart from users (as server/migrations/sqlite's accounts migration): a
-- user can be logged in from several browsers and devices at once, each with a token of its own,
-- each revocable.

CREATE TABLE sessions (
    token_hash   BYTEA PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    -- The client address it was last used from, if known.
    last_address TEXT,
    -- When it stops working unless used again; NULL: never.
    expires_at   BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);
INSERT INTO sessions (token_hash, user_id, created_at, last_used_at)
    SELECT token_hash, id, created_at, created_at FROM users;
ALTER TABLE users DROP COLUMN token_hash;

-- Users who log in with a username and password. username_key folds case and look-alike
-- characters (shared::username_key) and is what must be unique.
CREATE TABLE accounts (
    user_id       TEXT PRIMARY KEY REFERENCES users (id),
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    BIGINT NOT NULL
);

-- Settings an admin changes while the chat runs (the registration mode, the invitation code).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
