-- Full-text search over messages: an FTS5 index of their text (external content: the text is
-- stored once, in `messages`; the index refers to rows by rowid, which is also the order
-- messages were stored in, newest last). Words are runs of Unicode letters and digits, folded
-- to lower case, accents kept (remove_diacritics 0: PostgreSQL's 'simple' configuration, the
-- other store, keeps them too). Prefix indexes of 1 to 3 characters keep short prefixes fast:
-- without them a one-letter word merges the lists of every word it begins.
CREATE VIRTUAL TABLE messages_search USING fts5 (
    text,
    content = 'messages',
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1 2 3'
);

-- Kept in step with `messages` by triggers: a message is indexed when stored, indexed again
-- when its text is edited, and a deletion (which erases the text) leaves nothing to find.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO messages_search (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, text) VALUES ('delete', old.rowid, old.text);
END;

-- The messages stored before this migration.
INSERT INTO messages_search (messages_search) VALUES ('rebuild');
