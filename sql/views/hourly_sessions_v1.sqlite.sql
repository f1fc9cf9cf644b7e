-- hourly_sessions: session figures per UTC hour of the day, per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor, hour); hour is the UTC hour (0-23) of the session's first event, so a
-- session counts in exactly one hour and the hours of a bucket sum to its daily_sessions row.
-- Values, as daily_sessions counts them: sessions, login events, command.input events and
-- file downloads of the sessions that started in that hour.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    CAST(strftime('%H', s.first_event_at) AS INTEGER) AS hour,
    COUNT(*) AS sessions,
    CAST(SUM(s.login_attempts) AS BIGINT) AS login_attempts,
    CAST(SUM(s.login_successes) AS BIGINT) AS login_successes,
    CAST(SUM(s.command_count) AS BIGINT) AS commands,
    CAST(SUM(s.file_downloads) AS BIGINT) AS downloads
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor, CAST(strftime('%H', s.first_event_at) AS INTEGER)
