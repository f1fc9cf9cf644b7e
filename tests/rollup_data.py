"""Seeded Cowrie event generator and a plain-Python computation of every rollup.

Sessions on several sensors, some across midnight; logins with empty usernames and
passwords; commands (one longer than a PostgreSQL btree entry); downloads, uploads and
VirusTotal verdicts; and late events that move a session's first event to an earlier day.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

SENSORS = ("alpha", "beta", "gamma")
IPS = ("10.0.0.1", "10.0.0.2", "192.0.2.7", "198.51.100.9", "203.0.113.4")
USERS = ("root", "admin", "", "ubnt", "pi", "a:b", "a")
PASSWORDS = ("123456", "", "admin", "raspberry", "pass word", "c", "b:c")
COMMANDS = ("uname -a", "cat /proc/cpuinfo", "wget http://x/y.sh", "echo ö", "x" * 4000)
VERSIONS = ("SSH-2.0-Go", "SSH-2.0-libssh_0.9.6", "SSH-2.0-OpenSSH_8.4")
HASSHES = ("b5752e36ba6c5979a575e43178908adf", "92674389fa1e47a27ddd8d9b63ecd42b")
URLS = ("http://203.0.113.9/a.sh", "http://203.0.113.9/b", None)
SHAS = ("a" * 64, "b" * 64, "c" * 64)
LABELS = ("Trojan.Mirai", "Backdoor.Gafgyt")


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Emitter:
    """Appends a session's events, each a little after the previous one."""

    def __init__(
        self, rng: random.Random, events: list, sensor: str, sid: str, ip: str, t: datetime
    ) -> None:
        self.rng, self.events, self.sensor, self.sid, self.ip, self.t = (
            rng,
            events,
            sensor,
            sid,
            ip,
            t,
        )

    def __call__(self, eventid: str, step: float = 600.0, **payload: Any) -> None:
        rng = self.rng
        self.t += timedelta(seconds=rng.uniform(0, step), microseconds=rng.randrange(1000))
        e = {
            "eventid": eventid,
            "timestamp": _ts(self.t),
            "session": self.sid,
            "sensor": self.sensor,
        }
        if rng.random() > 0.1:  # a few events lack src_ip
            e["src_ip"] = self.ip
        e.update(payload)
        self.events.append(e)


def generate(seed: int, sessions: int = 40, start: datetime | None = None) -> list[dict]:
    """Events of ``sessions`` sessions over about three days, then some late events."""
    rng = random.Random(seed)
    base = start or datetime(2024, 3, 1, 20, 0, tzinfo=UTC)
    events: list[dict] = []
    per_sensor: Counter[str] = Counter()
    by_session: dict[tuple[str, str], dict] = {}
    for _ in range(sessions):
        sensor = rng.choice(SENSORS)
        per_sensor[sensor] += 1
        sid = f"{per_sensor[sensor]:08x}"  # the same ids recur on other sensors
        t = base + timedelta(seconds=rng.randrange(0, 3 * 86400))
        ip = rng.choice(IPS)
        protocol = rng.choice(("ssh", "telnet"))

        ev = _Emitter(rng, events, sensor, sid, ip, t)
        ev("cowrie.session.connect", protocol=protocol, src_port=1234)
        by_session[(sensor, sid)] = {"ip": ip, "t0": ev.t}
        if protocol == "ssh" and rng.random() < 0.8:
            ev("cowrie.client.version", version=rng.choice(VERSIONS))
            ev("cowrie.client.kex", hassh=rng.choice(HASSHES))
        for _ in range(rng.randrange(0, 4)):
            ev("cowrie.login.failed", username=rng.choice(USERS), password=rng.choice(PASSWORDS))
        if rng.random() < 0.6:
            ev("cowrie.login.success", username=rng.choice(USERS), password=rng.choice(PASSWORDS))
            for _ in range(rng.randrange(0, 5)):
                ev("cowrie.command.input", step=3600, input=rng.choice(COMMANDS))
            for _ in range(rng.randrange(0, 3)):
                sha = rng.choice(SHAS)
                if rng.random() < 0.7:
                    ev(
                        "cowrie.session.file_download",
                        url=rng.choice(URLS),
                        shasum=sha,
                        outfile=f"var/lib/cowrie/downloads/{sha}",
                    )
                else:
                    ev("cowrie.session.file_upload", filename="up.bin", shasum=sha)
                if rng.random() < 0.5:
                    detected = rng.random() < 0.7
                    ev(
                        "cowrie.virustotal.scanfile",
                        sha256=sha,
                        positives=int(detected) * 3,
                        total=60,
                        scans={"E1": {"detected": detected, "result": rng.choice(LABELS)}},
                    )
        ev("cowrie.session.closed", step=7200)
    # Late events: an earlier event of an existing session (may move its first day back).
    for (sensor, sid), info in rng.sample(sorted(by_session.items()), k=min(5, len(by_session))):
        t = info["t0"] - timedelta(hours=rng.choice((1, 12, 30)))
        events.append(
            {
                "eventid": "cowrie.login.failed",
                "timestamp": _ts(t),
                "session": sid,
                "sensor": sensor,
                "src_ip": info["ip"],
                "username": "late",
                "password": rng.choice(PASSWORDS),
            }
        )
    return events


