-- A secret of this chat's own, shared by every node through the database: it signs guests'
-- tokens, so a guest that was never stored is recognised when it comes back.
CREATE TABLE server_key (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);

INSERT INTO server_key (id, key) VALUES (1, randomblob(32));
