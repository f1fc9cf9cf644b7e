-- daily_client_versions: sessions per SSH client version, per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor, client_version), on PostgreSQL indexed as md5(client_version); '' when the session had none.
-- A session is counted once per bucket, so sums over days are exact session counts and
-- distinct client_version values over a window come from the keys.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COALESCE(s.client_version, '') AS client_version,
    COUNT(*) AS sessions
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor, COALESCE(s.client_version, '')
