"""Run providers over the stored sessions' indicators, committing as answers arrive.

Offline providers answer in chunks of :data:`OFFLINE_CHUNK` indicators, each chunk one
transaction; online ones one answer per transaction as it arrives, so a run killed midway
loses no finished lookup and the next run continues with what is left. Answers that change
an indicator's normalised fields mark the buckets of its sessions dirty; the caller then
refreshes (``refresh_dirty``), and only those buckets are recomputed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from cowrieprocessor.db.retry import with_retries
from cowrieprocessor.enrichment import store
from cowrieprocessor.enrichment.base import (
    HttpProvider,
    Kind,
    OfflineProvider,
    Provider,
    Result,
)
from cowrieprocessor.enrichment.store import Scope

OFFLINE_CHUNK = 20_000


@dataclass
class ProviderRun:
    """What one provider did in a run (the summary of `cowrie-report enrich`)."""

    provider: str
    source: str = ""
    in_scope: int = 0
    pending: int = 0
    from_cache: int = 0
    looked_up: int = 0
    found: int = 0
    not_found: int = 0
    errors: int = 0
    changed: int = 0
    requests: int = 0
    budget_left: int | None = None
    left: int = 0
    stopped: str | None = None
    error_reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, result: Result) -> None:
        """Add one answer to the counters."""
        self.looked_up += 1
        if result.status == "ok":
            self.found += 1
        elif result.status == "not_found":
            self.not_found += 1
        else:
            self.errors += 1
            reason = result.reason or "error"
            self.error_reasons[reason] = self.error_reasons.get(reason, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` and status files."""
        return {
            "provider": self.provider,
            "source": self.source,
            "indicators": self.in_scope,
            "from_cache": self.from_cache,
            "looked_up": self.looked_up,
            "found": self.found,
            "not_found": self.not_found,
            "errors": self.errors,
            "error_reasons": dict(sorted(self.error_reasons.items())),
            "changed": self.changed,
            "requests": self.requests,
            "budget_left": self.budget_left,
            "left_to_look_up": self.left,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


Progress = Callable[[ProviderRun], None]


def _now() -> datetime:
    return datetime.now(UTC)


def run_provider(
    engine: Engine,
    provider: Provider,
    *,
    scope: Scope = Scope(),  # noqa: B008 - frozen
    refresh: bool = False,
    max_requests: int | None = None,
    on_progress: Progress | None = None,
    check_stop: Callable[[], None] | None = None,
    now: Callable[[], datetime] = _now,
    client_factory: Callable[..., Any] | None = None,
) -> ProviderRun:
    """Look up every pending indicator of ``provider``; see the module docstring."""
    started = time.perf_counter()
    run = ProviderRun(provider.name)
    for kind in provider.kinds:
        identity = provider.identity() if isinstance(provider, OfflineProvider) else None
        with engine.connect() as conn:
            todo, in_scope = store.pending(
                conn, provider.name, kind, now(), scope, source=identity, refresh=refresh
            )
            if identity is not None and not todo:  # its full name without loading the data
                run.source = store.stored_source(conn, provider.name, kind, identity) or identity
        if not run.source:
            run.source = provider.source()
        run.in_scope += in_scope
        run.pending += len(todo)
        run.from_cache += in_scope - len(todo)
        if on_progress is not None:
            on_progress(run)
        if isinstance(provider, OfflineProvider):
            _run_offline(engine, provider, kind, todo, run, on_progress, check_stop, now)
        elif isinstance(provider, HttpProvider):
            from cowrieprocessor.enrichment.http import ProviderClient

            factory = client_factory or ProviderClient
            with factory(provider, engine, max_requests=max_requests, now=now) as client:
                _run_online(engine, provider, client, kind, todo, run, on_progress, check_stop, now)
                run.requests = client.requests_sent
                run.budget_left = client.budget_left()
            if run.stopped:
                break
    run.seconds = time.perf_counter() - started
    if on_progress is not None:
        on_progress(run)
    return run


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ttl(provider: Provider, name: str) -> timedelta | None:
    if not isinstance(provider, HttpProvider):
        return None  # offline data does not age; a new data source is looked up again
    return timedelta(hours=float(provider.setting(name)))


def _save(
    engine: Engine, provider: Provider, kind: Kind, results: list[Result], when: datetime
) -> int:
    def write() -> int:
        with store.writing(engine) as conn:
            return store.save(
                conn,
                provider.name,
                kind,
                results,
                when,
                source=provider.source(),
                ttl=_ttl(provider, "ttl_hours"),
                not_found_ttl=_ttl(provider, "not_found_ttl_hours"),
            )

    # A concurrent loader or enrichment run may deadlock with it (PostgreSQL): saved again.
    return with_retries(write)


def _run_offline(
    engine: Engine,
    provider: OfflineProvider,
    kind: Kind,
    todo: list[str],
    run: ProviderRun,
    on_progress: Progress | None,
    check_stop: Callable[[], None] | None,
    now: Callable[[], datetime],
) -> None:
    for chunk in _chunks(todo, OFFLINE_CHUNK):
        results = list(provider.lookup_many(kind, chunk))
        for result in results:
            run.count(result)
        run.changed += _save(engine, provider, kind, results, now())
        if on_progress is not None:
            on_progress(run)
        if check_stop is not None:
            check_stop()


def _run_online(
    engine: Engine,
    provider: HttpProvider,
    client: Any,
    kind: Kind,
    todo: list[str],
    run: ProviderRun,
    on_progress: Progress | None,
    check_stop: Callable[[], None] | None,
    now: Callable[[], datetime],
) -> None:
    """Up to ``concurrency`` lookups in flight; each answer saved as it arrives."""
    workers = max(1, int(provider.setting("concurrency") or 1))
    queue = iter(todo)
    done = 0
    with ThreadPoolExecutor(workers, thread_name_prefix=f"enrich-{provider.name}") as pool:
        flight: set[Future[Result]] = set()
        try:
            while True:
                while not client.stopped and len(flight) < workers:
                    indicator = next(queue, None)
                    if indicator is None:
                        break
                    flight.add(pool.submit(client.lookup, kind, indicator))
                if not flight:
                    break
                finished, flight = wait(flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    if result is None:  # not sent: budget, quota or stop reached first
                        continue
                    done += 1
                    run.count(result)
                    run.changed += _save(engine, provider, kind, [result], now())
                run.requests = client.requests_sent
                if on_progress is not None:
                    on_progress(run)
                if check_stop is not None:
                    check_stop()
        finally:
            client.stop()  # lookups still waiting for the rate limiter give up
            for future in flight:
                future.cancel()
    run.left += len(todo) - done
    if client.stopped_reason and not run.stopped:
        run.stopped = client.stopped_reason


__all__ = ["OFFLINE_CHUNK", "ProviderRun", "run_provider"]