def write_files(events: list[dict], directory: Any, rng: random.Random, files: int = 4) -> list:
    """Spread events over ``files`` log files in shuffled order, with some duplicates."""
    shuffled = events[:]
    rng.shuffle(shuffled)
    shuffled += rng.sample(events, k=len(events) // 10)  # duplicates
    paths = []
    for i in range(files):
        path = directory / f"cowrie.json.{i}"
        chunk = shuffled[i::files]
        path.write_text("".join(json.dumps(e) + "\n" for e in chunk), encoding="utf-8")
        paths.append(path)
    return paths


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def expected(events: list[dict]) -> dict[str, set[tuple]]:
    """Every rollup computed in plain Python from the (distinct) events."""
    unique = {json.dumps(e, sort_keys=True): e for e in events}.values()
    sessions: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for e in unique:
        sessions[(e["sensor"], e["session"])].append(e)
    totals = _RollupTotals()
    for (sensor, sid), evs in sessions.items():
        evs.sort(key=lambda e: e["timestamp"])
        totals.add_session(sensor, sid, evs)
    return totals.rows()


class _RollupTotals:
    """The rollups' counters per key (``out``), the sessions behind a key (``sets``), and
    the figures of ``daily_sessions`` per bucket (``stats``), session by session."""

    def __init__(self) -> None:
        self.out: dict[str, dict[tuple, Counter]] = defaultdict(lambda: defaultdict(Counter))
        self.sets: dict[str, dict[tuple, set]] = defaultdict(lambda: defaultdict(set))
        self.stats: dict[tuple, Counter] = {}

    def add_session(self, sensor: str, sid: str, evs: list[dict]) -> None:
        first, last = _parse(evs[0]["timestamp"]), _parse(evs[-1]["timestamp"])
        bucket = (first.date().isoformat(), sensor)
        kinds = Counter(e["eventid"] for e in evs)
        vt_flagged = self._add_files(bucket, sid, evs)
        self._add_stats(bucket, kinds, vt_flagged, (last - first) // timedelta(microseconds=1))
        self._add_events(bucket, sid, evs)
        self._add_session_values(bucket, first, evs, kinds)

    def _add_files(self, bucket: tuple, sid: str, evs: list[dict]) -> bool:
        """Count the session's transfers in daily_files; whether VirusTotal flagged one."""
        verdicts = {e["sha256"]: e for e in evs if e["eventid"] == "cowrie.virustotal.scanfile"}
        transfers: Counter[tuple] = Counter()
        for e in evs:
            if e["eventid"] == "cowrie.session.file_download":
                transfers[("download", e.get("url"), e["shasum"], e.get("outfile"))] += 1
            elif e["eventid"] == "cowrie.session.file_upload":
                transfers[("upload", e.get("filename"), e["shasum"], None)] += 1
        vt_flagged = False
        for (direction, url, sha, _), n in transfers.items():
            verdict = verdicts.get(sha)
            label = ""
            if verdict is not None:
                vt_flagged |= verdict["positives"] > 0
                scan = verdict["scans"]["E1"]
                label = scan["result"] if scan["detected"] else ""
            key = (*bucket, direction, url or "", sha or "", label)
            self.out["daily_files"][key]["transfers"] += n
            self.sets["daily_files"][key].add(sid)
        return vt_flagged

    def _add_stats(self, bucket: tuple, kinds: Counter, vt_flagged: bool, duration_us: int) -> None:
        commands = kinds["cowrie.command.input"]
        downloads = kinds["cowrie.session.file_download"]
        s = self.stats.setdefault(bucket, Counter(commands_min=10**9, commands_max=-1))
        s["sessions"] += 1
        s["sessions_with_login"] += kinds["cowrie.login.success"] > 0
        s["sessions_with_commands"] += commands > 0
        s["sessions_with_downloads"] += downloads > 0
        s["commands_sum"] += commands
        s["commands_min"] = min(s["commands_min"], commands)
        s["commands_max"] = max(s["commands_max"], commands)
        s["duration_us_sum"] += duration_us
        s["login_attempts"] += kinds["cowrie.login.success"] + kinds["cowrie.login.failed"]
        s["login_successes"] += kinds["cowrie.login.success"]
        s["downloads"] += downloads
        s["uploads"] += kinds["cowrie.session.file_upload"]
        s["vt_flagged_sessions"] += vt_flagged
        s["dshield_flagged_sessions"] += 0

    def _add_events(self, bucket: tuple, sid: str, evs: list[dict]) -> None:
        """Commands and credentials, event by event."""
        out = self.out
        for e in evs:
            if e["eventid"] == "cowrie.command.input":
                key = (*bucket, e["input"])
                out["daily_commands"][key]["occurrences"] += 1
                self.sets["daily_commands"][key].add(sid)
            if e["eventid"] in ("cowrie.login.success", "cowrie.login.failed"):
                key = (*bucket, e["username"], e["password"])
                out["daily_credentials"][key]["attempts"] += 1
                out["daily_credentials"][key]["successes"] += e["eventid"] == "cowrie.login.success"
                for name, value in (
                    ("daily_usernames", e["username"]),
                    ("daily_passwords", e["password"]),
                ):
                    half = out[name][(*bucket, value)]
                    half["attempts"] += 1
                    half["successes"] += e["eventid"] == "cowrie.login.success"

    def _add_session_values(
        self, bucket: tuple, first: datetime, evs: list[dict], kinds: Counter
    ) -> None:
        """The rollups that count the session once: by one value of it, and by hour."""
        out = self.out
        ips = [e["src_ip"] for e in evs if e.get("src_ip")]
        protos = [e["protocol"] for e in evs if e.get("protocol")]
        versions = [e["version"] for e in evs if e["eventid"] == "cowrie.client.version"]
        hasshes = [e["hassh"] for e in evs if e["eventid"] == "cowrie.client.kex"]
        for name, value in (
            ("daily_src_ips", min(ips, default="")),
            ("daily_protocols", max(protos, default="")),
            ("daily_client_versions", max(versions, default="")),
            ("daily_hassh", max(hasshes, default="")),
        ):
            out[name][(*bucket, value)]["sessions"] += 1
        commands = kinds["cowrie.command.input"]
        out["daily_command_counts"][(*bucket, commands)]["sessions"] += 1
        hour = out["hourly_sessions"][(*bucket, first.hour)]
        hour["sessions"] += 1
        hour["login_attempts"] += kinds["cowrie.login.success"] + kinds["cowrie.login.failed"]
        hour["login_successes"] += kinds["cowrie.login.success"]
        hour["commands"] += commands
        hour["downloads"] += kinds["cowrie.session.file_download"]

    def rows(self) -> dict[str, set[tuple]]:
        """The rows of every rollup."""
        from cowrieprocessor.rollups.definitions import ROLLUPS

        result: dict[str, set[tuple]] = {}
        for rollup in ROLLUPS:
            rows = set()
            if rollup.name == "daily_sessions":
                for bucket, s in self.stats.items():
                    rows.add((*bucket, *(s[c] for c in rollup.values)))
            elif rollup.name == "daily_enrichment":  # no enrichment: Cowrie's VT verdicts only
                for bucket, s in self.stats.items():
                    rows.add((*bucket, s["vt_flagged_sessions"], 0, 0, 0, 0))
            else:
                for key, counts in self.out[rollup.name].items():
                    values = []
                    for c in rollup.values:
                        values.append(
                            len(self.sets[rollup.name][key])
                            if c == "sessions" and rollup.name in ("daily_files", "daily_commands")
                            else counts[c]
                        )
                    rows.add((*key, *values))
            result[rollup.name] = rows
        return result


def expected_periods(daily: dict[str, set[tuple]]) -> set[tuple]:
    """``period_values`` rows from the daily rollups' rows, in plain Python:
    (kind, period_start ISO, figure, sensor, value, total)."""
    sums: Counter[tuple] = Counter()

    def add(day: str, sensor: str, figure: str, value: str, n: int) -> None:
        d = date.fromisoformat(day)
        for kind, start in (
            ("weekly", d - timedelta(days=d.weekday())),
            ("monthly", d.replace(day=1)),
        ):
            sums[(kind, start.isoformat(), figure, sensor, value)] += n

    for day, sensor, username, attempts, _ in daily["daily_usernames"]:
        add(day, sensor, "username", username, attempts)
    for day, sensor, password, attempts, _ in daily["daily_passwords"]:
        add(day, sensor, "password", password, attempts)
    for day, sensor, username, password, attempts, _ in daily["daily_credentials"]:
        add(day, sensor, "combination", f"{username}:{password}", attempts)
    for day, sensor, ip, sessions in daily["daily_src_ips"]:
        if ip:
            add(day, sensor, "src_ip", ip, sessions)
    for day, sensor, command, occurrences, _ in daily["daily_commands"]:
        add(day, sensor, "command", command, occurrences)
    for day, sensor, direction, url, sha, label, transfers, _ in daily["daily_files"]:
        for figure, value, counted in (
            ("shasum", sha, bool(sha)),
            ("url", url, direction == "download" and bool(url)),
            ("vt_label", label, bool(label)),
        ):
            if counted:
                add(day, sensor, figure, value, transfers)
    return {(*key, n) for key, n in sums.items()}
