-- period_sources: the values of every top-list figure per bucket, read from the daily
-- rollup tables (not the base tables): what period_values sums per ISO week and month.
-- Key: (day, sensor, figure, value, value_id), not unique: several daily_files rows hold
-- one shasum and several (username, password) pairs can join to one combination; readers
-- GROUP BY.
-- figure: username, password, combination (username || ':' || password), src_ip,
-- command, shasum, url (downloads), vt_label; each as the report's top list counts it,
-- '' left out where the report leaves it out. A command is its id in strings (value_id,
-- value ''); every other figure is its text (value, value_id 0).
SELECT day, sensor, 'username' AS figure, username AS value, 0 AS value_id, attempts AS total
FROM daily_usernames
UNION ALL
SELECT day, sensor, 'password', password, 0, attempts
FROM daily_passwords
UNION ALL
SELECT day, sensor, 'combination', username || ':' || password, 0, attempts
FROM daily_credentials
UNION ALL
SELECT day, sensor, 'src_ip', src_ip, 0, sessions
FROM daily_src_ips WHERE src_ip <> ''
UNION ALL
SELECT day, sensor, 'command', '', command_id, occurrences
FROM daily_commands
UNION ALL
SELECT day, sensor, 'shasum', shasum, 0, transfers
FROM daily_files WHERE shasum <> ''
UNION ALL
SELECT day, sensor, 'url', url, 0, transfers
FROM daily_files WHERE direction = 'download' AND url <> ''
UNION ALL
SELECT day, sensor, 'vt_label', vt_label, 0, transfers
FROM daily_files WHERE vt_label <> ''
