-- daily_files (v3): file downloads and uploads per bucket, with the VirusTotal label.
-- Bucket: (day, sensor) of the session (UTC day of its first event).
-- Key: (day, sensor, direction, url, shasum, vt_label); on PostgreSQL url and vt_label are
-- indexed as md5(...).
-- url is the download URL or the uploaded file name; '' when the event had none (same for
-- shasum). vt_label: the most common detection name of Cowrie's own virustotal.scanfile
-- verdict; without one, the suggested threat label of the VirusTotal enrichment of the
-- shasum (file_enrichment, provider 'virustotal', status 'ok'); else ''.
-- transfers: file events; sessions: sessions with such a transfer.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    f.direction AS direction,
    COALESCE(f.url, '') AS url,
    COALESCE(f.shasum, '') AS shasum,
    COALESCE(NULLIF(f.vt_label, ''), v.label, '') AS vt_label,
    CAST(SUM(f.occurrences) AS BIGINT) AS transfers,
    COUNT(DISTINCT f.session_id) AS sessions
-- The CROSS JOIN puts the bucket's sessions in the outer loop on SQLite (its planner
-- keeps the written order), so a bucket costs its own size whatever the history.
FROM session_summaries AS s
CROSS JOIN files AS f
LEFT JOIN file_enrichment AS v
    ON v.shasum = f.shasum AND v.provider = 'virustotal' AND v.status = 'ok'
WHERE f.sensor = s.sensor AND f.session_id = s.session_id
GROUP BY
    s.first_day, s.sensor, f.direction,
    COALESCE(f.url, ''), COALESCE(f.shasum, ''), COALESCE(NULLIF(f.vt_label, ''), v.label, '')
