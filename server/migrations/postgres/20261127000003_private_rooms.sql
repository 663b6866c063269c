-- A private room is not in the directory, and only its members (who invite others) can join it
-- or read it.
ALTER TABLE rooms ADD COLUMN is_private BOOLEAN NOT NULL DEFAULT false;
