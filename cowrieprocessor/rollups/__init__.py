"""Rollups: small per-(day, sensor) tables the reports read instead of raw events.

``definitions`` lists them; ``ddl`` installs their SQL (used by the migrations);
``dirty`` marks the buckets a load touches; ``refresh`` recomputes dirty buckets, rebuilds
everything or checks every rollup against its live view.
"""
