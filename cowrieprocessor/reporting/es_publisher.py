"""Publish report documents to Elasticsearch with bulk requests, bounded retries and dry-run.

Each document gets a fixed ``_id`` ``"<sensor>:<report_type>:<period>"`` (period =
``date_utc``, ``year_week`` or ``year_month``), so re-publishing overwrites rather than
duplicates. Targets are described in :mod:`cowrieprocessor.reporting.es_setup` (write alias
``<prefix>.<type>-write`` or a dated index).

Retry policy (:class:`RetryPolicy`): a bulk request is retried when the whole request fails
transiently (HTTP 429/502/503/504, connection errors, timeouts) and only the items that got
an item-level 429/502/503/504 are resent. Backoff is exponential with full jitter: before
retry ``n`` (1-based) the publisher sleeps ``random() * min(max_backoff, initial_backoff *
2 ** (n - 1))``. It gives up on a batch after ``max_attempts`` bulk attempts or when the next
sleep would take the publish past ``max_total_seconds`` (the bound excludes the duration of
one in-flight request, which ``request_timeout`` caps). Other item errors (mapping errors,
400, 409, ...) are permanent: reported per document, never retried. A whole-request
error that is not transient (401, 403, 400, 413, TLS) fails all documents of the batch at once.

The bulk body is built once by :func:`bulk_lines` and sent as-is, so :func:`write_dry_run`
writes exactly the bytes that would be sent.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import orjson
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch, TransportError

from cowrieprocessor.reporting.es_settings import DEFAULT_PREFIX, IndexMode
from cowrieprocessor.reporting.es_setup import REPORT_TYPES, dated_index_name, write_alias

__all__ = [
    "PERIOD_FIELDS",
    "DocumentOutcome",
    "ESPublishError",
    "PublishProgress",
    "PublishResult",
    "ReportDocumentError",
    "RetryPolicy",
    "bulk_lines",
    "check_write_aliases",
    "document_id",
    "document_period",
    "publish_reports",
    "target_index",
    "write_dry_run",
    "write_dry_run_dir",
]

#: The field holding the period of each report type.
PERIOD_FIELDS = {"daily": "date_utc", "weekly": "year_week", "monthly": "year_month"}

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

OutcomeStatus = Literal["created", "updated", "failed"]


class ReportDocumentError(ValueError):
    """A document lacks what is needed to name it (sensor, report type, period)."""


class ESPublishError(RuntimeError):
    """Publishing could not start (for example the write alias is missing)."""


# --------------------------------------------------------------------------- naming


def document_period(document: Mapping[str, Any]) -> str:
    """The period string of a report document (``date_utc``/``year_week``/``year_month``).

    Raises:
        ReportDocumentError: unknown ``report_type`` or missing period field.
    """
    report_type = document.get("report_type")
    if report_type not in PERIOD_FIELDS:
        raise ReportDocumentError(
            f"report_type must be one of {', '.join(REPORT_TYPES)}, not {report_type!r}"
        )
    key = PERIOD_FIELDS[report_type]
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
    """Where ``document`` is written: the write alias, or the dated index of its period."""
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


@dataclass(frozen=True)
class _Planned:
    doc_id: str
    index: str
    report_type: str
    action: bytes
    source: bytes


def _plan(
    documents: Iterable[Mapping[str, Any]], prefix: str, index_mode: IndexMode
) -> list[_Planned]:
    planned = []
    for document in documents:
        doc_id = document_id(document)
        index = target_index(document, prefix=prefix, index_mode=index_mode)
        action = orjson.dumps({"index": {"_index": index, "_id": doc_id}})
        planned.append(
            _Planned(doc_id, index, str(document["report_type"]), action, orjson.dumps(document))
        )
    return planned


def bulk_lines(
    documents: Iterable[Mapping[str, Any]],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> Iterator[bytes]:
    """The bulk NDJSON lines (action, source, action, source, ...) without newlines.

    Serialisation is ``orjson`` with default options: keys in insertion order, compact,
    ``datetime`` values as RFC 3339 (give timezone-aware values).

    Raises:
        ReportDocumentError: a document cannot be named (checked before anything is yielded).
    """
    for item in _plan(documents, prefix, index_mode):
        yield item.action
        yield item.source


def write_dry_run(
    documents: Iterable[Mapping[str, Any]],
    out: IO[str],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> int:
    """Write the exact bulk NDJSON to a text stream, one JSON value per line.

    Returns the number of documents. No connection is attempted.
    """
    count = 0
    for i, line in enumerate(bulk_lines(documents, prefix=prefix, index_mode=index_mode)):
        out.write(line.decode("utf-8"))
        out.write("\n")
        count += i % 2
    return count


def write_dry_run_dir(
    documents: Iterable[Mapping[str, Any]],
    directory: str | Path,
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> dict[str, Path]:
    """Write ``<directory>/<report_type>.ndjson`` per report type present; return the paths.

    Existing files for those types are replaced. The directory is created if needed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[_Planned]] = {}
    for item in _plan(documents, prefix, index_mode):
        by_type.setdefault(item.report_type, []).append(item)
    paths: dict[str, Path] = {}
    for report_type, items in by_type.items():
        path = directory / f"{report_type}.ndjson"
        with path.open("wb") as handle:
            for item in items:
                handle.write(item.action + b"\n" + item.source + b"\n")
        paths[report_type] = path
    return paths


