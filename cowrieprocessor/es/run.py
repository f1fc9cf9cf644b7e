"""A publish run: the reports of some periods and sensors, built one at a time and sent to
Elasticsearch in bulk batches, or written as dry-run NDJSON.

A long backfill never holds more than one batch: documents are built lazily, period by
period and sensor by sensor, and sent in batches of ``batch_size`` documents or about
:data:`MAX_BATCH_BYTES`. The run keeps running totals (:class:`RunTotals`) and the
``reporting`` status file (counters, details, one error entry per failed document), masks
resolved secrets in every message it keeps, and stops when a whole batch fails because the
cluster cannot be reached or refuses the credentials (:func:`stops_run`): the next batch
would fail alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from elasticsearch import Elasticsearch

from cowrieprocessor.es.bulk import DryRunWriter, batches, bulk_items
from cowrieprocessor.es.names import ReportDocumentError, write_alias
from cowrieprocessor.es.publisher import (
    BulkSender,
    DocumentOutcome,
    ESPublishError,
    PublishProgress,
    RetryPolicy,
    check_write_aliases,
)
from cowrieprocessor.es.settings import ESSettings
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.secrets import Redactor
from cowrieprocessor.sensors import AGGREGATE
from cowrieprocessor.status import StatusEmitter

__all__ = [
    "MAX_BATCH_BYTES",
    "RATE_COUNTERS",
    "PublishRun",
    "RunTotals",
    "sensor_label",
    "stops_run",
]

#: Send a bulk request before the documents gathered for it pass this many bytes.
MAX_BATCH_BYTES = 8 * 1024 * 1024
#: Counters of the status file that get a per-second rate.
RATE_COUNTERS = ("reports_built", "reports_published")
#: Error types (or HTTP statuses) of a whole request that will not get better by trying
#: the next batch: stop the run instead of hammering an unreachable or refusing cluster.
FATAL_ERROR_TYPES = frozenset({"connection_error", "timeout", "tls_error"})
FATAL_STATUSES = frozenset({401, 403})

#: Builds the report of a period for a sensor (``None``: all sensors together).
Build = Callable[[Period, str | None], dict[str, Any]]


def sensor_label(sensor: str | None) -> str:
    """How a run names a sensor: ``aggregate`` for all sensors together."""
    return AGGREGATE if sensor is None else sensor


def stops_run(outcomes: Sequence[DocumentOutcome]) -> bool:
    """Whether a batch with these outcomes stops the run: nothing was accepted, and every
    failure says the cluster cannot be reached or refuses the credentials."""
    failures = [o for o in outcomes if not o.ok]
    return len(failures) == len(outcomes) > 0 and all(
        o.error_type in FATAL_ERROR_TYPES or o.http_status in FATAL_STATUSES for o in failures
    )


@dataclass
class RunTotals:
    """Running totals over every bulk request of a run."""

    total: int
    built: int = 0
    published: int = 0
    failed: int = 0
    written: int = 0
    bulk_attempts: int = 0
    retries: int = 0
    #: Why the run stopped early (one line), if it did.
    stopped: str | None = None
    failures: list[DocumentOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every document built so far was accepted (or written) and the run did not stop."""
        return self.failed == 0 and self.stopped is None

    def counters(self) -> dict[str, int]:
        """The ``counters`` of the status file."""
        return {
            "reports_total": self.total,
            "reports_built": self.built,
            "reports_published": self.published,
            "reports_failed": self.failed,
            "reports_written": self.written,
            "bulk_attempts": self.bulk_attempts,
            "retries": self.retries,
        }

    def summary(self, dry_run: bool) -> dict[str, Any]:
        """The ``summary`` detail of the status file at the end."""
        data: dict[str, Any] = {
            "built": self.built,
            "accepted": self.published,
            "failed": self.failed,
            "not_built": self.total - self.built,
            "bulk_attempts": self.bulk_attempts,
            "retries": self.retries,
        }
        if dry_run:
            data = {"built": self.built, "written": self.written}
        if self.stopped:
            data["stopped"] = self.stopped
        return data


