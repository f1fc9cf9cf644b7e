-- daily_command_counts: sessions per number of commands, per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor, command_count); command_count is the session's cowrie.command.input
-- events (0 for sessions without commands). Summed over a window, it says how common each
-- command count is: the report's abnormalities.uncommon_command_sessions.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    s.command_count AS command_count,
    COUNT(*) AS sessions
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor, s.command_count
