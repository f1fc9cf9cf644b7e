-- daily_enrichment: per bucket, the sessions that enrichment flags.
-- Bucket: (day, sensor); day is the UTC day of the session's first event. Key: (day, sensor).
-- A session's IP is its summary's src_ip; its files are its rows of `files`.
-- vt_flagged_sessions: a file of the session has a Cowrie virustotal.scanfile verdict with
--   positives > 0 (session_summaries.vt_flagged), or VirusTotal enrichment of its shasum
--   with at least one 'malicious' engine.
-- dshield_flagged_sessions: the IP's DShield enrichment is flagged (reports > 0, see
--   docs/report-schema.md). tunnel_sessions / anonymous_sessions: SPUR names a tunnel for
--   the IP / an anonymous one. benign_scanner_sessions: GreyNoise RIOT (a known benign
--   service) for the IP. Only enrichment rows with status 'ok' count.
SELECT
    s.first_day AS day,
    s.sensor AS sensor,
    COUNT(*) FILTER (
        WHERE s.vt_flagged OR EXISTS (
            SELECT 1
            FROM files AS f
            JOIN file_enrichment AS v ON v.shasum = f.shasum
            WHERE f.sensor = s.sensor AND f.session_id = s.session_id
                AND v.provider = 'virustotal' AND v.status = 'ok' AND v.malicious > 0
        )
    ) AS vt_flagged_sessions,
    COUNT(*) FILTER (WHERE d.flagged) AS dshield_flagged_sessions,
    COUNT(*) FILTER (WHERE sp.tunnel) AS tunnel_sessions,
    COUNT(*) FILTER (WHERE sp.tunnel AND sp.anonymous) AS anonymous_sessions,
    COUNT(*) FILTER (WHERE g.riot) AS benign_scanner_sessions
FROM session_summaries AS s
LEFT JOIN ip_enrichment AS d
    ON d.src_ip = s.src_ip AND d.provider = 'dshield' AND d.status = 'ok'
LEFT JOIN ip_enrichment AS sp
    ON sp.src_ip = s.src_ip AND sp.provider = 'spur' AND sp.status = 'ok'
LEFT JOIN ip_enrichment AS g
    ON g.src_ip = s.src_ip AND g.provider = 'greynoise' AND g.status = 'ok'
GROUP BY s.first_day, s.sensor