class PublishRun:
    """Builds the report of every period (outer loop) and sensor (inner loop) and publishes
    or writes them, keeping :attr:`totals` and the ``status`` file current.

    Use: :meth:`start`, then :meth:`write_dry_run` or :meth:`publish`, then :meth:`finish`,
    inside ``with status:`` (which marks the status failed or interrupted when an exception
    escapes). ``on_progress(totals, current)`` is called before and after each report is
    built, ``current`` naming it (``daily 2024-06-01 aggregate``).
    """

    def __init__(
        self,
        periods: Sequence[Period],
        sensors: Sequence[str | None],
        build: Build,
        *,
        settings: ESSettings,
        status: StatusEmitter,
        on_progress: Callable[[RunTotals, str], None] | None = None,
    ) -> None:
        if not periods or not sensors:
            raise ValueError("a publish run needs at least one period and one sensor")
        self.report_type = periods[0].report_type
        self.periods = periods
        self.sensors = sensors
        self.build = build
        self.settings = settings
        self.status = status
        self.status.rate_counters = RATE_COUNTERS
        self.on_progress = on_progress
        self.totals = RunTotals(total=len(periods) * len(sensors))
        self.redact = Redactor()
        self.dry_run = False

    def start(self, *, dry_run: bool, output: Path | None = None) -> None:
        """Record what the run will do in the status file (``output``: the dry-run directory,
        ``None`` for stdout)."""
        self.dry_run = dry_run
        settings = self.settings
        target: str | list[str]
        if dry_run:
            target = str(output) if output is not None else "stdout"
        else:
            target = list(settings.hosts) or "cloud"
        self.status.update(
            self.totals.counters(),
            report_type=self.report_type,
            date_range={
                "start": self.periods[0].start.isoformat(),
                "end": self.periods[-1].end.isoformat(),
            },
            periods=len(self.periods),
            sensors=[sensor_label(s) for s in self.sensors],
            dry_run=dry_run,
            index_prefix=settings.index_prefix,
            index_mode=settings.index_mode,
            target=target,
        )

    def documents(self) -> Iterator[dict[str, Any]]:
        """Build the reports one at a time, counting them."""
        for period in self.periods:
            for sensor in self.sensors:
                label = sensor_label(sensor)
                current = f"{self.report_type} {period.label} {label}"
                self.status.update(current_period=period.label, current_sensor=label)
                self._progress(current)
                document = self.build(period, sensor)
                self.totals.built += 1
                self.status.update(self.totals.counters())
                self._progress(current)
                yield document

    def write_dry_run(self, target: IO[str] | Path) -> None:
        """Write the bulk NDJSON to a text stream, or to ``<target>/<report_type>.ndjson``."""
        settings = self.settings
        with DryRunWriter(
            target, prefix=settings.index_prefix, index_mode=settings.index_mode
        ) as writer:
            for document in self.documents():
                writer.write(document)
                self.totals.written += 1

    def publish(
        self,
        client: Elasticsearch,
        *,
        redact: Redactor | None = None,
        retry: RetryPolicy | None = None,
        batch_size: int = 500,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        """Send the reports in batches; stop early (:attr:`RunTotals.stopped`) when a batch
        shows the cluster cannot take any (:func:`stops_run`).

        ``redact`` masks the resolved secrets (from
        :func:`~cowrieprocessor.es.settings.connect`) in every message kept.

        Raises:
            ESPublishError: in alias mode, the write alias is missing or cannot be checked
                (before anything is built).
            ReportDocumentError: a built report cannot be named (a builder bug).
        """
        if redact is not None:
            self.redact = redact
        settings = self.settings
        if settings.index_mode == "alias":
            self._check_alias(client)
        sender = BulkSender(
            client, retry=retry, total=self.totals.total, progress=self._on_send_progress
        )
        items = bulk_items(
            self.documents(), prefix=settings.index_prefix, index_mode=settings.index_mode
        )
        try:
            for batch in batches(items, batch_size, max_batch_bytes):
                outcomes = sender.send(batch)
                self._count(sender)
                self._record_failures(outcomes)
                if stops_run(outcomes):
                    self._stop(sender.last_error or outcomes[0].reason)
                    return
        except ReportDocumentError as exc:
            message = f"cannot name a report document: {exc}"
            self.status.error("invalid_document", message)
            raise ReportDocumentError(message) from None

    def finish(self) -> None:
        """Write the final counters, state (``finished`` or ``failed``) and summary."""
        self.status.update(self.totals.counters())
        self.status.finish(
            "finished" if self.totals.ok else "failed",
            current_period=None,
            current_sensor=None,
            summary=self.totals.summary(self.dry_run),
        )

    def _progress(self, current: str) -> None:
        if self.on_progress is not None:
            self.on_progress(self.totals, current)

    def _check_alias(self, client: Elasticsearch) -> None:
        try:
            check_write_aliases(client, [write_alias(self.report_type, self.settings.index_prefix)])
        except ESPublishError as exc:
            message = self.redact.text(str(exc))
            self.status.error("setup", message)
            raise ESPublishError(message) from None

    def _count(self, sender: BulkSender | PublishProgress) -> None:
        totals = self.totals
        totals.published, totals.failed = sender.published, sender.failed
        totals.bulk_attempts, totals.retries = sender.bulk_attempts, sender.retries

    def _on_send_progress(self, progress: PublishProgress) -> None:
        self._count(progress)
        self.status.update(
            self.totals.counters(), last_error=self.redact.text(progress.last_error) or None
        )

    def _record_failures(self, outcomes: Sequence[DocumentOutcome]) -> None:
        for outcome in outcomes:
            if outcome.ok:
                continue
            self.totals.failures.append(outcome)
            self.status.error(
                outcome.error_type or "failed",
                self.redact.text(f"{outcome.doc_id}: {outcome.reason}"),
            )
        self.status.update(self.totals.counters())

    def _stop(self, reason: str) -> None:
        self.totals.stopped = "cannot publish to Elasticsearch: " + self.redact.text(reason)
        self.status.error("stopped", self.totals.stopped)
