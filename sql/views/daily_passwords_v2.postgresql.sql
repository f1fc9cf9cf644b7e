-- daily_passwords (PostgreSQL): login attempts per password, per bucket (daily_credentials
-- summed over the other half of the pair: a few rows a bucket where daily_credentials has
-- one per pair, so top passwords and their distinct count read far fewer rows).
-- Bucket: (day, sensor) of the session (UTC day of its first event).
-- Key: (day, sensor, password), indexed as md5(password);
-- '' when the event had none or one that is not a JSON string (version 2: version 1
-- turned such a value into text that differed between the dialects, `true` against `1`).
-- attempts: cowrie.login.success and cowrie.login.failed events; successes: the former.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    CASE WHEN jsonb_typeof(r.payload -> 'password') = 'string'
        THEN r.payload ->> 'password' ELSE '' END AS password,
    COUNT(*) AS attempts,
    COUNT(*) FILTER (WHERE r.event_type = 'cowrie.login.success') AS successes
-- The CROSS JOIN puts the bucket's sessions in the outer loop on SQLite (its planner
-- keeps the written order), so a bucket costs its own size whatever the history.
FROM session_summaries AS s
CROSS JOIN raw_events AS r
WHERE r.sensor = s.sensor AND r.session_id = s.session_id
    AND r.event_type IN ('cowrie.login.success', 'cowrie.login.failed')
GROUP BY 1, 2, 3
