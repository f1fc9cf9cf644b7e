"""What a sensor may be called: the one rule, for every place a sensor name enters.

A report's ``sensor`` field is the sensor's name, or ``aggregate`` for the report of all
sensors together; Elasticsearch documents are keyed ``<sensor>:<type>:<period>``. A sensor
called ``aggregate`` would therefore be indistinguishable from (and, once published,
overwrite) the aggregate report, so the name is reserved: events naming it are set aside as
dead letters, ``--sensor aggregate`` is refused, and reports never build a per-sensor
document for it.
"""

from __future__ import annotations

from cowrieprocessor.db import limits

#: The ``sensor`` of the report of all sensors together.
AGGREGATE = "aggregate"

#: Reason code -> what is wrong, for a message.
PROBLEMS = {
    "bad_sensor": f"a sensor name has 1 to {limits.SENSOR} characters",
    "reserved_sensor": f"the sensor name {AGGREGATE!r} is reserved for the report of all sensors",
}


def sensor_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a sensor's name, as a short stable code (a dead letter's
    reason, a key of :data:`PROBLEMS`), or None if it can."""
    if not 0 < len(name) <= limits.SENSOR:
        return "bad_sensor"
    if name == AGGREGATE:
        return "reserved_sensor"
    return None
