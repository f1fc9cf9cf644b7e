"""The bodies ``es-setup`` installs: the report mappings, the ILM policy, the index templates.

The mapping of each report type is exact and ``dynamic: strict`` (see :func:`report_mappings`),
so drift between the report builders and the templates fails at publish time instead of
silently creating fields.
"""

from __future__ import annotations

from typing import Any

from cowrieprocessor.es.names import (
    DEFAULT_PREFIX,
    IndexMode,
    index_pattern,
    policy_name,
    write_alias,
)
from cowrieprocessor.reporting.periods import LABEL_FIELDS, REPORT_TYPES

__all__ = [
    "KEYWORD_IGNORE_ABOVE",
    "LONG_KEYWORD_IGNORE_ABOVE",
    "ilm_policy",
    "index_template",
    "report_mappings",
]

#: Values longer than this (in characters) are stored but not indexed as keywords.
KEYWORD_IGNORE_ABOVE = 1024
#: Commands and URLs can be huge (100 KB); index a prefix as keyword, all as text.
LONG_KEYWORD_IGNORE_ABOVE = 4096

_LONG = {"type": "long"}
_DOUBLE = {"type": "double"}
_DATE = {"type": "date"}
_KEYWORD = {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
_LONG_KEYWORD = {
    "type": "keyword",
    "ignore_above": LONG_KEYWORD_IGNORE_ABOVE,
    "fields": {"text": {"type": "text"}},
}


def _obj(**props: dict[str, Any]) -> dict[str, Any]:
    return {"properties": props}


def _top(value: dict[str, Any] = _KEYWORD) -> dict[str, Any]:
    """A ``[{"value": ..., "count": ...}]`` list."""
    return _obj(value=dict(value), count=dict(_LONG))


def _counts(*names: str) -> dict[str, dict[str, Any]]:
    return {name: dict(_LONG) for name in names}


def report_mappings(report_type: str) -> dict[str, Any]:
    """The exact mapping of a schema-version-1 report document of ``report_type``.

    The root is ``dynamic: strict``: a field the mapping does not know is rejected, so
    drift between the report builder and the template fails loudly. The only open-ended
    objects are ``sessions.protocols`` and ``alerts_summary`` (``{name: count}``), which are
    ``dynamic: true`` and mapped to ``long`` by dynamic templates. Value/count lists are
    plain objects (not ``nested``).
    """
    if report_type not in REPORT_TYPES:
        raise ValueError(f"unknown report type {report_type!r}")
    sessions = _obj(
        **_counts(
            "total",
            "unique_ips",
            "unique_usernames",
            "unique_passwords",
            "login_attempts",
            "login_successes",
        ),
        avg_commands=dict(_DOUBLE),
        max_commands=dict(_LONG),
        min_commands=dict(_LONG),
        avg_duration=dict(_DOUBLE),
        protocols={"type": "object", "dynamic": True},
        top_usernames=_top(),
        top_passwords=_top(),
        top_combinations=_top(),
        top_source_ips=_top(),
        vt_flagged=dict(_LONG),
        dshield_flagged=dict(_LONG),
    )
    props: dict[str, Any] = {
        "@timestamp": dict(_DATE),
        "generated_at": dict(_DATE),
        "schema_version": dict(_LONG),
        "report_type": dict(_KEYWORD),
        "sensor": dict(_KEYWORD),
        "date_range": _obj(start=dict(_DATE), end=dict(_DATE)),
        "sessions": sessions,
        "commands": _obj(**_counts("total", "unique"), top_commands=_top(_LONG_KEYWORD)),
        "files": _obj(
            **_counts("downloads_total", "uploads_total", "unique_hashes"),
            top_hashes=_top(),
            top_urls=_top(_LONG_KEYWORD),
            unique_vt_classifications=dict(_LONG),
            vt_classifications_top=_top(),
            recent_vt_submissions=dict(_LONG),
        ),
        "enrichments": _obj(
            urlhaus_tags_top=_top(),
            asn_top=_top(),
            country_top=_top(),
            spur_infrastructure_top=_top(),
            spur_tunnels=_obj(**_counts("total", "anonymous")),
            greynoise_classification_top=_top(),
            benign_scanner_sessions=dict(_LONG),
        ),
        "abnormalities": _obj(
            uncommon_command_sessions=dict(_KEYWORD),
            recent_vt_submission_sessions=dict(_KEYWORD),
        ),
        "alerts": _obj(
            type=dict(_KEYWORD),
            severity=dict(_KEYWORD),
            message={"type": "text", "fields": {"keyword": dict(_KEYWORD)}},
            current=dict(_DOUBLE),
            average=dict(_DOUBLE),
            classifications=dict(_KEYWORD),
            percentage=dict(_DOUBLE),
        ),
    }
    dynamic_templates: list[dict[str, Any]] = [
        {"protocol_counts": {"path_match": "sessions.protocols.*", "mapping": dict(_LONG)}}
    ]
    # a day is a date; ISO weeks (2024-W07) and months (2024-03) are not, so they are keywords
    props[LABEL_FIELDS[report_type]] = dict(_DATE) if report_type == "daily" else dict(_KEYWORD)
    if report_type != "daily":
        props["days_included"] = dict(_LONG)
        props["daily"] = _obj(
            date=dict(_DATE), **_counts("sessions", "unique_ips", "commands", "downloads")
        )
        props["trends"] = _obj(
            sessions_change=dict(_DOUBLE),
            unique_ips_change=dict(_DOUBLE),
            downloads_change=dict(_DOUBLE),
            files_change=dict(_DOUBLE),
        )
        props["daily_average"] = _obj(
            sessions=dict(_DOUBLE), commands=dict(_DOUBLE), downloads=dict(_DOUBLE)
        )
        props["alerts_summary"] = {"type": "object", "dynamic": True}
        dynamic_templates.append(
            {"alert_counts": {"path_match": "alerts_summary.*", "mapping": dict(_LONG)}}
        )
    return {
        "dynamic": "strict",
        "dynamic_templates": dynamic_templates,
        "properties": props,
    }


def ilm_policy(index_mode: IndexMode = "alias") -> dict[str, Any]:
    """The ILM policy body.

    Hot: in alias mode roll over after 7 days (or at 10 GB per primary shard, which report
    documents never reach). Warm after 30 days: read-only, lower recovery priority. Cold
    after 90 days: lowest priority. Nothing is deleted; reports are small and dashboards
    compare long periods (add a ``delete`` phase in Kibana if you want one). Dated mode
    has no rollover (the index name carries the period), only the ageing phases.
    """
    hot_actions: dict[str, Any] = {"set_priority": {"priority": 100}}
    if index_mode == "alias":
        hot_actions["rollover"] = {"max_age": "7d", "max_primary_shard_size": "10gb"}
    return {
        "policy": {
            "_meta": {"managed_by": "cowrieprocessor", "description": "Cowrie report indices"},
            "phases": {
                "hot": {"min_age": "0ms", "actions": hot_actions},
                "warm": {
                    "min_age": "30d",
                    "actions": {"readonly": {}, "set_priority": {"priority": 50}},
                },
                "cold": {"min_age": "90d", "actions": {"set_priority": {"priority": 0}}},
            },
        }
    }


def index_template(
    report_type: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
    replicas: int | None = None,
) -> dict[str, Any]:
    """The composable index template body for ``report_type``."""
    lifecycle: dict[str, Any] = {"name": policy_name(prefix, index_mode)}
    if index_mode == "alias":
        lifecycle["rollover_alias"] = write_alias(report_type, prefix)
    settings: dict[str, Any] = {"index": {"number_of_shards": 1, "lifecycle": lifecycle}}
    if replicas is not None:
        settings["index"]["number_of_replicas"] = replicas
    return {
        "index_patterns": [index_pattern(report_type, prefix)],
        "priority": 200,
        "template": {"settings": settings, "mappings": report_mappings(report_type)},
        "_meta": {"managed_by": "cowrieprocessor", "schema_version": 1},
    }