# --------------------------------------------------------------------------- publishing


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retrying with exponential backoff and full jitter (see module docs)."""

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    max_total_seconds: float = 300.0
    retry_statuses: frozenset[int] = TRANSIENT_STATUSES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.max_total_seconds < 0:
            raise ValueError("backoff and time budget must not be negative")

    def backoff_cap(self, retry: int) -> float:
        """Upper bound of the sleep before retry number ``retry`` (1-based)."""
        return float(min(self.max_backoff, self.initial_backoff * 2 ** (retry - 1)))


@dataclass
class DocumentOutcome:
    """What happened to one document.

    ``status`` is ``created``/``updated``/``failed``; ``http_status`` the last item status
    (``None`` when the request itself failed); ``error_type``/``error`` the last error.
    """

    doc_id: str
    index: str
    report_type: str
    status: OutcomeStatus = "failed"
    http_status: int | None = None
    error_type: str | None = None
    error: str | None = None
    attempts: int = 0
    concrete_index: str | None = None

    @property
    def ok(self) -> bool:
        """Whether Elasticsearch accepted the document."""
        return self.status != "failed"


@dataclass(frozen=True)
class PublishProgress:
    """Running counters passed to the progress callback after every bulk attempt."""

    total: int
    published: int
    failed: int
    pending: int
    bulk_attempts: int
    retries: int
    last_error: str | None


@dataclass
class PublishResult:
    """Outcome of :func:`publish_reports`: one :class:`DocumentOutcome` per document."""

    outcomes: list[DocumentOutcome] = field(default_factory=list)
    bulk_attempts: int = 0
    retries: int = 0
    sleeps: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    last_error: str | None = None

    @property
    def accepted(self) -> int:
        """Documents Elasticsearch accepted."""
        return sum(1 for o in self.outcomes if o.ok)

    @property
    def failed(self) -> int:
        """Documents that were not accepted."""
        return sum(1 for o in self.outcomes if not o.ok)

    @property
    def ok(self) -> bool:
        """Whether every document was accepted."""
        return self.failed == 0

    @property
    def failures(self) -> list[DocumentOutcome]:
        """The failed outcomes."""
        return [o for o in self.outcomes if not o.ok]


ProgressCallback = Callable[[PublishProgress], None]


def _describe_exception(exc: Exception) -> tuple[int | None, str, str]:
    """(HTTP status or None, error type, one-line reason) of a request-level failure."""
    if isinstance(exc, ApiError):
        status = exc.meta.status
        error_type = str(exc.message) if exc.message else "api_error"
        reason = f"HTTP {status} {error_type}"
        if isinstance(exc.body, dict):
            err = exc.body.get("error")
            if isinstance(err, dict) and err.get("reason"):
                reason = f"HTTP {status} {err.get('type', error_type)}: {err['reason']}"
        return status, error_type, reason
    if isinstance(exc, ConnectionTimeout):
        return None, "timeout", f"request timed out: {exc.message}"
    if isinstance(exc, TlsError):
        return None, "tls_error", f"TLS error: {exc.message}"
    if isinstance(exc, TransportConnectionError):
        return None, "connection_error", f"connection error: {exc.message}"
    if isinstance(exc, TransportError):
        return None, type(exc).__name__, str(exc.message)
    return None, type(exc).__name__, str(exc)


def _is_transient(exc: Exception, policy: RetryPolicy) -> bool:
    if isinstance(exc, ApiError):
        return exc.meta.status in policy.retry_statuses
    if isinstance(exc, TlsError):
        return False
    return isinstance(exc, ConnectionTimeout | TransportConnectionError)


def _chunks(items: Sequence[_Planned], size: int, max_bytes: int) -> Iterator[list[_Planned]]:
    chunk: list[_Planned] = []
    chunk_bytes = 0
    for item in items:
        item_bytes = len(item.action) + len(item.source) + 2
        if chunk and (len(chunk) >= size or chunk_bytes + item_bytes > max_bytes):
            yield chunk
            chunk, chunk_bytes = [], 0
        chunk.append(item)
        chunk_bytes += item_bytes
    if chunk:
        yield chunk


def publish_reports(
    client: Elasticsearch,
    documents: Iterable[Mapping[str, Any]],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
    retry: RetryPolicy | None = None,
    chunk_size: int = 500,
    max_chunk_bytes: int = 10 * 1024 * 1024,
    refresh: bool | str | None = None,
    check_aliases: bool = True,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    random: Callable[[], float] = _random.random,
    clock: Callable[[], float] = time.monotonic,
) -> PublishResult:
    """Index ``documents`` with bulk requests; return per-document outcomes.

    Args:
        client: an ``Elasticsearch`` client; give it ``max_retries=0`` (as
            :func:`~cowrieprocessor.reporting.es_settings.create_client` does) so that
            retries happen here only.
        documents: schema-version-1 report documents (mappings).
        prefix, index_mode: where to write (see :mod:`cowrieprocessor.reporting.es_setup`).
        retry: the retry policy (default :class:`RetryPolicy()`).
        chunk_size, max_chunk_bytes: split documents into bulk requests.
        refresh: passed to the bulk API (``"wait_for"`` makes documents searchable).
        check_aliases: in alias mode, first check that each needed write alias exists,
            so a missing ``es-setup`` does not silently auto-create a plain index named like
            the alias.
        progress: called after every bulk attempt with :class:`PublishProgress`.
        sleep, random, clock: injectable for tests.

    Raises:
        ReportDocumentError: a document cannot be named (before any request).
        ESPublishError: a write alias is missing, or checking it failed.
    """
    policy = retry or RetryPolicy()
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    planned = _plan(documents, prefix, index_mode)
    started = clock()
    result = PublishResult()
    outcomes = {
        id(item): DocumentOutcome(item.doc_id, item.index, item.report_type) for item in planned
    }
    result.outcomes = [outcomes[id(item)] for item in planned]
    if not planned:
        return result
    if check_aliases and index_mode == "alias":
        check_write_aliases(client, sorted({item.index for item in planned}))

    published = failed = 0

    def report_progress() -> None:
        if progress is not None:
            progress(
                PublishProgress(
                    total=len(planned),
                    published=published,
                    failed=failed,
                    pending=len(planned) - published - failed,
                    bulk_attempts=result.bulk_attempts,
                    retries=result.retries,
                    last_error=result.last_error,
                )
            )

    for chunk in _chunks(planned, chunk_size, max_chunk_bytes):
        pending = chunk
        attempt = 0
        while pending:
            attempt += 1
            result.bulk_attempts += 1
            retry_items: list[_Planned] = []
            body = [line for item in pending for line in (item.action, item.source)]
            for item in pending:
                outcomes[id(item)].attempts += 1
            try:
                response = client.bulk(operations=body, refresh=refresh)
            except (ApiError, TransportError) as exc:
                status, error_type, reason = _describe_exception(exc)
                result.last_error = reason
                for item in pending:
                    outcome = outcomes[id(item)]
                    outcome.http_status, outcome.error_type, outcome.error = (
                        status,
                        error_type,
                        reason,
                    )
                if _is_transient(exc, policy):
                    retry_items = list(pending)
                else:
                    failed += len(pending)
            else:
                items = response.body.get("items", [])
                if len(items) != len(pending):
                    reason = f"bulk response has {len(items)} items for {len(pending)} documents"
                    result.last_error = reason
                    for item in pending:
                        outcome = outcomes[id(item)]
                        outcome.error_type, outcome.error = "invalid_response", reason
                    retry_items = list(pending)
                else:
                    for item, entry in zip(pending, items, strict=True):
                        info = next(iter(entry.values())) if entry else {}
                        outcome = outcomes[id(item)]
                        status = int(info.get("status", 0))
                        outcome.http_status = status
                        if 200 <= status < 300 and "error" not in info:
                            outcome.status = "created" if status == 201 else "updated"
                            if info.get("result") in ("created", "updated"):
                                outcome.status = info["result"]
                            outcome.error_type = outcome.error = None
                            outcome.concrete_index = info.get("_index")
                            published += 1
                            continue
                        error = info.get("error") or {}
                        if isinstance(error, dict):
                            outcome.error_type = str(error.get("type", "unknown"))
                            outcome.error = str(error.get("reason", ""))
                        else:
                            outcome.error_type, outcome.error = "unknown", str(error)
                        result.last_error = (
                            f"{item.doc_id}: HTTP {status} {outcome.error_type}: {outcome.error}"
                        )
                        if status in policy.retry_statuses:
                            retry_items.append(item)
                        else:
                            failed += 1
            pending = []
            if retry_items:
                give_up: str | None = None
                if attempt >= policy.max_attempts:
                    give_up = f"gave up after {attempt} attempts"
                else:
                    delay = random() * policy.backoff_cap(attempt)
                    if clock() - started + delay > policy.max_total_seconds:
                        give_up = (
                            f"gave up after {attempt} attempts: retry time budget of "
                            f"{policy.max_total_seconds:g}s exhausted"
                        )
                if give_up is not None:
                    for item in retry_items:
                        outcome = outcomes[id(item)]
                        outcome.error = f"{give_up}; last error: {outcome.error}"
                    failed += len(retry_items)
                    report_progress()
                    break
                report_progress()
                result.retries += 1
                result.sleeps.append(delay)
                sleep(delay)
                pending = retry_items
            else:
                report_progress()
    result.elapsed = clock() - started
    return result


def check_write_aliases(client: Elasticsearch, aliases: Iterable[str]) -> None:
    """Check that each write alias exists (``es-setup`` has run).

    Raises:
        ESPublishError: an alias is missing, or checking failed (one line, e.g. a
            connection error).
    """
    for alias in aliases:
        try:
            exists = bool(client.indices.exists_alias(name=alias))
        except (ApiError, TransportError) as exc:
            _, _, reason = _describe_exception(exc)
            raise ESPublishError(f"cannot check write alias {alias}: {reason}") from None
        if not exists:
            raise ESPublishError(
                f"write alias {alias} does not exist; run es-setup first "
                "(or use index mode 'dated')"
            )
