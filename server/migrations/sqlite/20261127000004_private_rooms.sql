-- A private room is not in the directory, and only its members (who invite others) can join it
-- or read it.
ALTER TABLE rooms ADD COLUMN is_private INTEGER NOT NULL DEFAULT 0;
