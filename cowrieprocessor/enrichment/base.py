"""The provider interface: what every enrichment provider is, and what a lookup gives back.

A provider looks up indicators of one or more kinds (``ip``: a session's source IP,
``file``: a SHA-256, ``url``: a download URL) and turns each answer into a :class:`Result`
with the normalised fields of its kind's table (``cowrieprocessor/db/enrichment.py``).
Offline providers answer many indicators at once from local data (:class:`OfflineProvider`);
online providers describe one HTTP request per indicator and parse its answer
(:class:`HttpProvider`), while ``enrichment/http.py`` sends it with rate limits, budgets,
timeouts and retries. See docs/enrichment.md, "Adding a provider".
"""

from __future__ import annotations

import bisect
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Literal

Kind = Literal["ip", "file", "url"]
Status = Literal["ok", "not_found", "error"]

#: Longest text kept in a normalised field (labels, names, tags, reasons).
MAX_TEXT = 200
#: Largest answer body read from a provider; a bigger one is an error, not a full disk.
MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Result:
    """One indicator's answer: status, normalised fields, raw answer, URL tags."""

    indicator: str
    status: Status
    fields: Mapping[str, Any] = field(default_factory=dict)
    raw: Any = None
    reason: str | None = None
    tags: tuple[str, ...] = ()
    #: An error that asking again cannot fix (bad input): cached, not retried by later runs.
    final: bool = False

    @classmethod
    def error(cls, indicator: str, reason: str, *, final: bool = False) -> Result:
        """A failed lookup, with its reason (cut to :data:`MAX_TEXT`)."""
        return cls(indicator, "error", reason=clip(reason), final=final)

    @classmethod
    def not_found(cls, indicator: str, reason: str | None = None, raw: Any = None) -> Result:
        """The provider knows nothing about the indicator."""
        return cls(indicator, "not_found", raw=raw, reason=clip(reason) if reason else None)


def clip(value: Any, limit: int = MAX_TEXT) -> str | None:
    """``value`` as text of at most ``limit`` characters; None for None or ''."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", "")
    return text[:limit] or None


def as_int(value: Any) -> int | None:
    """An integer field of an answer, or None when missing or not an integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def as_bool(value: Any) -> bool | None:
    """A boolean field of an answer, or None when missing or not a boolean."""
    return value if isinstance(value, bool) else None


def _ranges(*networks: str) -> tuple[list[int], list[int]]:
    """Sorted (starts, ends) of ``networks``, for a bisect lookup."""
    parsed = sorted(ipaddress.ip_network(n) for n in networks)
    return [int(n.network_address) for n in parsed], [int(n.broadcast_address) for n in parsed]


#: IPv4 addresses that are not globally reachable (IANA IPv4 Special-Purpose Address
#: Registry, "Globally Reachable: False"), plus multicast. 192.0.0.9 and 192.0.0.10 are
#: the registry's global exceptions inside 192.0.0.0/24.
_V4_LOCAL = _ranges(
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.0.8/32",
    "192.0.0.11/32",
    "192.0.0.12/30",
    "192.0.0.16/28",
    "192.0.0.32/27",
    "192.0.0.64/26",
    "192.0.0.128/25",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/3",  # multicast 224/4 and reserved 240/4 (255.255.255.255 included)
)
#: Global unicast is 2000::/3; inside it, these are not globally reachable (IANA IPv6
#: Special-Purpose Address Registry): IETF protocol assignments (Teredo, benchmarking,
#: ORCHID ...), documentation, 6to4 (an IPv4 address in disguise).
_V6_LOCAL = _ranges("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")
_V6_GLOBAL_START = 0x2000 << 112
_V6_GLOBAL_END = (0x4000 << 112) - 1


def _inside(value: int, table: tuple[list[int], list[int]]) -> bool:
    starts, ends = table
    i = bisect.bisect_right(starts, value) - 1
    return i >= 0 and value <= ends[i]


def public_address(text: str) -> tuple[str | None, str | None]:
    """``(address, None)`` for a public IP (an IPv4-mapped IPv6 address as its IPv4 form),
    ``(None, reason)`` otherwise: not an address, or private, reserved, multicast, ...

    Nothing is ever looked up, locally or online, for an address that is not public.
    """
    try:
        if ":" in text:
            packed = socket.inet_pton(socket.AF_INET6, text)
            if packed[:12] == _MAPPED:  # ::ffff:a.b.c.d
                packed = packed[12:]
        else:
            packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):
        return None, "not an IP address"
    value = int.from_bytes(packed, "big")
    if len(packed) == 4:
        if _inside(value, _V4_LOCAL):
            return None, "private or reserved address"
        return socket.inet_ntop(socket.AF_INET, packed), None
    if not _V6_GLOBAL_START <= value <= _V6_GLOBAL_END or _inside(value, _V6_LOCAL):
        return None, "private or reserved address"
    return socket.inet_ntop(socket.AF_INET6, packed), None


