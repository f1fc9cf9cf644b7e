-- daily_recent_vt_sessions (SQLite): sessions with a file recently first submitted to
-- VirusTotal. Key: (day, sensor, session_id); files: distinct such shasums of the session.
-- Recent: VirusTotal's first_submission_date (file_enrichment.first_submitted_at, provider
-- 'virustotal', status 'ok') is on or after 00:00 UTC of the day 5 days before the session's
-- day (the UTC day of its first event), or later. The reference time is the session's day,
-- not the time a report is built, so a report never changes just because time passed.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    s.session_id AS session_id,
    COUNT(DISTINCT f.shasum) AS files
-- INDEXED BY: without it SQLite may pick the primary key (sensor, session_id), which saves
-- sorting for the GROUP BY but reads every session of the sensor, not the bucket's.
FROM session_summaries AS s INDEXED BY ix_session_summaries_first_day_sensor
CROSS JOIN files AS f
JOIN file_enrichment AS v ON v.shasum = f.shasum
WHERE f.sensor = s.sensor AND f.session_id = s.session_id
    AND v.provider = 'virustotal' AND v.status = 'ok'
    AND v.first_submitted_at >= date(s.first_day, '-5 days')
GROUP BY s.first_day, s.sensor, s.session_id
