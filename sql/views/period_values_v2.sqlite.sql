-- period_values (SQLite): every top-list figure summed per ISO week and calendar month.
-- Key: (kind, period_start, figure, sensor, value, value_id); kind 'weekly' (period_start:
-- the Monday) or 'monthly' (the 1st). value_id: a command's id in strings (value ''), 0 for
-- the other figures. total: the figure's count over the period's days.
-- Kept incrementally: refreshing a bucket subtracts its old period_sources rows and adds
-- its new ones (cowrieprocessor/rollups/refresh.py); rows reaching 0 are deleted.
SELECT
    'weekly' AS kind,
    date(day, '-6 days', 'weekday 1') AS period_start,
    figure,
    sensor,
    value,
    value_id,
    SUM(total) AS total
FROM period_sources
GROUP BY date(day, '-6 days', 'weekday 1'), figure, sensor, value, value_id
UNION ALL
SELECT
    'monthly',
    date(day, 'start of month'),
    figure,
    sensor,
    value,
    value_id,
    SUM(total)
FROM period_sources
GROUP BY date(day, 'start of month'), figure, sensor, value, value_id
