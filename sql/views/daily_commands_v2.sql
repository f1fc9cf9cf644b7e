-- daily_commands: commands (cowrie.command.input) per bucket.
-- Bucket: (day, sensor) of the session that ran the command (UTC day of its first event).
-- Key: (day, sensor, command_id); the command's text is strings.text (stored once).
-- occurrences: times the command was entered; sessions: sessions that entered it.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    c.command_id AS command_id,
    CAST(SUM(c.occurrences) AS BIGINT) AS occurrences,
    COUNT(DISTINCT c.session_id) AS sessions
-- The CROSS JOIN puts the bucket's sessions in the outer loop on SQLite (its planner
-- keeps the written order), so a bucket costs its own size whatever the history.
FROM session_summaries AS s
CROSS JOIN command_stats AS c
WHERE c.sensor = s.sensor AND c.session_id = s.session_id
GROUP BY s.first_day, s.sensor, c.command_id
