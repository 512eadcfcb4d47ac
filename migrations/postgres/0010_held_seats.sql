-- Seats held per team, kept by triggers so that every path that changes memberships keeps
-- it right. Counting held memberships on every seat decision was O(members) per change
-- (issue 3 sync benchmark). A membership holds a seat in every state but awaiting_seat.
-- Statement-level triggers with transition tables: a multi-row insert updates each
-- team's row once.
ALTER TABLE teams ADD COLUMN held_seats BIGINT NOT NULL DEFAULT 0;

UPDATE teams SET held_seats = (
    SELECT COUNT(*) FROM memberships m
    WHERE m.team_id = teams.id AND m.state <> 'awaiting_seat'
);

CREATE FUNCTION memberships_held_adjust() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE teams t SET held_seats = t.held_seats + d.n
        FROM (SELECT team_id, COUNT(*) AS n FROM new_rows
              WHERE state <> 'awaiting_seat' GROUP BY team_id) d
        WHERE t.id = d.team_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE teams t SET held_seats = t.held_seats - d.n
        FROM (SELECT team_id, COUNT(*) AS n FROM old_rows
              WHERE state <> 'awaiting_seat' GROUP BY team_id) d
        WHERE t.id = d.team_id;
    ELSE
        UPDATE teams t SET held_seats = t.held_seats + d.n
        FROM (SELECT team_id, SUM(n) AS n FROM (
                  SELECT team_id, 1 AS n FROM new_rows WHERE state <> 'awaiting_seat'
                  UNION ALL
                  SELECT team_id, -1 AS n FROM old_rows WHERE state <> 'awaiting_seat'
              ) x GROUP BY team_id HAVING SUM(n) <> 0) d
        WHERE t.id = d.team_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER memberships_held_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_held_adjust();
CREATE TRIGGER memberships_held_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_held_adjust();
CREATE TRIGGER memberships_held_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_held_adjust();
