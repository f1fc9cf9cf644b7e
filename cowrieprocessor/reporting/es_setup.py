"""Index names, the report mappings, and ``es-setup``: ILM policy, templates, bootstrap indices.

Index names (``prefix`` defaults to ``cowrie.reports``):

* alias mode (default): documents are written to the write alias ``<prefix>.<type>-write``;
  the indices behind it are ``<prefix>.<type>-000001``, ``-000002``, ... rolled over by ILM.
* dated mode: documents are written to ``<prefix>.<type>-<bucket>`` where the bucket comes
  from the document's period: daily reports go to a monthly index ``YYYY.MM``
  (``cowrie.reports.daily-2024.05``), weekly and monthly reports to a yearly index ``YYYY``
  (the ISO year for weeks). No aliases and no rollover; ILM only ages the indices.

Both kinds of index match the template pattern ``<prefix>.<type>-*``.

:func:`setup_elasticsearch` is idempotent: it upserts the ILM policy and the three index
templates (``PUT`` replaces them with the same content) and, in alias mode, creates
``<prefix>.<type>-000001`` with the write alias only when the alias does not exist yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError

from cowrieprocessor.reporting.es_settings import DEFAULT_PREFIX, IndexMode

__all__ = [
    "REPORT_TYPES",
    "ESSetupError",
    "SetupResult",
    "SetupStep",
    "bootstrap_index_name",
    "dated_index_name",
    "ilm_policy",
    "index_pattern",
    "index_template",
    "policy_name",
    "report_mappings",
    "setup_elasticsearch",
    "template_name",
    "write_alias",
]

ReportType = Literal["daily", "weekly", "monthly"]
REPORT_TYPES: tuple[ReportType, ...] = ("daily", "weekly", "monthly")

#: Values longer than this (in characters) are stored but not indexed as keywords.
KEYWORD_IGNORE_ABOVE = 1024
#: Commands and URLs can be huge (100 KB); index a prefix as keyword, all as text.
LONG_KEYWORD_IGNORE_ABOVE = 4096

# --------------------------------------------------------------------------- names


def write_alias(report_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.<type>-write``."""
    return f"{prefix}.{report_type}-write"


def bootstrap_index_name(report_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.<type>-000001``, the first index behind the write alias."""
    return f"{prefix}.{report_type}-000001"


def index_pattern(report_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>.<type>-*``, matching both rollover and dated indices."""
    return f"{prefix}.{report_type}-*"


def template_name(report_type: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Name of the index template for ``report_type``."""
    return f"{prefix}.{report_type}"


def policy_name(prefix: str = DEFAULT_PREFIX, index_mode: IndexMode = "alias") -> str:
    """Name of the ILM policy (the dated-mode policy has no rollover)."""
    return f"{prefix}-policy" if index_mode == "alias" else f"{prefix}-dated-policy"


_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def dated_index_name(report_type: str, period: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The dated-mode index for a document of ``report_type`` and ``period``.

    ``period`` is ``date_utc`` (``YYYY-MM-DD``), ``year_week`` (``YYYY-Www``) or
    ``year_month`` (``YYYY-MM``). Daily -> ``<prefix>.daily-YYYY.MM``; weekly and monthly ->
    ``<prefix>.<type>-YYYY``.

    Raises:
        ValueError: ``period`` does not have the form the report type needs.
    """
    patterns = {"daily": _DAY, "weekly": _WEEK, "monthly": _MONTH}
    if report_type not in patterns:
        raise ValueError(f"unknown report type {report_type!r}")
    match = patterns[report_type].match(period)
    if match is None:
        raise ValueError(f"period {period!r} does not fit a {report_type} report")
    if report_type == "daily":
        return f"{prefix}.daily-{match.group(1)}.{match.group(2)}"
    return f"{prefix}.{report_type}-{match.group(1)}"


# --------------------------------------------------------------------------- mappings

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
    if report_type == "daily":
        props["date_utc"] = dict(_DATE)
    else:
        props["year_week" if report_type == "weekly" else "year_month"] = dict(_KEYWORD)
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


# --------------------------------------------------------------------------- setup


class ESSetupError(RuntimeError):
    """Installing the policy, templates or indices failed; the message is one line."""


@dataclass(frozen=True)
class SetupStep:
    """One thing ``es-setup`` did: ``kind`` (policy/template/index), ``name``, ``action``
    (``created``, ``updated`` or ``skipped``) and a ``detail``."""

    kind: str
    name: str
    action: str
    detail: str = ""


@dataclass
class SetupResult:
    """What :func:`setup_elasticsearch` did, step by step."""

    steps: list[SetupStep] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable one-liners."""
        return [
            f"{s.kind} {s.name}: {s.action}" + (f" ({s.detail})" if s.detail else "")
            for s in self.steps
        ]


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.meta.status} {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def setup_elasticsearch(
    client: Elasticsearch,
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
    replicas: int | None = None,
    report_types: tuple[str, ...] = REPORT_TYPES,
) -> SetupResult:
    """Install the ILM policy, the index templates and (alias mode) the bootstrap indices.

    Safe to re-run: the policy and templates are replaced with identical content; an
    existing write alias is left alone (``skipped``).

    Raises:
        ESSetupError: a request failed (message names the object and the server's reason).
    """
    result = SetupResult()
    current = "connection"
    try:
        current = f"ILM policy {policy_name(prefix, index_mode)}"
        name = policy_name(prefix, index_mode)
        try:
            client.ilm.get_lifecycle(name=name)
            existed = True
        except NotFoundError:
            existed = False
        client.ilm.put_lifecycle(name=name, policy=ilm_policy(index_mode)["policy"])
        result.steps.append(SetupStep("ilm-policy", name, "updated" if existed else "created"))
        for report_type in report_types:
            tname = template_name(report_type, prefix)
            current = f"index template {tname}"
            existed = bool(client.indices.exists_index_template(name=tname))
            body = index_template(
                report_type, prefix=prefix, index_mode=index_mode, replicas=replicas
            )
            client.indices.put_index_template(
                name=tname,
                index_patterns=body["index_patterns"],
                priority=body["priority"],
                template=body["template"],
                meta=body["_meta"],
            )
            result.steps.append(
                SetupStep("index-template", tname, "updated" if existed else "created")
            )
        if index_mode == "alias":
            for report_type in report_types:
                alias = write_alias(report_type, prefix)
                index = bootstrap_index_name(report_type, prefix)
                current = f"bootstrap index {index}"
                if client.indices.exists_alias(name=alias):
                    result.steps.append(
                        SetupStep("index", index, "skipped", f"alias {alias} exists")
                    )
                    continue
                client.indices.create(index=index, aliases={alias: {"is_write_index": True}})
                result.steps.append(SetupStep("index", index, "created", f"write alias {alias}"))
    except (ApiError, TransportError) as exc:
        message = f"es-setup failed at {current}: {_describe(exc)}"
        raise ESSetupError(message) from None
    return result
