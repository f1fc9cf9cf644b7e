"""Sending online lookups: rate limits, daily budgets, timeouts and retries.

One :class:`ProviderClient` per provider and run. Every request, retries included, first
takes a place in the provider's rate window (``pyrate-limiter``, sliding window of
``rate_limit`` requests per ``rate_period`` seconds) and in its daily budget (UTC day),
then is written to ``enrichment_requests`` and committed before it leaves: both limits
hold across runs and across a run killed midway. Answers go through ``httpx`` with a
timeout; ``tenacity`` retries timeouts, connection errors, 5xx and 429 with exponential
backoff and jitter, honouring ``Retry-After``. A 429 that outlasts the retries, or an
answer the provider reads as "quota exhausted", stops the provider for this run; so does
a rejected key (401/403). Keys travel only in the provider's auth header and never appear
in a message, a status file or a repr.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx
import orjson
from pyrate_limiter import InMemoryBucket, Limiter, Rate, RateItem
from sqlalchemy import Engine
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from cowrieprocessor import __version__
from cowrieprocessor.enrichment import store
from cowrieprocessor.enrichment.base import MAX_BODY, HttpProvider, Kind, Result
from cowrieprocessor.secrets import Redactor

#: Milliseconds added to every rate-limit wait: the stand-in (or the real API) counts a
#: request when it arrives, a little after it was admitted here.
RATE_MARGIN_MS = 250


class Retryable(Exception):
    """A failure worth another try (timeout, connection error, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Stop(Exception):
    """The provider cannot go on in this run (budget, quota, bad key)."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ProviderClient:
    """Looks up indicators of one provider; thread-safe (bounded concurrency)."""

    def __init__(
        self,
        provider: HttpProvider,
        engine: Engine,
        *,
        max_requests: int | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.provider = provider
        self.engine = engine
        self.now = now
        self.max_requests = max_requests
        self.requests_sent = 0
        self.stopped_reason: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.rate_limit = int(provider.setting("rate_limit"))
        self.rate_period = float(provider.setting("rate_period"))
        budget = provider.setting("daily_budget")
        self.daily_budget: int | None = None if budget is None else int(budget)
        self.retries = int(provider.setting("retries"))
        self.max_retry_after = float(provider.setting("max_retry_after") or 120.0)
        backoff = float(provider.setting("backoff") or 1.0)
        # Exponential backoff (backoff, 2 x backoff, ... at most 30 s) plus up to as much jitter.
        self._backoff = wait_exponential(multiplier=backoff, max=30) + wait_random(0, backoff)
        key = provider.settings.get("key")
        headers = {"User-Agent": self._user_agent(), "Accept": "application/json"}
        secret = key.reveal() if key is not None else None
        if secret is not None and provider.auth_header:
            headers[provider.auth_header] = secret
        #: Masks the key in every reason and message this client hands out (defence in depth:
        #: none is built from headers, but an API could echo the key in an error body).
        self.redact = Redactor([secret])
        self._client = httpx.Client(
            base_url=str(provider.setting("url")).rstrip("/"),
            headers=headers,
            timeout=float(provider.setting("timeout")),
            follow_redirects=False,
        )
        self._bucket = InMemoryBucket([Rate(self.rate_limit, int(self.rate_period * 1000))])
        self._used_today = self._load_history()
        self._limiter = Limiter(self._bucket, buffer_ms=RATE_MARGIN_MS)

    def _user_agent(self) -> str:
        extra = self.provider.user_agent_extra()
        return f"cowrieprocessor/{__version__}" + (f" ({extra})" if extra else "")

    def _load_history(self) -> int:
        """Seed the rate window with the requests of earlier runs; return today's count."""
        now = self.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        window_start = now - timedelta(seconds=self.rate_period)
        with self.engine.begin() as conn:
            store.prune_requests(conn, min(midnight, window_start) - timedelta(days=1))
            sent = store.requests_since(conn, self.provider.name, min(midnight, window_start))
        mono_now = time.monotonic_ns() // 1_000_000
        for at in sent:
            if at >= window_start:  # as if sent on this process's monotonic clock
                age_ms = int((now - at).total_seconds() * 1000)
                self._bucket.items.append(RateItem(self.provider.name, mono_now - age_ms))
        return sum(1 for at in sent if at >= midnight)

    # -- budget ---------------------------------------------------------------------------

    def budget_left(self) -> int | None:
        """Requests left in today's budget (None: no daily budget)."""
        if self.daily_budget is None:
            return None
        return max(0, self.daily_budget - self._used_today)

    def stop(self, reason: str | None = None) -> None:
        """Stop sending (lookups waiting for the rate limiter give up)."""
        if reason and self.stopped_reason is None:
            self.stopped_reason = self.redact.text(reason)
        self._stop.set()

    @property
    def stopped(self) -> bool:
        """Whether the client stopped sending."""
        return self._stop.is_set()

    def _take_slot(self) -> None:
        """Wait for a place in the rate window and the budget; record the request."""
        with self._lock:  # one waiter at a time keeps the window order simple
            if self._stop.is_set():
                raise Stop(self.stopped_reason or "stopped")
            if self.daily_budget is not None and self._used_today >= self.daily_budget:
                raise Stop(f"daily budget of {self.daily_budget} requests reached")
            if self.max_requests is not None and self.requests_sent >= self.max_requests:
                raise Stop(f"--max-requests {self.max_requests} reached")
            while not self._limiter.try_acquire(self.provider.name, blocking=True, timeout=1):
                if self._stop.is_set():
                    raise Stop(self.stopped_reason or "stopped")
            with store.writing(self.engine) as conn:
                store.record_request(conn, self.provider.name, self.now())
            self._used_today += 1
            self.requests_sent += 1

    # -- lookups --------------------------------------------------------------------------

    def lookup(self, kind: Kind, indicator: str) -> Result | None:
        """The result for ``indicator``; None when no request could be sent (stopped)."""
        result = self._lookup(kind, indicator)
        if result is not None and result.reason:
            result = replace(result, reason=self.redact.text(result.reason))
        return result

    def _lookup(self, kind: Kind, indicator: str) -> Result | None:
        skip = self.provider.precheck(kind, indicator)
        if skip is not None:
            return skip
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(Retryable),
            reraise=True,
            sleep=self._sleep,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(kind, indicator)
        except Retryable as exc:
            if exc.reason.startswith("HTTP 429"):  # still limited after the retries
                self.stop("quota or rate limit exhausted (HTTP 429)")
                return None
            return Result.error(indicator, exc.reason)
        except Stop as exc:
            self.stop(str(exc))
            return None
        return None  # pragma: no cover - tenacity either returns or raises

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise Stop(self.stopped_reason or "stopped")

    def _wait(self, state: RetryCallState) -> float:
        backoff = self._backoff(state)
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            if exc.retry_after > self.max_retry_after:
                raise Stop(f"quota exhausted: asked to wait {exc.retry_after:.0f} s (Retry-After)")
            return exc.retry_after
        return backoff

    def _once(self, kind: Kind, indicator: str) -> Result:
        spec = self.provider.request(kind, indicator)
        self._take_slot()
        try:
            with self._client.stream(
                spec.method, spec.path, params=spec.params, data=spec.form
            ) as response:
                body = self._read(response)
        except httpx.TimeoutException:
            raise Retryable("timed out") from None
        except httpx.TransportError as exc:
            raise Retryable(f"connection failed: {type(exc).__name__}") from None
        status = response.status_code
        if body is None:
            return Result.error(indicator, f"answer larger than {MAX_BODY} bytes")
        parsed = _json(body)
        if self.provider.quota_exhausted(status, parsed):
            raise Stop(f"quota exhausted (HTTP {status})")
        if status == 429:
            raise Retryable("HTTP 429", _retry_after(response))
        if status >= 500:
            raise Retryable(f"HTTP {status}", _retry_after(response))
        if status in (401, 403):
            raise Stop(f"key rejected (HTTP {status})")
        if status not in (200, 404) and not 200 <= status < 300:
            return Result.error(indicator, f"HTTP {status}")
        if parsed is _INVALID:
            kind_of = "HTML" if body.lstrip()[:1] == b"<" else "not valid JSON"
            return Result.error(indicator, f"answer is {kind_of} (HTTP {status})")
        try:
            return self.provider.parse(kind, indicator, status, parsed)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return Result.error(indicator, f"unexpected answer: {type(exc).__name__}")

    @staticmethod
    def _read(response: httpx.Response) -> bytes | None:
        """The body, or None when it is larger than :data:`MAX_BODY` (not read further)."""
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    # -- life -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP client and the limiter."""
        self._stop.set()
        self._client.close()
        self._limiter.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ProviderClient({self.provider.name!r})"


_INVALID: Any = object()


def _json(body: bytes) -> Any:
    if not body.strip():
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _INVALID
