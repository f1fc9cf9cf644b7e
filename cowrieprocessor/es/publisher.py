"""Send report documents to Elasticsearch in bulk requests, with bounded retries.

Each document goes to its target (:mod:`cowrieprocessor.es.names`) under its fixed ``_id``,
as the bytes :mod:`cowrieprocessor.es.bulk` serialised, so re-publishing overwrites rather
than duplicates and a dry-run file holds exactly what is sent.

Retry policy (:class:`RetryPolicy`): a batch is resent when the whole request fails
transiently (HTTP 429/502/503/504, connection errors, timeouts), and only the items that got
an item-level 429/502/503/504 are resent. Backoff is exponential with full jitter: before
retry ``n`` (1-based) the sender sleeps ``random() * min(max_backoff, initial_backoff *
2 ** (n - 1))``. It gives up on a batch after ``max_attempts`` bulk attempts or when the next
sleep would end more than ``max_total_seconds`` after the batch was first sent (the bound
excludes the duration of one in-flight request, which ``request_timeout`` caps). Other item
errors (mapping errors, 400, 409, ...) are permanent: reported per document, never retried.
A whole-request error that is not transient (401, 403, 400, 413, TLS) fails all documents of
the batch at once.

:class:`BulkSender` sends one batch at a time (:meth:`BulkSender.send`: one attempt, then
the retry loop); :func:`publish_reports` sends a list of documents with it.
"""

from __future__ import annotations

import itertools
import random as _random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch, TransportError

from cowrieprocessor.es.bulk import BulkItem, batches, bulk_item
from cowrieprocessor.es.errors import describe_failure
from cowrieprocessor.es.names import DEFAULT_PREFIX, IndexMode

__all__ = [
    "BulkSender",
    "DocumentOutcome",
    "ESPublishError",
    "PublishProgress",
    "PublishResult",
    "RetryPolicy",
    "check_write_aliases",
    "publish_reports",
]

TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})

OutcomeStatus = Literal["created", "updated", "failed"]


class ESPublishError(RuntimeError):
    """Publishing could not start (for example the write alias is missing)."""


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

    def is_transient(self, exc: ApiError | TransportError) -> bool:
        """Whether a whole request that raised ``exc`` is worth sending again."""
        if isinstance(exc, ApiError):
            return exc.meta.status in self.retry_statuses
        if isinstance(exc, TlsError):
            return False
        return isinstance(exc, ConnectionTimeout | TransportConnectionError)


