"""A fake Elasticsearch 8.x server for tests, speaking real HTTP on 127.0.0.1.

It implements the small REST subset that :mod:`cowrieprocessor.es.publisher` and
:mod:`cowrieprocessor.es.setup` use through the official ``elasticsearch`` 8.x client:

* ``GET /`` (root info, version 8.x) and ``X-Elastic-Product: Elasticsearch`` on every response;
* ``POST|PUT /_bulk`` and ``/<index>/_bulk`` (``index``, ``create`` and ``delete`` actions);
* ``PUT|GET|HEAD|DELETE /_index_template/<name>`` and ``PUT|GET|DELETE /_ilm/policy/<name>``;
* ``PUT|HEAD|GET|DELETE /<index>`` (create with ``aliases``/``mappings``/``settings``);
* ``HEAD|GET /_alias/<name>``, ``GET /<index>/_doc/<id>``, ``GET /<index>/_count``,
  ``POST /<index>/_refresh``.

Documents are stored per concrete index keyed by ``_id``; writes to an alias go to its write
index, so a test can assert that every document exists exactly once. Indices created
implicitly (a bulk write to an unknown name) or explicitly take their mappings and settings
from the matching index template, like Elasticsearch does. With ``validate_mappings=True``
(the default) every document is checked against the index mapping: unknown fields below a
``dynamic: strict`` object are rejected with ``strict_dynamic_mapping_exception`` and values
of the wrong type with ``mapper_parsing_exception``. The check is deliberately stricter than
Elasticsearch: there is no coercion (``"12"`` is not a ``long``, ``1`` is not a ``keyword``).

Faults are scriptable per test, see :meth:`FakeElasticsearch.fail_items`,
:meth:`~FakeElasticsearch.fail_requests`, :meth:`~FakeElasticsearch.drop_connections`,
:meth:`~FakeElasticsearch.reject_documents` and :meth:`~FakeElasticsearch.delay_responses`;
:meth:`~FakeElasticsearch.require_auth` turns security on (401 ``security_exception``
answers to requests without the right credentials).
Every request is recorded in :attr:`FakeElasticsearch.requests`.

Example::

    from elasticsearch import Elasticsearch
    from cowrieprocessor.testing.es_server import FakeElasticsearch

    with FakeElasticsearch() as server:
        server.fail_items({"s1:daily:2024-05-01"}, times=2)   # item-level 429 twice
        client = Elasticsearch(server.url)
        ...
        assert server.documents("cowrie.reports.daily-write").keys() == {...}
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import fnmatch
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

__all__ = [
    "CONTENT_TYPE",
    "ES_VERSION",
    "FakeElasticsearch",
    "FakeIndex",
    "RecordedRequest",
    "validate_document",
]

#: Version number reported by ``GET /``.
ES_VERSION = "8.15.0"
#: Content type of every JSON response (what an 8.x server sends to an 8.x client).
CONTENT_TYPE = "application/vnd.elasticsearch+json;compatible-with=8"

DocumentMatch = Callable[[str, Mapping[str, Any]], bool] | Collection[str]
"""Selects documents: a predicate ``(doc_id, source) -> bool`` or a collection of ids."""

_PATH_MATCH_ANY = "*"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        return orjson.loads(self.body) if self.body else None

    def ndjson(self) -> list[Any]:
        """The body parsed as NDJSON lines."""
        return [orjson.loads(line) for line in self.body.splitlines() if line.strip()]


@dataclass
class FakeIndex:
    """A concrete index: mappings, settings and documents keyed by ``_id``."""

    name: str
    mappings: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


@dataclass
class _ItemFault:
    match: DocumentMatch
    times: int
    status: int
    error_type: str
    seen: dict[str, int] = field(default_factory=dict)


@dataclass
class _RequestFault:
    kind: str  # "status" | "drop" | "delay"
    times: int | None
    path_contains: str
    status: int = 503
    seconds: float = 0.0
    after_processing: bool = False


class _ApiError(Exception):
    def __init__(self, status: int, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason

    def body(self) -> dict[str, Any]:
        cause = {"type": self.error_type, "reason": self.reason}
        return {"error": {"root_cause": [cause], **cause}, "status": self.status}


class _DropConnection(Exception):
    pass


def _matches(match: DocumentMatch, doc_id: str, source: Mapping[str, Any]) -> bool:
    if callable(match):
        return bool(match(doc_id, source))
    return doc_id in match


# --------------------------------------------------------------------------- mapping checks


def _merge_settings(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    """Merge (possibly dotted, possibly ``index.``-less) settings into a nested dict."""
    for key, value in source.items():
        if isinstance(value, Mapping):
            sub = target.setdefault(key, {})
            _merge_settings(sub, value)
        else:
            parts = key.split(".")
            node = target
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value


def _check_value(ftype: str, value: Any) -> bool:
    if ftype in ("keyword", "text", "match_only_text", "wildcard"):
        return isinstance(value, str)
    if ftype in ("long", "integer", "short", "byte"):
        return isinstance(value, int) and not isinstance(value, bool)
    if ftype in ("double", "float", "half_float", "scaled_float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if ftype == "boolean":
        return isinstance(value, bool)
    if ftype == "date":
        if isinstance(value, int) and not isinstance(value, bool):
            return True
        if not isinstance(value, str):
            return False
        try:
            if len(value) == 10:
                date.fromisoformat(value)
            else:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if ftype == "flattened":
        return isinstance(value, dict)
    return True  # types this fake does not know are accepted


def validate_document(mappings: Mapping[str, Any], source: Mapping[str, Any]) -> str | None:
    """Check ``source`` against ``mappings``; return ``"<error type>: <reason>"`` or ``None``.

    Honours ``properties``, ``dynamic`` (``strict``/``true``/``false``, inherited by
    sub-objects), ``dynamic_templates`` with ``path_match`` and a ``mapping.type``, and the
    field types used by the report templates. ``null`` is accepted everywhere; arrays are
    checked element by element.
    """
    if not mappings:
        return None
    templates = [
        next(iter(entry.values())) for entry in mappings.get("dynamic_templates", []) if entry
    ]
    root_dynamic = str(mappings.get("dynamic", "true")).lower()
    return _validate_object(mappings, source, "", root_dynamic, templates)


def _validate_object(
    mapping: Mapping[str, Any],
    obj: Mapping[str, Any],
    prefix: str,
    inherited_dynamic: str,
    templates: list[Mapping[str, Any]],
) -> str | None:
    dynamic = str(mapping.get("dynamic", inherited_dynamic)).lower()
    props = mapping.get("properties", {})
    for key, value in obj.items():
        path = f"{prefix}{key}"
        if key in props:
            error = _validate_field(props[key], value, path, dynamic, templates)
        else:
            error = _validate_dynamic(value, path, prefix, dynamic, templates)
        if error:
            return error
    return None


def _validate_dynamic(
    value: Any,
    path: str,
    prefix: str,
    dynamic: str,
    templates: list[Mapping[str, Any]],
) -> str | None:
    if value is None or dynamic == "false":
        return None
    if dynamic == "strict":
        within = prefix[:-1] if prefix else "_doc"
        name = path.rsplit(".", 1)[-1]
        return (
            f"strict_dynamic_mapping_exception: mapping set to strict, dynamic introduction "
            f"of [{name}] within [{within}] is not allowed"
        )
    for template in templates:
        pattern = template.get("path_match", _PATH_MATCH_ANY)
        if fnmatch.fnmatchcase(path, pattern):
            return _validate_field(template.get("mapping", {}), value, path, dynamic, templates)
    return None


def _validate_field(
    mapping: Mapping[str, Any],
    value: Any,
    path: str,
    dynamic: str,
    templates: list[Mapping[str, Any]],
) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        for element in value:
            error = _validate_field(mapping, element, path, dynamic, templates)
            if error:
                return error
        return None
    ftype = mapping.get("type", "object" if "properties" in mapping else None)
    if ftype in ("object", "nested") or (ftype is None and isinstance(value, dict)):
        if not isinstance(value, dict):
            return (
                f"mapper_parsing_exception: object mapping for [{path}] tried to parse field "
                f"[{path.rsplit('.', 1)[-1]}] as object, but found a concrete value"
            )
        return _validate_object(mapping, value, f"{path}.", dynamic, templates)
    if ftype is None:
        return None
    if isinstance(value, dict) and ftype != "flattened":
        return f"mapper_parsing_exception: failed to parse field [{path}] of type [{ftype}]"
    if not _check_value(ftype, value):
        preview = repr(value)[:40]
        return (
            f"mapper_parsing_exception: failed to parse field [{path}] of type [{ftype}]. "
            f"Preview of field's value: {preview}"
        )
    return None


# --------------------------------------------------------------------------- the server


class FakeElasticsearch:
    """A fake Elasticsearch 8.x server on ``127.0.0.1`` (port 0), run in a background thread.

    Use as a context manager; :attr:`url` is the address to give the client. All state lives
    on the instance and is guarded by a lock, so tests may inspect it while requests run.
    """

    def __init__(
        self,
        *,
        validate_mappings: bool = True,
        version: str = ES_VERSION,
        product_header: bool = True,
    ) -> None:
        self.validate_mappings = validate_mappings
        self.version = version
        self.product_header = product_header
        self.indices: dict[str, FakeIndex] = {}
        self.aliases: dict[str, dict[str, dict[str, Any]]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.policies: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        #: Unexpected exceptions raised while handling requests (answered with HTTP 500).
        self.errors: list[Exception] = []
        self._item_faults: list[_ItemFault] = []
        self._request_faults: list[_RequestFault] = []
        self._credentials: set[str] = set()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeElasticsearch:
        """Bind to an ephemeral port and serve in a daemon thread."""
        handler = type("_Handler", (_Handler,), {"fake": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeElasticsearch:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("server is not running")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ fault injection

    def fail_items(
        self,
        match: DocumentMatch,
        *,
        times: int = 1,
        status: int = 429,
        error_type: str = "es_rejected_execution_exception",
    ) -> None:
        """Reject matching bulk items with an item-level ``status`` the first ``times`` times
        each document id is seen (the default is a 429 rejection, as from a full write queue).
        """
        with self._lock:
            self._item_faults.append(_ItemFault(match, times, status, error_type))

    def reject_documents(
        self,
        match: DocumentMatch,
        *,
        error_type: str = "mapper_parsing_exception",
        reason: str = "failed to parse (injected)",
    ) -> None:
        """Permanently reject matching bulk items with a 400 ``error_type``."""
        with self._lock:
            self._item_faults.append(
                _ItemFault(match, times=-1, status=400, error_type=f"{error_type}\0{reason}")
            )

    def fail_requests(
        self, *, times: int = 1, status: int = 503, path_contains: str = "_bulk"
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_contains`` with an
        error ``status`` (503, 429, 502, 504, ...) without processing them."""
        with self._lock:
            self._request_faults.append(
                _RequestFault("status", times, path_contains, status=status)
            )

    def drop_connections(
        self, *, times: int = 1, path_contains: str = "_bulk", after_processing: bool = False
    ) -> None:
        """Close the socket without any response for the next ``times`` matching requests.

        With ``after_processing=True`` the request is applied first (the client cannot know
        whether it was), which exercises idempotent retries.
        """
        with self._lock:
            self._request_faults.append(
                _RequestFault("drop", times, path_contains, after_processing=after_processing)
            )

    def delay_responses(
        self, seconds: float, *, times: int | None = 1, path_contains: str = "_bulk"
    ) -> None:
        """Delay the response to the next ``times`` matching requests (``None``: all).

        The request is processed before the delay, like a slow cluster that still indexes.
        """
        with self._lock:
            self._request_faults.append(
                _RequestFault("delay", times, path_contains, seconds=seconds)
            )

    def require_auth(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        api_key: str | None = None,
    ) -> None:
        """Accept only requests that carry these credentials, as a cluster with security on.

        Basic auth ``username``/``password`` and an API key (the ``Authorization: ApiKey``
        value) are each accepted when given. Any other request is answered with a 401
        ``security_exception`` whose reason names the user and the request, and a
        ``WWW-Authenticate`` header; the answer to ``HEAD`` has no body, as Elasticsearch's.
        """
        with self._lock:
            if username is not None:
                pair = f"{username}:{password or ''}".encode()
                self._credentials.add("Basic " + base64.b64encode(pair).decode())
            if api_key is not None:
                self._credentials.add(f"ApiKey {api_key}")

    def _auth_failure(self, authorization: str | None, uri: str) -> _ApiError | None:
        with self._lock:
            if not self._credentials or authorization in self._credentials:
                return None
        scheme, _, value = (authorization or "").partition(" ")
        if not value:
            reason = f"missing authentication credentials for REST request [{uri}]"
        elif scheme == "Basic":
            try:
                user = base64.b64decode(value, validate=True).decode().partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                user = "?"
            reason = f"unable to authenticate user [{user}] for REST request [{uri}]"
        else:
            reason = (
                "unable to authenticate with provided credentials and anonymous access is "
                f"not allowed for this request [{uri}]"
            )
        return _ApiError(401, "security_exception", reason)

    def reset_faults(self) -> None:
        """Forget all scripted faults."""
        with self._lock:
            self._item_faults.clear()
            self._request_faults.clear()

    # ------------------------------------------------------------------ inspection

    def resolve(self, name: str, *, for_write: bool = False) -> list[str]:
        """Concrete index names behind ``name`` (an index or an alias)."""
        with self._lock:
            if name in self.indices:
                return [name]
            members = self.aliases.get(name)
            if not members:
                return []
            if for_write:
                writers = [i for i, opts in members.items() if opts.get("is_write_index")]
                if writers:
                    return writers[:1]
                return list(members) if len(members) == 1 else []
            return list(members)

    def documents(self, name: str) -> dict[str, dict[str, Any]]:
        """All documents (``_id`` -> source) in an index or behind an alias."""
        with self._lock:
            result: dict[str, dict[str, Any]] = {}
            for index in self.resolve(name):
                result.update(copy.deepcopy(self.indices[index].docs))
            return result

    def all_documents(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every stored document as ``(index, _id, source)``."""
        with self._lock:
            items = [
                (index.name, doc_id, copy.deepcopy(src))
                for index in self.indices.values()
                for doc_id, src in index.docs.items()
            ]
        return iter(items)

    def version_of(self, name: str, doc_id: str) -> int | None:
        """The ``_version`` of a stored document (counts successful writes)."""
        with self._lock:
            for index in self.resolve(name):
                if doc_id in self.indices[index].versions:
                    return self.indices[index].versions[doc_id]
        return None

    def bulk_requests(self) -> list[RecordedRequest]:
        """The recorded ``_bulk`` requests."""
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/").endswith("_bulk")]

    # ------------------------------------------------------------------ request handling

    def _take_request_fault(self, path: str, kind: str) -> _RequestFault | None:
        with self._lock:
            for fault in self._request_faults:
                if fault.kind != kind or fault.path_contains not in path:
                    continue
                if fault.times is None:
                    return fault
                if fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        """Dispatch one request; returns ``(status, json body)``; may raise ``_DropConnection``."""
        fault = self._take_request_fault(path, "status")
        if fault is not None:
            try:
                phrase = HTTPStatus(fault.status).phrase
            except ValueError:
                phrase = "error"
            err = _ApiError(fault.status, "injected_fault", f"injected {fault.status} {phrase}")
            return fault.status, err.body()
        drop = self._take_request_fault(path, "drop")
        if drop is not None and not drop.after_processing:
            raise _DropConnection
        delay = self._take_request_fault(path, "delay")
        try:
            status, payload = self._route(method, path, query, body)
        except _ApiError as err:
            status, payload = err.status, err.body()
        if drop is not None:
            raise _DropConnection
        if delay is not None:
            self._wait(delay.seconds)
        return status, payload

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        data = orjson.loads(body) if body and parts[-1:] != ["_bulk"] else None
        with self._lock:
            if not parts:
                return 200, self._info()
            if parts == ["_bulk"]:
                return 200, self._bulk(None, body)
            if len(parts) == 2 and parts[1] == "_bulk":
                return 200, self._bulk(parts[0], body)
            if parts[0] == "_index_template" and len(parts) == 2:
                return self._template(method, parts[1], data)
            if parts[:2] == ["_ilm", "policy"] and len(parts) == 3:
                return self._policy(method, parts[2], data)
            if parts[0] == "_alias" and len(parts) == 2:
                return self._alias(parts[1])
            if len(parts) == 3 and parts[1] == "_doc":
                return self._get_doc(parts[0], parts[2])
            if len(parts) == 2 and parts[1] == "_alias":
                return self._index_aliases(parts[0])
            if len(parts) == 2 and parts[1] == "_refresh":
                return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
            if len(parts) == 2 and parts[1] == "_count":
                return self._count(parts[0])
            if len(parts) == 1 and not parts[0].startswith("_"):
                return self._index(method, parts[0], data)
        raise _ApiError(400, "illegal_argument_exception", f"fake ES: no handler for {path}")

    def _info(self) -> dict[str, Any]:
        return {
            "name": "fake-es",
            "cluster_name": "fake",
            "cluster_uuid": "fake-cluster-uuid",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "lucene_version": "9.11.1",
                "minimum_wire_compatibility_version": "7.17.0",
                "minimum_index_compatibility_version": "7.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def _template(self, method: str, name: str, data: Any) -> tuple[int, Any]:
        if method == "PUT" or method == "POST":
            self.templates[name] = copy.deepcopy(data or {})
            return 200, {"acknowledged": True}
        if name not in self.templates:
            raise _ApiError(
                404,
                "resource_not_found_exception",
                f"index template matching [{name}] not found",
            )
        if method == "DELETE":
            del self.templates[name]
            return 200, {"acknowledged": True}
        body = {"index_templates": [{"name": name, "index_template": self.templates[name]}]}
        return 200, body

    def _policy(self, method: str, name: str, data: Any) -> tuple[int, Any]:
        if method in ("PUT", "POST"):
            previous = self.policies.get(name)
            version = previous["version"] + 1 if previous else 1
            self.policies[name] = {
                "version": version,
                "modified_date": datetime.now().astimezone().isoformat(),
                "policy": copy.deepcopy((data or {}).get("policy", {})),
            }
            return 200, {"acknowledged": True}
        if name not in self.policies:
            raise _ApiError(
                404, "resource_not_found_exception", f"Lifecycle policy not found: {name}"
            )
        if method == "DELETE":
            del self.policies[name]
            return 200, {"acknowledged": True}
        return 200, {name: copy.deepcopy(self.policies[name])}

    def _alias(self, name: str) -> tuple[int, Any]:
        members = self.aliases.get(name)
        if not members:
            return 404, {"error": f"alias [{name}] missing", "status": 404}
        return 200, {
            index: {"aliases": {name: copy.deepcopy(opts)}} for index, opts in members.items()
        }

    def _index_aliases(self, index: str) -> tuple[int, Any]:
        if index not in self.indices:
            raise _ApiError(404, "index_not_found_exception", f"no such index [{index}]")
        aliases = {
            alias: copy.deepcopy(members[index])
            for alias, members in self.aliases.items()
            if index in members
        }
        return 200, {index: {"aliases": aliases}}

    def _get_doc(self, name: str, doc_id: str) -> tuple[int, Any]:
        for index in self.resolve(name):
            idx = self.indices[index]
            if doc_id in idx.docs:
                return 200, {
                    "_index": index,
                    "_id": doc_id,
                    "_version": idx.versions[doc_id],
                    "_seq_no": 0,
                    "_primary_term": 1,
                    "found": True,
                    "_source": copy.deepcopy(idx.docs[doc_id]),
                }
        if not self.resolve(name):
            raise _ApiError(404, "index_not_found_exception", f"no such index [{name}]")
        return 404, {"_index": name, "_id": doc_id, "found": False}

    def _count(self, name: str) -> tuple[int, Any]:
        indices = self.resolve(name)
        if not indices:
            raise _ApiError(404, "index_not_found_exception", f"no such index [{name}]")
        count = sum(len(self.indices[i].docs) for i in indices)
        return 200, {"count": count, "_shards": {"total": 1, "successful": 1, "failed": 0}}

    def _index(self, method: str, name: str, data: Any) -> tuple[int, Any]:
        if method == "PUT":
            self._create_index(name, data or {})
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if method == "DELETE":
            if name not in self.indices:
                raise _ApiError(404, "index_not_found_exception", f"no such index [{name}]")
            del self.indices[name]
            for members in self.aliases.values():
                members.pop(name, None)
            return 200, {"acknowledged": True}
        resolved = self.resolve(name)
        if not resolved:
            raise _ApiError(404, "index_not_found_exception", f"no such index [{name}]")
        body = {}
        for index in resolved:
            idx = self.indices[index]
            body[index] = {
                "aliases": {
                    a: copy.deepcopy(m[index]) for a, m in self.aliases.items() if index in m
                },
                "mappings": copy.deepcopy(idx.mappings),
                "settings": copy.deepcopy(idx.settings),
            }
        return 200, body

    def _matching_template(self, name: str) -> dict[str, Any] | None:
        best: tuple[int, dict[str, Any]] | None = None
        for template in self.templates.values():
            patterns = template.get("index_patterns", [])
            if isinstance(patterns, str):
                patterns = [patterns]
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                priority = int(template.get("priority", 0))
                if best is None or priority > best[0]:
                    best = (priority, template)
        return best[1] if best else None

    def _create_index(self, name: str, data: Mapping[str, Any]) -> FakeIndex:
        if name in self.indices:
            raise _ApiError(
                400, "resource_already_exists_exception", f"index [{name}] already exists"
            )
        if name in self.aliases:
            raise _ApiError(
                400,
                "invalid_index_name_exception",
                f"Invalid index name [{name}], already exists as alias",
            )
        template = (self._matching_template(name) or {}).get("template", {})
        mappings = copy.deepcopy(template.get("mappings", {}))
        mappings.update(copy.deepcopy(data.get("mappings", {})))
        settings: dict[str, Any] = {}
        _merge_settings(settings, template.get("settings", {}))
        _merge_settings(settings, data.get("settings", {}))
        aliases = {**template.get("aliases", {}), **data.get("aliases", {})}
        for alias, opts in aliases.items():
            if alias in self.indices:
                raise _ApiError(
                    400,
                    "invalid_alias_name_exception",
                    f"Invalid alias name [{alias}]: an index or data stream exists with the "
                    "same name as the alias",
                )
            members = self.aliases.setdefault(alias, {})
            if (opts or {}).get("is_write_index"):
                for other in members.values():
                    other["is_write_index"] = False
            members[name] = dict(opts or {})
        index = FakeIndex(name=name, mappings=mappings, settings=settings)
        self.indices[name] = index
        return index

    def _bulk(self, default_index: str | None, body: bytes) -> dict[str, Any]:
        started = time.monotonic()
        lines = [line for line in body.split(b"\n") if line.strip()]
        items: list[dict[str, Any]] = []
        i = 0
        while i < len(lines):
            action_line = orjson.loads(lines[i])
            i += 1
            (action, meta), *_ = action_line.items()
            source: dict[str, Any] | None = None
            if action in ("index", "create", "update"):
                if i >= len(lines):
                    raise _ApiError(400, "illegal_argument_exception", "missing source line")
                source = orjson.loads(lines[i])
                i += 1
            items.append({action: self._bulk_item(action, meta, source, default_index)})
        errors = any("error" in next(iter(item.values())) for item in items)
        took = int((time.monotonic() - started) * 1000)
        return {"errors": errors, "took": took, "items": items}

    def _item_fault(self, doc_id: str, source: Mapping[str, Any]) -> tuple[int, str, str] | None:
        for fault in self._item_faults:
            if not _matches(fault.match, doc_id, source):
                continue
            if fault.times < 0:
                error_type, _, reason = fault.error_type.partition("\0")
                return fault.status, error_type, reason
            seen = fault.seen.get(doc_id, 0)
            fault.seen[doc_id] = seen + 1
            if seen < fault.times:
                return (
                    fault.status,
                    fault.error_type,
                    "rejected execution of coordinating operation (injected)",
                )
        return None

    def _bulk_item(
        self,
        action: str,
        meta: Mapping[str, Any],
        source: dict[str, Any] | None,
        default_index: str | None,
    ) -> dict[str, Any]:
        target = meta.get("_index", default_index)
        doc_id = str(meta.get("_id") or uuid.uuid4().hex)
        base: dict[str, Any] = {"_index": target, "_id": doc_id}

        def error(status: int, error_type: str, reason: str) -> dict[str, Any]:
            return {
                **base,
                "status": status,
                "error": {"type": error_type, "reason": reason, "index": target},
            }

        if target is None:
            return error(400, "action_request_validation_exception", "index is missing")
        if action not in ("index", "create", "delete"):
            return error(400, "illegal_argument_exception", f"fake ES: unsupported {action}")
        fault = self._item_fault(doc_id, source or {})
        if fault is not None:
            return error(*fault)
        resolved = self.resolve(target, for_write=True)
        if not resolved:
            if target in self.aliases:
                return error(
                    400,
                    "illegal_argument_exception",
                    f"no write index is defined for alias [{target}]",
                )
            if action == "delete":
                return {**base, "status": 404, "result": "not_found", "_version": 1}
            self._create_index(target, {})
            resolved = [target]
        index = self.indices[resolved[0]]
        base["_index"] = index.name
        if action == "delete":
            if doc_id not in index.docs:
                return {**base, "status": 404, "result": "not_found", "_version": 1}
            del index.docs[doc_id]
            version = index.versions.pop(doc_id) + 1
            return {**base, "status": 200, "result": "deleted", "_version": version}
        assert source is not None
        if action == "create" and doc_id in index.docs:
            return error(
                409,
                "version_conflict_engine_exception",
                f"[{doc_id}]: version conflict, document already exists",
            )
        if self.validate_mappings:
            problem = validate_document(index.mappings, source)
            if problem:
                error_type, _, reason = problem.partition(": ")
                return error(400, error_type, reason)
        existed = doc_id in index.docs
        index.docs[doc_id] = copy.deepcopy(source)
        version = index.versions.get(doc_id, 0) + 1
        index.versions[doc_id] = version
        return {
            **base,
            "_version": version,
            "result": "updated" if existed else "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": version - 1,
            "_primary_term": 1,
            "status": 200 if existed else 201,
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeElasticsearch
    protocol_version = "HTTP/1.0"
    server_version = "fake-elasticsearch"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        method = self.command
        with self.fake._lock:
            self.fake.requests.append(
                RecordedRequest(
                    method=method,
                    path=split.path,
                    query=parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
        denied = self.fake._auth_failure(self.headers.get("Authorization"), self.path)
        try:
            if denied is not None:
                status, payload = denied.status, denied.body()
            else:
                status, payload = self.fake.handle(method, split.path, parse_qs(split.query), body)
        except _DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception as exc:  # a bug in the fake or a malformed request: say so
            self.fake.errors.append(exc)
            status = 500
            payload = _ApiError(500, "fake_server_error", repr(exc)).body()
        data = b"" if method == "HEAD" else orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(data)))
        if self.fake.product_header:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        if denied is not None:
            self.send_header("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"')
            self.send_header("WWW-Authenticate", "ApiKey")
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve
