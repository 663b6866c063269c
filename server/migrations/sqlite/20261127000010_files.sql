-- Files attached to messages, stored in the database itself: one node or several see the same
-- files, and `chat backup` (VACUUM INTO) copies them with the messages that carry them.
--
-- What a message reads with it (a join on `messages.attachment`): never the bytes. A file is
-- uploaded first (no message yet), then attached by at most one message of its uploader in the
-- same room; one never attached is removed after a day. Its message's deletion removes it.
CREATE TABLE files (
    id           TEXT PRIMARY KEY,
    room         TEXT NOT NULL REFERENCES rooms (name),
    uploader_id  TEXT NOT NULL,
    -- Cleaned of path separators and control characters (shared::clean_file_name).
    name         TEXT NOT NULL,
    -- What it is served as: an image/* type only for an image the server decoded, else
    -- application/octet-stream.
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    -- An image's size in pixels; NULL for other files.
    width        INTEGER,
    height       INTEGER,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_created_at ON files (created_at);

-- The bytes, apart from the row a message's read joins, so that reading messages never walks a
-- file's pages. The thumbnail (small) comes before the data in the row: reading it stops there.
CREATE TABLE file_contents (
    id        TEXT PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
    thumbnail BLOB,
    data      BLOB NOT NULL
);

ALTER TABLE messages ADD COLUMN attachment TEXT;
CREATE INDEX messages_attachment ON messages (attachment) WHERE attachment IS NOT NULL;
