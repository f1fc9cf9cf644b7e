-- daily_enrichment_values: per bucket, the enrichment values of the sessions and downloads.
-- Key: (day, sensor, figure, value). figure:
--   country    ISO 3166-1 alpha-2 code of the session's src_ip (offline provider), sessions
--   asn        its autonomous system, 'AS<number> <name>' or the name alone where the data
--              has no number (offline provider: one source names every AS), sessions
--   spur_infrastructure        SPUR infrastructure class of the IP, sessions
--   greynoise_classification   GreyNoise classification of the IP, sessions
--   urlhaus_tag  URLhaus tag of a download URL, download events (files.occurrences)
-- Only enrichment rows with status 'ok' and a value count; sessions without one are left out.
SELECT s.first_day AS day, s.sensor AS sensor, 'country' AS figure, e.country AS value,
    COUNT(*) AS total
FROM session_summaries AS s
JOIN ip_enrichment AS e ON e.src_ip = s.src_ip
WHERE e.provider = 'offline' AND e.status = 'ok' AND e.country IS NOT NULL
GROUP BY s.first_day, s.sensor, e.country
UNION ALL
SELECT s.first_day, s.sensor, 'asn', e.as_label, COUNT(*)
FROM session_summaries AS s
JOIN ip_enrichment AS e ON e.src_ip = s.src_ip
WHERE e.provider = 'offline' AND e.status = 'ok' AND e.as_label IS NOT NULL
GROUP BY s.first_day, s.sensor, e.as_label
UNION ALL
SELECT s.first_day, s.sensor, 'spur_infrastructure', e.classification, COUNT(*)
FROM session_summaries AS s
JOIN ip_enrichment AS e ON e.src_ip = s.src_ip
WHERE e.provider = 'spur' AND e.status = 'ok' AND e.classification IS NOT NULL
GROUP BY s.first_day, s.sensor, e.classification
UNION ALL
SELECT s.first_day, s.sensor, 'greynoise_classification', e.classification, COUNT(*)
FROM session_summaries AS s
JOIN ip_enrichment AS e ON e.src_ip = s.src_ip
WHERE e.provider = 'greynoise' AND e.status = 'ok' AND e.classification IS NOT NULL
GROUP BY s.first_day, s.sensor, e.classification
UNION ALL
SELECT s.first_day, s.sensor, 'urlhaus_tag', t.tag, CAST(SUM(f.occurrences) AS BIGINT)
FROM session_summaries AS s
CROSS JOIN files AS f
JOIN url_enrichment_tags AS t ON t.url = f.url
WHERE f.sensor = s.sensor AND f.session_id = s.session_id
    AND f.direction = 'download' AND t.provider = 'urlhaus'
GROUP BY s.first_day, s.sensor, t.tag
