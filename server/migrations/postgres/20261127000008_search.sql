-- Full-text search over messages, with the same words as SQLite's FTS5 index: runs of letters
-- and digits (the database's character classes: a UTF-8 locale such as C.UTF-8), folded to
-- lower case, accents kept, no stemming. Everything else is turned into spaces before the
-- 'simple' configuration reads the text, so its parser's e-mail, URL and hyphenated-word tokens
-- never form. The query's words go through the same function, so both sides agree.
CREATE FUNCTION search_words(text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN to_tsvector('simple'::regconfig, regexp_replace($1, '[^[:alnum:]]+', ' ', 'g'));

ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (search_words(text)) STORED;
CREATE INDEX messages_search ON messages USING gin (search);

-- The order messages were stored in, across rooms (SQLite's rowid): search answers newest first.
ALTER TABLE messages ADD COLUMN arrival BIGINT GENERATED ALWAYS AS IDENTITY;
CREATE INDEX messages_arrival ON messages (arrival);