_MAPPED = bytes(10) + b"\xff\xff"


class Provider:
    """Common attributes of every provider."""

    #: Name in the database, on the command line and in COWRIE_ENRICH_<NAME>_...
    name: ClassVar[str]
    #: Indicator kinds it looks up.
    kinds: ClassVar[tuple[Kind, ...]]
    #: Whether it sends anything over the network.
    online: ClassVar[bool] = False
    #: One line for `enrich --list` and the docs.
    description: ClassVar[str] = ""

    @classmethod
    def configured(cls, settings: Mapping[str, Any]) -> bool:
        """Whether the settings enable the provider (online ones are off until configured)."""
        return True

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Provider:
        """The provider for its configured settings."""
        return cls()

    def source(self) -> str:
        """The data behind the answers (and its date where known), stored with each row."""
        return self.name

    def close(self) -> None:
        """Release what the provider holds (files, clients)."""


class OfflineProvider(Provider):
    """Answers from local data, many indicators at a time; nothing leaves the machine."""

    def identity(self) -> str:
        """A prefix of :meth:`source` that is cheap to compute (no data loaded): rows whose
        source starts with it need no new lookup."""
        return self.source()

    def lookup_many(self, kind: Kind, indicators: Iterable[str]) -> Iterable[Result]:
        """One :class:`Result` per indicator, in order."""
        raise NotImplementedError


@dataclass(frozen=True)
class Request:
    """An HTTP request relative to the provider's base URL."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    form: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Defaults:
    """A provider's documented defaults; configuration overrides each."""

    url: str
    rate_limit: int
    rate_period: float  # seconds
    daily_budget: int | None
    ttl: timedelta
    not_found_ttl: timedelta
    timeout: float = 20.0
    retries: int = 3
    concurrency: int = 2


class HttpProvider(Provider):
    """An online provider: one HTTP request per indicator."""

    online = True
    defaults: ClassVar[Defaults]
    #: Header carrying the key (None: the API takes no key).
    auth_header: ClassVar[str | None] = None
    #: Whether the provider runs without a key (then it is enabled by other settings).
    key_required: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings

    @classmethod
    def configured(cls, settings: Mapping[str, Any]) -> bool:
        return "key" in settings if cls.key_required else bool(settings.get("enabled"))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Provider:
        return cls(settings)

    def setting(self, name: str) -> Any:
        """A setting, or the provider's documented default."""
        if name in self.settings:
            return self.settings[name]
        d = self.defaults
        if name == "ttl_hours":
            return d.ttl.total_seconds() / 3600
        if name == "not_found_ttl_hours":
            return d.not_found_ttl.total_seconds() / 3600
        return getattr(d, name, None)

    def source(self) -> str:
        return f"{self.name} {self.setting('url')}"

    def precheck(self, kind: Kind, indicator: str) -> Result | None:
        """A result without asking (bad input, or nothing that may leave the machine);
        None when the indicator is to be looked up."""
        if kind == "ip":
            address, reason = public_address(indicator)
            if address is None:
                assert reason is not None
                if reason == "not an IP address":
                    return Result.error(indicator, reason, final=True)
                return Result.not_found(indicator, reason)
            return None
        if kind == "file":
            if len(indicator) != 64 or not all(c in "0123456789abcdefABCDEF" for c in indicator):
                return Result.error(indicator, "not a SHA-256", final=True)
            return None
        if not indicator.lower().startswith(("http://", "https://")) or len(indicator) > 4096:
            return Result.error(indicator, "not an http(s) URL", final=True)
        return None

    def request(self, kind: Kind, indicator: str) -> Request:
        """The request looking up ``indicator``."""
        raise NotImplementedError

    def parse(self, kind: Kind, indicator: str, status: int, body: Any) -> Result:
        """The result of an answer with HTTP ``status`` and JSON ``body`` (a 2xx or 404)."""
        raise NotImplementedError

    def quota_exhausted(self, status: int, body: Any) -> bool:
        """Whether an answer says the account's quota is used up (stop, do not retry)."""
        return False

    def user_agent_extra(self) -> str:
        """Text added to the User-Agent (DShield asks for a contact e-mail there)."""
        return ""
