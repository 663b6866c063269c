-- Edits and deletions (as server/migrations/sqlite's changes migration). A change takes the
-- room's next seq (the counter messages use, bumped in the same transaction), so catch-up
-- carries changes like messages; the changed message is updated in place too, so history pages
-- and sync return it as it is now.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
-- Who deleted it, if deleted; its text is then erased (an empty string: a tombstone).
ALTER TABLE messages ADD COLUMN deleted_by TEXT CHECK (deleted_by IN ('author', 'admin'));

CREATE TABLE changes (
    room       TEXT NOT NULL REFERENCES rooms (name),
    seq        BIGINT NOT NULL,
    -- The seq of the message changed.
    target     BIGINT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('edit', 'delete')),
    actor_id   TEXT NOT NULL,
    at         BIGINT NOT NULL,
    -- An edit's new text; erased (NULL) once the message is deleted.
    text       TEXT,
    -- A deletion's 'author' or 'admin'.
    deleted_by TEXT CHECK (deleted_by IN ('author', 'admin')),
    PRIMARY KEY (room, seq),
    FOREIGN KEY (room, target) REFERENCES messages (room, seq)
);
CREATE INDEX changes_target ON changes (room, target);
