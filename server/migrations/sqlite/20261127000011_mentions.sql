-- Mentions: the people a message names with `@`, resolved to their ids by the sender's client
-- and validated against the text, as a JSON array of `{ "id", "name" }`; NULL for none (most
-- messages) and once the message is deleted. Read with the message, never joined: the ids are
-- what lets a mention outlive a rename.
ALTER TABLE messages ADD COLUMN mentions TEXT;
