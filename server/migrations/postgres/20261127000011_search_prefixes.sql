-- Search by exact lexemes: every prefix, of 1 to 16 characters, of every word `search_words`
-- makes of a message, as a lexeme of its own. A search's words, each a prefix, are then looked
-- up exactly: GIN intersects exact lexemes' posting lists by skipping through them, where a
-- prefix query (`word:*`) first reads in full every posting list it covers (a common syllable
-- covers hundreds of thousands of messages; README, "Search"). A longer word is looked up by
-- its first 16 characters, then checked against `search`.
CREATE FUNCTION word_prefixes(text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN array_to_tsvector(ARRAY(
        SELECT DISTINCT left(lexeme, n)
        FROM unnest(tsvector_to_array(search_words($1))) AS lexeme,
             generate_series(1, least(length(lexeme), 16)) AS n));

ALTER TABLE messages ADD COLUMN search_prefixes tsvector
    GENERATED ALWAYS AS (word_prefixes(text)) STORED;
CREATE INDEX messages_search_prefixes ON messages USING gin (search_prefixes);
-- Some 17,000 distinct prefixes over a million messages: with the default statistics (100) a
-- rare word is estimated at ten times its count, and the planner walks every message instead.
ALTER TABLE messages ALTER COLUMN search_prefixes SET STATISTICS 1000;
-- Searches no longer read `search` through an index.
DROP INDEX messages_search;
