-- daily_sessions: session figures per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor).
-- Window figures: SUM the counters, MIN/MAX the extremes; averages are sums / sessions.
-- duration_us_sum is the exact sum of session durations in microseconds.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COUNT(*) AS sessions,
    COUNT(*) FILTER (WHERE s.login_successes > 0) AS sessions_with_login,
    COUNT(*) FILTER (WHERE s.command_count > 0) AS sessions_with_commands,
    COUNT(*) FILTER (WHERE s.file_downloads > 0) AS sessions_with_downloads,
    CAST(SUM(s.command_count) AS BIGINT) AS commands_sum,
    MIN(s.command_count) AS commands_min,
    MAX(s.command_count) AS commands_max,
    CAST(SUM(ROUND(s.duration_seconds * 1000000)) AS BIGINT) AS duration_us_sum,
    CAST(SUM(s.login_attempts) AS BIGINT) AS login_attempts,
    CAST(SUM(s.login_successes) AS BIGINT) AS login_successes,
    CAST(SUM(s.file_downloads) AS BIGINT) AS downloads,
    CAST(SUM(s.file_uploads) AS BIGINT) AS uploads,
    COUNT(*) FILTER (WHERE s.vt_flagged) AS vt_flagged_sessions,
    COUNT(*) FILTER (WHERE s.dshield_flagged) AS dshield_flagged_sessions
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor
