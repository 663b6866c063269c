-- Accounts, and sessions apart from users: a user (who writes messages) can now be logged in
-- from several browsers and devices at once, each with a token of its own, each revocable.

-- Sessions: every token that signs someone in. The users' one token each moves here.
CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    -- The client address it was last used from, if known.
    last_address TEXT,
    -- When it stops working unless used again; NULL: never.
    expires_at   INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);
INSERT INTO sessions (token_hash, user_id, created_at, last_used_at)
    SELECT token_hash, id, created_at, created_at FROM users;

-- users without token_hash. SQLite cannot drop a UNIQUE column, so the table is made again; the
-- rows that refer to users are set aside meanwhile, so no foreign key is broken at any point.
CREATE TABLE users_new (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
INSERT INTO users_new (id, name, created_at) SELECT id, name, created_at FROM users;
CREATE TEMP TABLE kept_memberships AS SELECT user_id, room FROM memberships;
CREATE TEMP TABLE kept_sessions AS SELECT * FROM sessions;
DELETE FROM memberships;
DELETE FROM sessions;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
INSERT INTO memberships (user_id, room) SELECT user_id, room FROM kept_memberships;
INSERT INTO sessions SELECT * FROM kept_sessions;
DROP TABLE kept_memberships;
DROP TABLE kept_sessions;

-- Accounts: users who log in with a username and password. username_key folds case and
-- look-alike characters (shared::username_key) and is what must be unique.
CREATE TABLE accounts (
    user_id       TEXT PRIMARY KEY REFERENCES users (id),
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    created_at    INTEGER NOT NULL
);

-- Settings an admin changes while the chat runs (the registration mode, the invitation code).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
