"""Local stand-ins for the online enrichment providers, speaking real HTTP on 127.0.0.1.

One server class per API, each with the real request and response shapes:

* :class:`FakeDShield`: ``GET /api/ip/<ip>?json``, wants a contact e-mail in the
  User-Agent (403 otherwise); unknown IPs answer ``{"ip": {"number": ip, "count": null,
  "attacks": null}}``.
* :class:`FakeVirusTotal`: ``GET /api/v3/files/<sha256>`` with ``x-apikey``; 404
  ``NotFoundError``, 401 ``WrongCredentialsError``, 429 ``QuotaExceededError``.
* :class:`FakeURLhaus`: ``POST /v1/url/`` and ``/v1/payload/`` (form bodies) with
  ``Auth-Key``; ``{"query_status": "no_results"}`` when unknown.
* :class:`FakeSpur`: ``GET /v2/context/<ip>`` with ``Token``; 404 when unknown, 402 when
  the balance is spent.
* :class:`FakeGreyNoise`: ``GET /v3/community/<ip>`` (``key`` optional); 404 "not
  observed", 429 with the daily-limit message.

Every request is recorded with its arrival time (:attr:`FakeProviderServer.requests`), and
:meth:`~FakeProviderServer.max_in_window` says the most requests that arrived within any
window of a given length: what a provider's rate limit counts. Faults are scriptable:
:meth:`~FakeProviderServer.fail_next` (any status, with ``Retry-After``), ``slow_next``
(answers after a delay: timeouts), ``html_next``, ``truncate_next`` (JSON cut short),
``huge_next`` (a body over the client's limit) and ``exhaust_quota``.

Example::

    with FakeVirusTotal(key="k") as vt:
        vt.files["ab" * 32] = FakeVirusTotal.file_report("ab" * 32, malicious=3)
        vt.fail_next(429, retry_after=1)
        ...  # point COWRIE_ENRICH_VIRUSTOTAL_URL at vt.url + "/api/v3"
        assert vt.max_in_window(60) <= 4
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

__all__ = [
    "FakeDShield",
    "FakeGreyNoise",
    "FakeProviderServer",
    "FakeSpur",
    "FakeURLhaus",
    "FakeVirusTotal",
    "Received",
]


@dataclass(frozen=True)
class Received:
    """One request as the server saw it; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float

    def form(self) -> dict[str, str]:
        """The form-encoded body as a flat mapping."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}


@dataclass
class _Fault:
    kind: str  # status | slow | html | truncate | huge
    status: int = 500
    retry_after: str | None = None
    body: Any = None
    seconds: float = 0.0


Answer = tuple[int, Any, dict[str, str]]


@dataclass
class FakeProviderServer:
    """Base of the stand-ins: HTTP server, request log, faults."""

    key: str | None = None
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: deque[_Fault] = deque()
        self._quota_exhausted = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on an ephemeral port of 127.0.0.1."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- faults ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: float | str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``)."""
        header = None if retry_after is None else str(retry_after)
        for _ in range(times):
            self._faults.append(_Fault("status", status, header, body))

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """Answer the next ``times`` requests only after ``seconds``."""
        self._faults.extend(_Fault("slow", seconds=seconds) for _ in range(times))

    def html_next(self, times: int = 1) -> None:
        """Answer the next requests with an HTML error page (status 200, like a proxy)."""
        self._faults.extend(_Fault("html") for _ in range(times))

    def truncate_next(self, times: int = 1) -> None:
        """Answer the next requests with their JSON cut in the middle."""
        self._faults.extend(_Fault("truncate") for _ in range(times))

    def huge_next(self, times: int = 1, size: int = 3 << 20) -> None:
        """Answer the next requests with a JSON body of ``size`` bytes."""
        self._faults.extend(_Fault("huge", seconds=size) for _ in range(times))

    def exhaust_quota(self) -> None:
        """From now on every request gets the API's "quota exhausted" answer."""
        self._quota_exhausted = True

    # -- counting -------------------------------------------------------------------------

    def max_in_window(self, seconds: float) -> int:
        """The most requests that arrived within any ``seconds``-long window."""
        times = sorted(r.at for r in self.requests)
        best, start = 0, 0
        for end, t in enumerate(times):
            while t - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def lookups(self) -> list[Received]:
        """Requests that reached the API (not refused for their key)."""
        return [r for r in self.requests if self.authorised(r)]

    # -- API ------------------------------------------------------------------------------

    def authorised(self, request: Received) -> bool:
        """Whether the request carries the expected key (no key expected: always)."""
        return self.key is None or request.headers.get(self.auth_header.lower()) == self.key

    auth_header = "authorization"

    def unauthorised(self) -> Answer:
        return 401, {"error": "unauthorised"}, {}

    def quota_answer(self) -> Answer:
        return 429, {"error": "quota exceeded"}, {}

    def answer(self, request: Received) -> Answer:
        """The API's answer to an authorised request."""
        raise NotImplementedError

    def handle(self, request: Received) -> tuple[int, bytes, dict[str, str]]:
        with self._lock:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "status":
            headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
            body = fault.body if fault.body is not None else {"error": f"status {fault.status}"}
            return fault.status, orjson.dumps(body), headers
        if fault is not None and fault.kind == "html":
            page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return 200, page, {"Content-Type": "text/html"}
        if fault is not None and fault.kind == "huge":
            return 200, b'{"pad": "' + b"x" * int(fault.seconds) + b'"}', {}
        if not self.authorised(request):
            status, body, headers = self.unauthorised()
        elif self._quota_exhausted:
            status, body, headers = self.quota_answer()
        else:
            status, body, headers = self.answer(request)
        data = orjson.dumps(body)
        if fault is not None and fault.kind == "truncate":
            data = data[: max(1, len(data) // 2)]
        return status, data, headers


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout) is no error worth printing."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProviderServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Received(
            self.command,
            unquote(parts.path),
            parse_qs(parts.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
            time.monotonic(),
        )
        status, data, headers = self.fake.handle(request)
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(ConnectionError):  # the client gave up (a timeout)
            self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve


def _not_routed(request: Received) -> Answer:
    return 404, {"error": f"no route {request.method} {request.path}"}, {}


@dataclass
class FakeDShield(FakeProviderServer):
    """ISC's ``/api/ip/<ip>?json``; ``ips`` maps an IP to its ``ip`` object."""

    ips: dict[str, dict[str, Any]] = field(default_factory=dict)

    @staticmethod
    def report(
        ip: str, count: int, attacks: int, asn: int = 64500, asname: str = "EXAMPLE"
    ) -> dict:
        """An ``ip`` object as ISC returns it."""
        return {
            "number": ip,
            "count": count,
            "attacks": attacks,
            "maxdate": "2024-03-01",
            "mindate": "2024-02-01",
            "updated": "2024-03-02 03:00:00",
            "as": asn,
            "asname": asname,
            "ascountry": "NL",
            "threatfeeds": {},
        }

    def authorised(self, request: Received) -> bool:
        return "@" in request.headers.get("user-agent", "")  # ISC wants a contact e-mail

    def unauthorised(self) -> Answer:
        return 403, {"error": "Please add a contact e-mail to your User-Agent"}, {}

    def answer(self, request: Received) -> Answer:
        if request.method != "GET" or not request.path.startswith("/api/ip/"):
            return _not_routed(request)
        if "json" not in request.query:
            return 200, {"error": "XML is the default: ask for ?json"}, {}
        ip = request.path.removeprefix("/api/ip/")
        found = self.ips.get(ip, {"number": ip, "count": None, "attacks": None})
        return 200, {"ip": found}, {}


@dataclass
class FakeVirusTotal(FakeProviderServer):
    """VirusTotal v3 ``/api/v3/files/<sha256>``; ``files`` maps a hash to its ``data``."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_header = "x-apikey"

    @staticmethod
    def file_report(
        sha256: str, malicious: int, label: str | None = None, first_submission: int = 1700000000
    ) -> dict:
        """A ``data`` object as VirusTotal returns it for a file."""
        attributes: dict[str, Any] = {
            "last_analysis_stats": {
                "malicious": malicious,
                "suspicious": 0,
                "undetected": 60 - malicious,
                "harmless": 0,
                "timeout": 0,
            },
            "first_submission_date": first_submission,
            "sha256": sha256,
        }
        if label is not None:
            attributes["popular_threat_classification"] = {"suggested_threat_label": label}
        return {"id": sha256, "type": "file", "attributes": attributes}

    def unauthorised(self) -> Answer:
        error = {"code": "WrongCredentialsError", "message": "Wrong API key"}
        return 401, {"error": error}, {}

    def quota_answer(self) -> Answer:
        error = {"code": "QuotaExceededError", "message": "Quota exceeded"}
        return 429, {"error": error}, {}

    def answer(self, request: Received) -> Answer:
        if request.method != "GET" or not request.path.startswith("/api/v3/files/"):
            return _not_routed(request)
        sha = request.path.removeprefix("/api/v3/files/")
        if sha not in self.files:
            error = {"code": "NotFoundError", "message": f'File "{sha}" not found'}
            return 404, {"error": error}, {}
        return 200, {"data": self.files[sha]}, {}


@dataclass
class FakeURLhaus(FakeProviderServer):
    """URLhaus ``/v1/url/`` and ``/v1/payload/``; ``urls`` and ``payloads`` hold answers."""

    urls: dict[str, dict[str, Any]] = field(default_factory=dict)
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_header = "auth-key"

    @staticmethod
    def url_report(url: str, tags: list[str], status: str = "online") -> dict:
        """A ``/v1/url/`` answer."""
        return {
            "query_status": "ok",
            "id": "123",
            "urlhaus_reference": "https://urlhaus.abuse.ch/url/123/",
            "url": url,
            "url_status": status,
            "threat": "malware_download",
            "tags": tags,
            "payloads": [],
        }

    def unauthorised(self) -> Answer:
        return 401, {"query_status": "unknown_auth_key"}, {}

    def answer(self, request: Received) -> Answer:
        form = request.form()
        if request.method == "POST" and request.path == "/v1/url/":
            url = form.get("url")
            if not url:
                return 200, {"query_status": "invalid_url"}, {}
            return 200, self.urls.get(url, {"query_status": "no_results"}), {}
        if request.method == "POST" and request.path == "/v1/payload/":
            sha = form.get("sha256_hash", "")
            return 200, self.payloads.get(sha, {"query_status": "no_results"}), {}
        return _not_routed(request)


@dataclass
class FakeSpur(FakeProviderServer):
    """SPUR ``/v2/context/<ip>``; ``contexts`` maps an IP to its context."""

    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_header = "token"

    @staticmethod
    def context(ip: str, infrastructure: str, tunnels: list[dict[str, Any]]) -> dict:
        """A context as SPUR returns it."""
        return {
            "ip": ip,
            "as": {"number": 64501, "organization": "Example Hosting"},
            "infrastructure": infrastructure,
            "tunnels": tunnels,
            "location": {"country": "DE", "city": "Frankfurt"},
            "risks": ["TUNNEL"] if tunnels else [],
        }

    def quota_answer(self) -> Answer:
        return 402, {"error": "insufficient balance"}, {}

    def answer(self, request: Received) -> Answer:
        if request.method != "GET" or not request.path.startswith("/v2/context/"):
            return _not_routed(request)
        ip = request.path.removeprefix("/v2/context/")
        if ip not in self.contexts:
            return 404, {"error": "not found"}, {}
        return 200, self.contexts[ip], {}


@dataclass
class FakeGreyNoise(FakeProviderServer):
    """GreyNoise community ``/v3/community/<ip>``; ``ips`` maps an IP to its answer."""

    ips: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_header = "key"

    @staticmethod
    def community(ip: str, classification: str, noise: bool = True, riot: bool = False) -> dict:
        """A community answer for an observed IP."""
        return {
            "ip": ip,
            "noise": noise,
            "riot": riot,
            "classification": classification,
            "name": "unknown",
            "link": f"https://viz.greynoise.io/ip/{ip}",
            "last_seen": "2024-03-01",
            "message": "Success",
        }

    def quota_answer(self) -> Answer:
        message = "You have hit your daily rate limit of 100 requests per day."
        return (
            429,
            {"plan": "unauthenticated", "rate-limit": "100-lookups/day", "message": message},
            {},
        )

    def answer(self, request: Received) -> Answer:
        if request.method != "GET" or not request.path.startswith("/v3/community/"):
            return _not_routed(request)
        ip = request.path.removeprefix("/v3/community/")
        if ip not in self.ips:
            message = "IP not observed scanning the internet or contained in RIOT data set."
            return 404, {"ip": ip, "noise": False, "riot": False, "message": message}, {}
        return 200, self.ips[ip], {}
