-- How far each user has read each room, so that unread state follows them to every device. A
-- position only moves forward. Guests are included: their id is stable across their tabs.
CREATE TABLE read_positions (
    user_id TEXT NOT NULL,
    room    TEXT NOT NULL REFERENCES rooms (name),
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room)
);
