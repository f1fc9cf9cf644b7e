-- daily_files: file downloads and uploads per bucket.
-- Bucket: (day, sensor) of the session (UTC day of its first event).
-- Key: (day, sensor, direction, url, shasum); on PostgreSQL url is indexed as md5(url).
-- url is the download URL or the uploaded file name; '' when the event had none (same for
-- shasum). transfers: file events; sessions: sessions with such a transfer.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    f.direction AS direction,
    COALESCE(f.url, '') AS url,
    COALESCE(f.shasum, '') AS shasum,
    CAST(SUM(f.occurrences) AS BIGINT) AS transfers,
    COUNT(DISTINCT f.session_id) AS sessions
-- The CROSS JOIN puts the bucket's sessions in the outer loop on SQLite (its planner
-- keeps the written order), so a bucket costs its own size whatever the history.
FROM session_summaries AS s
CROSS JOIN files AS f
WHERE f.sensor = s.sensor AND f.session_id = s.session_id
GROUP BY s.first_day, s.sensor, f.direction, COALESCE(f.url, ''), COALESCE(f.shasum, '')
