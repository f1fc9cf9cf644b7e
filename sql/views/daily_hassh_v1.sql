-- daily_hassh: sessions per HASSH fingerprint, per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor, hassh); '' when the session had none.
-- A session is counted once per bucket, so sums over days are exact session counts and
-- distinct hassh values over a window come from the keys.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COALESCE(s.hassh, '') AS hassh,
    COUNT(*) AS sessions
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor, COALESCE(s.hassh, '')
