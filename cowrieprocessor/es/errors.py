"""A failed Elasticsearch request as one clear line: the HTTP status and the server's reason,
or the node and the transport's reason (connection refused, timeout, TLS).

The client's own ``str()`` of these exceptions says ``Connection error`` without node or
reason, and an error answer without a body (every ``HEAD`` request) has no message at all;
:func:`describe_failure` fills both in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TlsError
from elasticsearch import ApiError, Elasticsearch, TransportError

__all__ = ["RequestFailure", "describe_failure"]

#: urllib3 starts a connection error with the node it tried: HTTPConnection(host=.., port=..).
_URLLIB3_NODE_RE = re.compile(r"^(HTTPS?)Connection(?:Pool)?\(host='([^']*)', port=(\d+)\): ")


@dataclass(frozen=True)
class RequestFailure:
    """Why a request failed.

    ``status`` is the HTTP status (``None`` when no answer came), ``error_type`` the
    Elasticsearch error type (``security_exception``, ...), ``connection_error``,
    ``timeout``, ``tls_error``, or ``None`` when the answer named none; ``reason`` the
    server's or the transport's reason, without those prefixes.
    """

    status: int | None
    error_type: str | None
    reason: str

    @property
    def line(self) -> str:
        """``HTTP 401 security_exception: <reason>``, ``HTTP 401 Unauthorized``, or, without
        an answer, the reason alone (it names the node)."""
        if self.status is None:
            return self.reason
        if self.error_type is None:
            return f"HTTP {self.status} {self.reason}"
        return f"HTTP {self.status} {self.error_type}: {self.reason}"


def describe_failure(exc: Exception, client: Elasticsearch | None = None) -> RequestFailure:
    """Describe an exception raised by a client request; ``client`` names the node when the
    exception does not."""
    if isinstance(exc, ApiError):
        return _api_failure(exc)
    if not isinstance(exc, TransportError):
        return RequestFailure(None, type(exc).__name__, f"{type(exc).__name__}: {exc}")
    message = str(exc.message)
    node = _nodes(client)
    match = _URLLIB3_NODE_RE.match(message)
    if match is not None:
        scheme, host, port = match.group(1).lower(), match.group(2), match.group(3)
        node = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
        message = message[match.end() :]
    if isinstance(exc, ConnectionTimeout):
        return RequestFailure(None, "timeout", f"request to {node} timed out: {message}")
    if isinstance(exc, TlsError):
        return RequestFailure(None, "tls_error", f"TLS error with {node}: {message}")
    if isinstance(exc, TransportConnectionError):
        return RequestFailure(None, "connection_error", f"connection error with {node}: {message}")
    return RequestFailure(None, type(exc).__name__, f"{type(exc).__name__} with {node}: {message}")


def _api_failure(exc: ApiError) -> RequestFailure:
    status = exc.meta.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "error"
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    if isinstance(error, dict):
        error_type, reason = error.get("type"), error.get("reason")
        return RequestFailure(
            status, str(error_type) if error_type else None, str(reason) if reason else phrase
        )
    if isinstance(error, str) and error:
        return RequestFailure(status, None, error)
    # no body (HEAD requests), or one that is not Elasticsearch's (a proxy's HTML page)
    return RequestFailure(status, None, phrase)


def _nodes(client: Elasticsearch | None) -> str:
    if client is None:
        return "Elasticsearch"
    return ", ".join(node.base_url for node in client.transport.node_pool.all())
