-- daily_src_ips: sessions per source IP, per bucket.
-- Bucket: (day, sensor); day is the UTC day of the session's first event.
-- Key: (day, sensor, src_ip); '' when the session had none.
-- A session is counted once per bucket, so sums over days are exact session counts and
-- distinct src_ip values over a window come from the keys.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COALESCE(s.src_ip, '') AS src_ip,
    COUNT(*) AS sessions
FROM session_summaries AS s
GROUP BY s.first_day, s.sensor, COALESCE(s.src_ip, '')
