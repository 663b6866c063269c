-- Files attached to messages: the schema of server/migrations/sqlite's, in PostgreSQL's types.
-- Stored in the database that every node shares, so any node serves any file, and a pg_dump
-- holds them with the messages that carry them.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    room         TEXT NOT NULL REFERENCES rooms (name),
    uploader_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    width        BIGINT,
    height       BIGINT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX files_created_at ON files (created_at);

-- The bytes apart (TOASTed out of line anyway): a message's read joins `files` only.
CREATE TABLE file_contents (
    id        TEXT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    thumbnail BYTEA,
    data      BYTEA NOT NULL
);

ALTER TABLE messages ADD COLUMN attachment TEXT;
CREATE INDEX messages_attachment ON messages (attachment) WHERE attachment IS NOT NULL;
