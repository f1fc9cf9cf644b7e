"""Lengths of the bounded text columns.

The models declare them and the parser keeps values within them, so a value that does not
fit is set aside the same way on both dialects (PostgreSQL would refuse it, SQLite would
store it whole).
"""

SENSOR = 255
SESSION_ID = 64
EVENT_TYPE = 128
SRC_IP = 64
PROTOCOL = 16
HASSH = 64
SHASUM = 128
