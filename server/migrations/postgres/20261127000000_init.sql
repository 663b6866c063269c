-- The same schema as SQLite's (server/migrations/sqlite), in PostgreSQL's types.

-- Users are sessions: a display name and the hash of their secret token.
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- last_seq is the room's message counter; it is bumped in the transaction that stores a message,
-- which is what makes sequence numbers gap-free. A storing transaction locks its rooms' rows (in
-- name order), so appends to one room from several nodes take turns.
CREATE TABLE rooms (
    name       TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id),
    room    TEXT NOT NULL REFERENCES rooms (name),
    PRIMARY KEY (user_id, room)
);

CREATE TABLE messages (
    room        TEXT NOT NULL REFERENCES rooms (name),
    seq         BIGINT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    text        TEXT NOT NULL,
    client_id   TEXT,
    sent_at     BIGINT NOT NULL,
    PRIMARY KEY (room, seq)
);

-- The idempotency key: one message per (author, client id).
CREATE UNIQUE INDEX messages_client_id ON messages (author_id, client_id)
    WHERE client_id IS NOT NULL;

INSERT INTO rooms (name, last_seq, created_at) VALUES ('general', 0, 0);

-- A secret of this chat's own, shared by every node: it signs guests' tokens, so a guest that
-- was never stored is recognised on any node. The first node to start writes it (random bytes
-- from the operating system, see PgStore::open).
CREATE TABLE server_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BYTEA NOT NULL
);
