"""Names in Elasticsearch: indices, aliases, templates, the ILM policy, and document ids.

``prefix`` defaults to ``cowrie.reports``. Two index modes:

* ``alias`` (default): documents are written to the write alias ``<prefix>.<type>-write``;
  the indices behind it are ``<prefix>.<type>-000001``, ``-000002``, ... rolled over by ILM.
* ``dated``: documents are written to ``<prefix>.<type>-<bucket>`` where the bucket comes
  from the document's period: daily reports go to a monthly index ``YYYY.MM``
  (``cowrie.reports.daily-2024.05``), weekly and monthly reports to a yearly index ``YYYY``
  (the ISO year for weeks). No aliases and no rollover; ILM only ages the indices.

Both kinds of index match the template pattern ``<prefix>.<type>-*``. A document's ``_id``
is ``"<sensor>:<report_type>:<period>"``, the period being the label field of its report
type (:data:`cowrieprocessor.reporting.periods.LABEL_FIELDS`), so re-publishing overwrites.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from cowrieprocessor.reporting.periods import (
    LABEL_FIELDS,
    REPORT_TYPES,
    PeriodError,
    parse_label,
)

__all__ = [
    "DEFAULT_PREFIX",
    "INDEX_MODES",
    "IndexMode",
    "ReportDocumentError",
    "bootstrap_index_name",
    "dated_index_name",
    "document_id",
    "document_period",
    "index_pattern",
    "policy_name",
    "target_index",
    "template_name",
    "write_alias",
]

IndexMode = Literal["alias", "dated"]
INDEX_MODES: tuple[IndexMode, ...] = ("alias", "dated")
DEFAULT_PREFIX = "cowrie.reports"


class ReportDocumentError(ValueError):
    """A document lacks what is needed to name it (sensor, report type, period)."""


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


def dated_index_name(report_type: str, period: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The dated-mode index for a document of ``report_type`` and ``period``.

    ``period`` is the document's label (``YYYY-MM-DD``, ``YYYY-Www`` or ``YYYY-MM``).
    Daily -> ``<prefix>.daily-YYYY.MM``; weekly and monthly -> ``<prefix>.<type>-YYYY``.

    Raises:
        ValueError: unknown report type, or ``period`` is not a label of that type.
    """
    if report_type not in REPORT_TYPES:
        raise ValueError(f"unknown report type {report_type!r}")
    try:
        parse_label(report_type, period)
    except PeriodError:
        raise ValueError(f"period {period!r} does not fit a {report_type} report") from None
    # a valid label starts with its year (the ISO year of a week), then a daily one's month
    if report_type == "daily":
        return f"{prefix}.daily-{period[:4]}.{period[5:7]}"
    return f"{prefix}.{report_type}-{period[:4]}"


def document_period(document: Mapping[str, Any]) -> str:
    """The period label of a report document (``date_utc``/``year_week``/``year_month``).

    Raises:
        ReportDocumentError: unknown ``report_type`` or missing period field.
    """
    report_type = document.get("report_type")
    if report_type not in LABEL_FIELDS:
        raise ReportDocumentError(
            f"report_type must be one of {', '.join(REPORT_TYPES)}, not {report_type!r}"
        )
    key = LABEL_FIELDS[report_type]
    period = document.get(key)
    if not isinstance(period, str) or not period:
        raise ReportDocumentError(f"{report_type} report without {key}")
    return period


def document_id(document: Mapping[str, Any]) -> str:
    """``"<sensor>:<report_type>:<period>"``, the fixed ``_id`` of a report document.

    Raises:
        ReportDocumentError: the document lacks ``sensor``, ``report_type`` or its period.
    """
    period = document_period(document)
    sensor = document.get("sensor")
    if not isinstance(sensor, str) or not sensor:
        raise ReportDocumentError("report without sensor")
    return f"{sensor}:{document['report_type']}:{period}"


def target_index(
    document: Mapping[str, Any],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> str:
    """Where ``document`` is written: the write alias, or the dated index of its period.

    Raises:
        ReportDocumentError: the document cannot be named, or its period label is invalid.
    """
    period = document_period(document)
    report_type = str(document["report_type"])
    if index_mode == "alias":
        return write_alias(report_type, prefix)
    if index_mode == "dated":
        try:
            return dated_index_name(report_type, period, prefix)
        except ValueError as exc:
            raise ReportDocumentError(str(exc)) from None
    raise ValueError(f"unknown index mode {index_mode!r}")
