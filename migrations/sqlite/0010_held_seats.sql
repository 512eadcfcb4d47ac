-- Seats held per team, kept by triggers so that every path that changes memberships keeps
-- it right. Counting held memberships on every seat decision was O(members) per change
-- (issue 3 sync benchmark). A membership holds a seat in every state but awaiting_seat.
ALTER TABLE teams ADD COLUMN held_seats INTEGER NOT NULL DEFAULT 0;

UPDATE teams SET held_seats = (
    SELECT COUNT(*) FROM memberships m
    WHERE m.team_id = teams.id AND m.state <> 'awaiting_seat'
);

CREATE TRIGGER memberships_held_insert AFTER INSERT ON memberships
WHEN NEW.state <> 'awaiting_seat'
BEGIN
    UPDATE teams SET held_seats = held_seats + 1 WHERE id = NEW.team_id;
END;

CREATE TRIGGER memberships_held_delete AFTER DELETE ON memberships
WHEN OLD.state <> 'awaiting_seat'
BEGIN
    UPDATE teams SET held_seats = held_seats - 1 WHERE id = OLD.team_id;
END;

CREATE TRIGGER memberships_held_update AFTER UPDATE OF state, team_id ON memberships
WHEN (OLD.state <> 'awaiting_seat') <> (NEW.state <> 'awaiting_seat')
    OR OLD.team_id <> NEW.team_id
BEGIN
    UPDATE teams SET held_seats = held_seats - 1
    WHERE id = OLD.team_id AND OLD.state <> 'awaiting_seat';
    UPDATE teams SET held_seats = held_seats + 1
    WHERE id = NEW.team_id AND NEW.state <> 'awaiting_seat';
END;
