-- Reactions and replies: the schema of server/migrations/sqlite's, in PostgreSQL's types.

-- Replies: the seq of the message of the same room that a message answers. The quote is read
-- with the reply (a join), never copied into it, so an edit or a deletion of the original shows
-- in the replies read afterwards.
ALTER TABLE messages ADD COLUMN reply_to BIGINT;

-- Reactions as they are now: one row per person and emoji on a message, with the seq of the
-- change that added it (which orders them). A row goes with its reaction, and every row of a
-- message with the message's deletion.
CREATE TABLE reactions (
    room      TEXT NOT NULL,
    target    BIGINT NOT NULL,
    emoji     TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    -- The name they reacted under, as a message keeps its author's.
    user_name TEXT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (room, target, emoji, user_id),
    FOREIGN KEY (room, target) REFERENCES messages (room, seq)
);

-- Reactions added and taken away, each under the room's seq it took: what sync returns beside
-- the edits and deletions of `changes`. A table of its own, so that a node of the version before
-- it, which reads `changes` as edits and deletions only, never takes a reaction for a deletion.
CREATE TABLE reaction_changes (
    room       TEXT NOT NULL REFERENCES rooms (name),
    seq        BIGINT NOT NULL,
    target     BIGINT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('react', 'unreact')),
    emoji      TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_name TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (room, seq),
    FOREIGN KEY (room, target) REFERENCES messages (room, seq)
);