@dataclass
class DocumentOutcome:
    """What happened to one document.

    ``status`` is ``created``/``updated``/``failed``; ``http_status`` the last item status
    (or the request's, when the whole request failed; ``None`` when no answer came);
    ``error_type``/``error`` the last error (the error type and the reason as the server or
    the transport gave them).
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

    @property
    def reason(self) -> str:
        """One line: ``HTTP <status> <error type>: <error>``, as far as they are known."""
        status = f"HTTP {self.http_status} " if self.http_status else ""
        kind = f"{self.error_type}: " if self.error_type else ""
        return f"{status}{kind}{self.error or 'not accepted'}".strip()


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
#: A document on its way: its bulk lines and what has happened to it so far.
_Pending = tuple[BulkItem, DocumentOutcome]


class BulkSender:
    """Sends batches of bulk items to one cluster under one :class:`RetryPolicy`.

    Its counters (``published``, ``failed``, ``bulk_attempts``, ``retries``, ``sleeps``,
    ``last_error``) run over every batch it sends, so one sender serves a whole publish;
    ``progress`` gets them after every bulk attempt (``total``: the documents expected).
    ``sleep``, ``random`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        client: Elasticsearch,
        *,
        retry: RetryPolicy | None = None,
        refresh: bool | str | None = None,
        total: int = 0,
        progress: ProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.policy = retry or RetryPolicy()
        self.refresh = refresh
        self.total = total
        self.progress = progress
        self.sleep = sleep
        self.random = random
        self.clock = clock
        self.published = 0
        self.failed = 0
        self.bulk_attempts = 0
        self.retries = 0
        self.sleeps: list[float] = []
        self.last_error: str | None = None

    def send(self, batch: Sequence[BulkItem]) -> list[DocumentOutcome]:
        """Send one batch, then resend what failed transiently until it is accepted or the
        policy gives up; return one outcome per item."""
        pending: list[_Pending] = [
            (item, DocumentOutcome(item.doc_id, item.index, item.report_type)) for item in batch
        ]
        outcomes = [outcome for _, outcome in pending]
        started = self.clock()
        for attempt in itertools.count(1):
            retryable = self._attempt(pending)
            if not retryable:
                self._report()
                break
            give_up, delay = self._next_delay(attempt, started)
            if give_up is not None:
                for _, outcome in retryable:
                    outcome.error = f"{give_up}; last error: {outcome.error}"
                self.failed += len(retryable)
                self._report()
                break
            self._report()
            self.retries += 1
            self.sleeps.append(delay)
            self.sleep(delay)
            pending = retryable
        return outcomes

    def _attempt(self, pending: list[_Pending]) -> list[_Pending]:
        """One bulk request for ``pending``: record what happened to each document, and
        return those worth sending again."""
        self.bulk_attempts += 1
        for _, outcome in pending:
            outcome.attempts += 1
        body = [line for item, _ in pending for line in (item.action, item.source)]
        try:
            # the client types operations as mappings; its NDJSON serializer sends bytes as is
            operations = cast(Sequence[Mapping[str, Any]], body)
            response = self.client.bulk(operations=operations, refresh=self.refresh)
        except (ApiError, TransportError) as exc:
            failure = describe_failure(exc, self.client)
            self.last_error = failure.line
            for _, outcome in pending:
                outcome.http_status = failure.status
                outcome.error_type, outcome.error = failure.error_type, failure.reason
            if self.policy.is_transient(exc):
                return pending
            self.failed += len(pending)
            return []
        items = response.body.get("items", [])
        if len(items) != len(pending):
            self.last_error = f"bulk response has {len(items)} items for {len(pending)} documents"
            for _, outcome in pending:
                outcome.error_type, outcome.error = "invalid_response", self.last_error
            return pending
        retryable = []
        for (item, outcome), entry in zip(pending, items, strict=True):
            info = next(iter(entry.values())) if entry else {}
            if self._record_item(outcome, info):
                self.published += 1
                continue
            self.last_error = f"{item.doc_id}: {outcome.reason}"
            if outcome.http_status in self.policy.retry_statuses:
                retryable.append((item, outcome))
            else:
                self.failed += 1
        return retryable

    @staticmethod
    def _record_item(outcome: DocumentOutcome, info: Mapping[str, Any]) -> bool:
        """Record one item of a bulk answer; whether it was accepted."""
        status = int(info.get("status", 0))
        outcome.http_status = status
        if 200 <= status < 300 and "error" not in info:
            outcome.status = "created" if status == 201 else "updated"
            if info.get("result") in ("created", "updated"):
                outcome.status = info["result"]
            outcome.error_type = outcome.error = None
            outcome.concrete_index = info.get("_index")
            return True
        error = info.get("error") or {}
        if isinstance(error, dict):
            outcome.error_type = str(error.get("type", "unknown"))
            outcome.error = str(error.get("reason", ""))
        else:
            outcome.error_type, outcome.error = "unknown", str(error)
        return False

    def _next_delay(self, attempt: int, started: float) -> tuple[str | None, float]:
        """Why to give up after ``attempt``, or ``None`` and the sleep before the next one."""
        policy = self.policy
        if attempt >= policy.max_attempts:
            return f"gave up after {attempt} attempts", 0.0
        delay = self.random() * policy.backoff_cap(attempt)
        if self.clock() - started + delay > policy.max_total_seconds:
            return (
                f"gave up after {attempt} attempts: retry time budget of "
                f"{policy.max_total_seconds:g}s exhausted"
            ), delay
        return None, delay

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(
                PublishProgress(
                    total=self.total,
                    published=self.published,
                    failed=self.failed,
                    pending=self.total - self.published - self.failed,
                    bulk_attempts=self.bulk_attempts,
                    retries=self.retries,
                    last_error=self.last_error,
                )
            )


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
            :func:`~cowrieprocessor.es.settings.create_client` does) so that retries
            happen here only.
        documents: schema-version-1 report documents (mappings).
        prefix, index_mode: where to write (see :mod:`cowrieprocessor.es.names`).
        retry: the retry policy (default :class:`RetryPolicy()`); its time budget holds
            per batch.
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
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    items = [bulk_item(d, prefix=prefix, index_mode=index_mode) for d in documents]
    started = clock()
    result = PublishResult()
    if not items:
        return result
    if check_aliases and index_mode == "alias":
        check_write_aliases(client, sorted({item.index for item in items}))
    sender = BulkSender(
        client,
        retry=retry,
        refresh=refresh,
        total=len(items),
        progress=progress,
        sleep=sleep,
        random=random,
        clock=clock,
    )
    for batch in batches(items, chunk_size, max_chunk_bytes):
        result.outcomes += sender.send(batch)
    result.bulk_attempts, result.retries = sender.bulk_attempts, sender.retries
    result.sleeps, result.last_error = sender.sleeps, sender.last_error
    result.elapsed = clock() - started
    return result


def check_write_aliases(client: Elasticsearch, aliases: Iterable[str]) -> None:
    """Check that each write alias exists (``es-setup`` has run).

    Raises:
        ESPublishError: an alias is missing, or checking failed (one line naming the
            HTTP status and reason, or the node and the connection problem).
    """
    for alias in aliases:
        try:
            exists = bool(client.indices.exists_alias(name=alias))
        except (ApiError, TransportError) as exc:
            reason = describe_failure(exc, client).line
            raise ESPublishError(f"cannot check write alias {alias}: {reason}") from None
        if not exists:
            raise ESPublishError(
                f"write alias {alias} does not exist; run es-setup first "
                "(or use index mode 'dated')"
            )
