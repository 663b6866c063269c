-- Users are sessions: a display name and the hash of their secret token.
CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- last_seq is the room's message counter; it is bumped in the transaction that stores a message,
-- which is what makes sequence numbers gap-free.
CREATE TABLE rooms (
    name       TEXT PRIMARY KEY,
    last_seq   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id),
    room    TEXT NOT NULL REFERENCES rooms (name),
    PRIMARY KEY (user_id, room)
) WITHOUT ROWID;

CREATE TABLE messages (
    room        TEXT NOT NULL REFERENCES rooms (name),
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    author_id   TEXT NOT NULL,
    author_name TEXT NOT NULL,
    text        TEXT NOT NULL,
    client_id   TEXT,
    sent_at     INTEGER NOT NULL,
    PRIMARY KEY (room, seq)
);

-- The idempotency key: one message per (author, client id).
CREATE UNIQUE INDEX messages_client_id ON messages (author_id, client_id)
    WHERE client_id IS NOT NULL;

INSERT INTO rooms (name, last_seq, created_at) VALUES ('general', 0, 0);
