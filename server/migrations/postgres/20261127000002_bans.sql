-- A banned user cannot connect or log in until an admin lifts the ban; their sessions are kept
-- (lifting the ban lets them back in where they were).
ALTER TABLE users ADD COLUMN banned_at BIGINT;
