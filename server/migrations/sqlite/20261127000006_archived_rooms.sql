-- An archived room keeps its history and members but takes no new messages (an admin's choice).
ALTER TABLE rooms ADD COLUMN archived_at INTEGER;
