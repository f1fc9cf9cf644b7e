"""The bulk body: each report document as an action line and a source line, cut into batches.

Each document is serialised once, by :func:`bulk_item` (``orjson`` with default options:
keys in insertion order, compact, ``datetime`` values as RFC 3339). The publisher sends
these bytes as they are and :class:`DryRunWriter` writes them, so a dry-run file holds
exactly what ``publish`` would send and can be replayed with
``curl -H 'Content-Type: application/x-ndjson' --data-binary @daily.ndjson $ES/_bulk``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from cowrieprocessor.es.names import DEFAULT_PREFIX, IndexMode, document_id, target_index

__all__ = [
    "BulkItem",
    "DryRunWriter",
    "batches",
    "bulk_item",
    "bulk_items",
    "write_dry_run",
    "write_dry_run_dir",
]


@dataclass(frozen=True)
class BulkItem:
    """One document as bulk lines: where it goes, its ``_id``, and the serialised lines."""

    doc_id: str
    index: str
    report_type: str
    action: bytes
    source: bytes

    @property
    def size(self) -> int:
        """Bytes it adds to a bulk body (both lines and their newlines)."""
        return len(self.action) + len(self.source) + 2


def bulk_item(
    document: Mapping[str, Any],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> BulkItem:
    """``document`` as an ``index`` action with its fixed ``_id``, and its source.

    Raises:
        ReportDocumentError: the document cannot be named.
    """
    doc_id = document_id(document)
    index = target_index(document, prefix=prefix, index_mode=index_mode)
    action = orjson.dumps({"index": {"_index": index, "_id": doc_id}})
    return BulkItem(doc_id, index, str(document["report_type"]), action, orjson.dumps(document))


def bulk_items(
    documents: Iterable[Mapping[str, Any]],
    *,
    prefix: str = DEFAULT_PREFIX,
    index_mode: IndexMode = "alias",
) -> Iterator[BulkItem]:
    """:func:`bulk_item` of each document, one at a time as ``documents`` yields them."""
    for document in documents:
        yield bulk_item(document, prefix=prefix, index_mode=index_mode)


def batches(items: Iterable[BulkItem], size: int, max_bytes: int) -> Iterator[list[BulkItem]]:
    """Cut ``items`` into bulk requests of at most ``size`` items and ``max_bytes`` bytes.

    A batch is handed on as soon as it is full, before the next item is asked for (a lazy
    ``items`` builds no document ahead). One item bigger than ``max_bytes`` goes alone.
    """
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[BulkItem] = []
    batch_bytes = 0
    for item in items:
        if batch and batch_bytes + item.size > max_bytes:
            yield batch
            batch, batch_bytes = [], 0
        batch.append(item)
        batch_bytes += item.size
        if len(batch) >= size:
            yield batch
            batch, batch_bytes = [], 0
    if batch:
        yield batch


class DryRunWriter:
    """Writes the exact bulk NDJSON of documents, one document at a time.

    ``target`` is a text stream (flushed, not closed, at the end) or a directory, where each
    report type goes to ``<directory>/<report_type>.ndjson``: the directory is created at
    once, and a type's file is replaced when its first document comes. Use as a context
    manager.
    """

    def __init__(
        self,
        target: IO[str] | str | Path,
        *,
        prefix: str = DEFAULT_PREFIX,
        index_mode: IndexMode = "alias",
    ) -> None:
        self.prefix = prefix
        self.index_mode: IndexMode = index_mode
        #: The file written for each report type (directory targets only).
        self.paths: dict[str, Path] = {}
        self._files: dict[str, IO[bytes]] = {}
        self._stream: IO[str] | None = None
        self._directory: Path | None = None
        if isinstance(target, str | Path):
            self._directory = Path(target)
            self._directory.mkdir(parents=True, exist_ok=True)
        else:
            self._stream = target

    def write(self, document: Mapping[str, Any]) -> BulkItem:
        """Write the action and source lines of ``document``.

        Raises:
            ReportDocumentError: the document cannot be named (nothing of it is written).
        """
        item = bulk_item(document, prefix=self.prefix, index_mode=self.index_mode)
        if self._stream is not None:
            self._stream.write(item.action.decode("utf-8") + "\n")
            self._stream.write(item.source.decode("utf-8") + "\n")
        else:
            self._file(item.report_type).write(item.action + b"\n" + item.source + b"\n")
        return item

    def _file(self, report_type: str) -> IO[bytes]:
        handle = self._files.get(report_type)
        if handle is None:
            assert self._directory is not None
            path = self.paths[report_type] = self._directory / f"{report_type}.ndjson"
            handle = self._files[report_type] = path.open("wb")
        return handle

    def close(self) -> None:
        """Close the files written, or flush the stream."""
        for handle in self._files.values():
            handle.close()
        self._files.clear()
        if self._stream is not None:
            self._stream.flush()

    def __enter__(self) -> DryRunWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
    with DryRunWriter(out, prefix=prefix, index_mode=index_mode) as writer:
        for document in documents:
            writer.write(document)
            count += 1
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
    with DryRunWriter(directory, prefix=prefix, index_mode=index_mode) as writer:
        for document in documents:
            writer.write(document)
    return writer.paths
