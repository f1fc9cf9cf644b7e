-- period_values (PostgreSQL): every top-list figure summed per ISO week and calendar month.
-- Key: (kind, period_start, figure, sensor, value, value_id), indexed with md5(value);
-- kind 'weekly' (period_start: the Monday) or 'monthly' (the 1st). value_id: a command's
-- id in strings (value ''), 0 for the other figures. total: the figure's count over the
-- period's days. Kept incrementally: refreshing a bucket subtracts its old period_sources
-- rows and adds its new ones (cowrieprocessor/rollups/refresh.py); rows reaching 0 are
-- deleted.
SELECT
    CAST('weekly' AS VARCHAR(7)) AS kind,
    CAST(date_trunc('week', day) AS DATE) AS period_start,
    figure,
    sensor,
    value,
    value_id,
    CAST(SUM(total) AS BIGINT) AS total
FROM period_sources
GROUP BY CAST(date_trunc('week', day) AS DATE), figure, sensor, value, value_id
UNION ALL
SELECT
    CAST('monthly' AS VARCHAR(7)),
    CAST(date_trunc('month', day) AS DATE),
    figure,
    sensor,
    value,
    value_id,
    CAST(SUM(total) AS BIGINT)
FROM period_sources
GROUP BY CAST(date_trunc('month', day) AS DATE), figure, sensor, value, value_id
