-- daily_usernames (SQLite): login attempts per username, per bucket (daily_credentials
-- summed over the other half of the pair: a few rows a bucket where daily_credentials has
-- one per pair, so top usernames and their distinct count read far fewer rows).
-- Bucket: (day, sensor) of the session (UTC day of its first event).
-- Key: (day, sensor, username);
-- A login event whose username or password is a JSON value other than a string (a
-- number, true/false, an object or array) is left out; a missing or null one counts as ''
-- (version 3: version 2 counted such a value as '', merged with real empty ones).
-- attempts: cowrie.login.success and cowrie.login.failed events; successes: the former.
-- Version 4: as version 3, for the payload stored as json (not jsonb) since migration 0016.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COALESCE(json_extract(r.payload, '$.username'), '') AS username,
    COUNT(*) AS attempts,
    COUNT(*) FILTER (WHERE r.event_type = 'cowrie.login.success') AS successes
-- The CROSS JOIN puts the bucket's sessions in the outer loop on SQLite (its planner
-- keeps the written order), so a bucket costs its own size whatever the history.
FROM session_summaries AS s
CROSS JOIN raw_events AS r
WHERE r.sensor = s.sensor AND r.session_id = s.session_id
    AND r.event_type IN ('cowrie.login.success', 'cowrie.login.failed')
    AND COALESCE(json_type(r.payload, '$.username'), 'null') IN ('text', 'null')
    AND COALESCE(json_type(r.payload, '$.password'), 'null') IN ('text', 'null')
GROUP BY 1, 2, 3
