"""Enrichment benchmark: offline lookups end to end, VirusTotal rate limit and budget, and
report speed with enrichment rows in the rollups.

Usage:
    PYTHONPATH=scripts python scripts/bench_enrich.py offline [--ips 100000] [--dialect sqlite]
    PYTHONPATH=scripts python scripts/bench_enrich.py vt [--window 3] [--budget 20]
    PYTHONPATH=scripts python scripts/bench_enrich.py reports [--days 35] [--per-day 20000]

``offline``: a database with ``--ips`` sessions, each from its own public address (IPv4 and
IPv6 mixed), then `cowrie-report enrich --offline --no-refresh-views --json` as a process,
twice: the first run looks every address up and marks the dirty buckets, the second finds
nothing to do. Prints the wall time of each (process start included) and what they did.

``vt``: `cowrie-report enrich --provider virustotal` against the local VirusTotal stand-in,
at 4 requests per ``--window`` seconds (the real default is 4 per 60 s; a shorter window
keeps the run short, the limiter and the count are the same) with a daily budget of
``--budget``; prints the stand-in's most requests in any window, requests sent, and the
stop message.

``reports``: the history of scripts/bench_reports.py (cached in bench-data/), copied, its
10.x source addresses moved to public 45.x ones, enriched offline and refreshed; then
`show weekly` and `show monthly --format json` (median of ``--runs``) before and after
enrichment. To compare with main, run main's scripts/bench_reports.py with the same
``--days``/``--per-day`` in the same session.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import ensure_schema
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.rollups.refresh import dirty_buckets, refresh_dirty

CLI = [sys.executable, "-m", "cowrieprocessor.cli.main"]
DAY = date(2024, 3, 5)


def public_addresses(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct public addresses, about 70 % IPv4 and 30 % IPv6."""
    rng = random.Random(seed)
    out: set[str] = set()
    while len(out) < count:
        if rng.random() < 0.7:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.IPv4Address(
                rng.getrandbits(32)
            )
        else:  # 2000::/3, the global unicast range
            address = ipaddress.IPv6Address((0b001 << 125) | rng.getrandbits(125))
        if address.is_global and not address.is_multicast:
            out.add(str(address))
    return sorted(out)


def _database(dialect: str, directory: Path) -> str:
    if dialect == "sqlite":
        return f"sqlite:///{directory / 'enrich.sqlite'}"
    from sqlalchemy.engine import make_url

    from cowrieprocessor.testing.postgres import create_database, drop_database

    base = os.environ.get("COWRIE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1/test")
    url = make_url(base).set(database="enrichment_bench").render_as_string(hide_password=False)
    drop_database(url)
    create_database(url)
    return url


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run(
        [*CLI, "--db", url, *args], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {result.stderr.strip()}")
    return seconds, json.loads(result.stdout) if result.stdout.strip() else {}


def offline(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp:
        directory = Path(tmp)
        url = _database(args.dialect, directory)
        addresses = public_addresses(args.ips)
        log = directory / "cowrie.json"
        with log.open("w") as out:
            for i, address in enumerate(addresses):
                day = DAY + timedelta(days=i % 7)
                line = {
                    "eventid": "cowrie.session.connect",
                    "timestamp": f"{day}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                    "session": f"{i:012x}",
                    "sensor": f"s{i % 3}",
                    "src_ip": address,
                }
                out.write(json.dumps(line) + "\n")
        engine = create_engine_for_url(url)
        ensure_schema(engine)
        t = time.perf_counter()
        Loader(engine).ingest([log])
        refresh_dirty(engine)
        print(
            f"{args.dialect}: {len(addresses):,} sessions, each from its own address "
            f"({sum(':' in a for a in addresses):,} IPv6), "
            f"loaded in {time.perf_counter() - t:.1f} s"
        )
        for run in ("first", "second"):
            seconds, doc = _run(url, "enrich", "--offline", "--no-refresh-views", "--json")
            [p] = doc["providers"]
            print(
                f"  {run} run: {seconds:.2f} s end to end (enrichment itself {p['seconds']:.2f} s);"
                f" looked up {p['looked_up']:,}, from cache {p['from_cache']:,},"
                f" found {p['found']:,}, not found {p['not_found']:,}, changed {p['changed']:,},"
                f" dirty buckets {dirty_buckets(engine)}"
            )
        engine.dispose()
        if args.dialect == "postgresql":
            from cowrieprocessor.testing.postgres import drop_database

            drop_database(url)


def vt(args: argparse.Namespace) -> None:
    from cowrieprocessor.testing.enrichment_servers import FakeVirusTotal

    key = "bench-key"
    with (
        tempfile.TemporaryDirectory(prefix="bench-enrich-") as tmp,
        FakeVirusTotal(key=key) as fake,
    ):
        directory = Path(tmp)
        url = f"sqlite:///{directory / 'vt.sqlite'}"
        files = args.budget + 10
        log = directory / "cowrie.json"
        with log.open("w") as out:
            for i in range(files):
                sha = f"{i:064x}"
                fake.files[sha] = FakeVirusTotal.file_report(sha, malicious=i % 3, label="x")
                base = {"session": f"{i:012x}", "sensor": "s", "src_ip": "192.0.2.1"}
                out.write(
                    json.dumps(
                        {
                            **base,
                            "eventid": "cowrie.session.connect",
                            "timestamp": f"{DAY}T10:00:00Z",
                        }
                    )
                    + "\n"
                )
                out.write(
                    json.dumps(
                        {
                            **base,
                            "eventid": "cowrie.session.file_download",
                            "timestamp": f"{DAY}T10:00:01Z",
                            "shasum": sha,
                            "url": f"http://192.0.2.9/{i}",
                        }
                    )
                    + "\n"
                )
        config = directory / "enrich.toml"
        config.write_text(
            f"[virustotal]\nrate_limit = 4\nrate_period = {args.window}\n"
            f"daily_budget = {args.budget}\n"
        )
        env = {
            **os.environ,
            "COWRIE_ENRICH_VIRUSTOTAL_KEY": key,
            "COWRIE_ENRICH_VIRUSTOTAL_URL": fake.url + "/api/v3",
        }
        _run(url, "ingest", str(log), "--no-enrich", "--json")
        seconds, doc = _run(
            url, "enrich", "--provider", "virustotal", "--config", str(config), "--json", env=env
        )
        [p] = doc["providers"]
        print(
            f"VirusTotal at 4 per {args.window} s, budget {args.budget}, {files} files: "
            f"{p['requests']} requests in {seconds:.1f} s; most in any {args.window} s window "
            f"(stand-in's count): {fake.max_in_window(args.window)}; stopped: {p['stopped']}; "
            f"left to look up: {p['left_to_look_up']}"
        )
        _, again = _run(
            url, "enrich", "--provider", "virustotal", "--config", str(config), "--json", env=env
        )
        print(
            f"  second run the same day: {again['providers'][0]['requests']} requests, "
            f"stopped: {again['providers'][0]['stopped']}; stand-in total {len(fake.requests)}"
        )


def _median_show(url: str, report_type: str, label: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(
            [*CLI, "--db", url, "show", report_type, label, "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def reports(args: argparse.Namespace) -> None:
    from bench_refresh import START
    from bench_reports import history

    from cowrieprocessor.reporting.periods import Period
    from cowrieprocessor.rollups.refresh import rebuild_all

    source = history(args.days, args.per_day).removeprefix("sqlite:///")
    last = START + timedelta(days=args.days - 1)
    week = Period.containing("weekly", last - timedelta(days=7))
    month = Period.containing("monthly", last.replace(day=1) - timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="bench-enrich-", dir=Path(source).parent) as tmp:
        copy = Path(tmp) / "enriched.sqlite"
        shutil.copy(source, copy)
        url = f"sqlite:///{copy}"
        before = {
            p.report_type: _median_show(url, p.report_type, p.label, args.runs)
            for p in (week, month)
        }
        engine = create_engine_for_url(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE session_summaries SET src_ip = '45.' || substr(src_ip, 4)"
                " WHERE src_ip LIKE '10.%'"
            )
        rebuild_all(engine)
        engine.dispose()
        seconds, doc = _run(url, "enrich", "--offline", "--json")
        [p] = doc["providers"]
        print(
            f"{args.days} days x {args.per_day:,} sessions: offline enrichment of "
            f"{p['looked_up']:,} addresses and the refresh: {seconds:.1f} s"
        )
        for period in (week, month):
            after = _median_show(url, period.report_type, period.label, args.runs)
            print(
                f"  show {period.report_type} {period.label} --format json: "
                f"{before[period.report_type]:.3f} s before enrichment, {after:.3f} s after "
                f"(median of {args.runs})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("offline")
    p.add_argument("--ips", type=int, default=100_000)
    p.add_argument("--dialect", choices=["sqlite", "postgresql"], default="sqlite")
    p = sub.add_parser("vt")
    p.add_argument("--window", type=float, default=3.0)
    p.add_argument("--budget", type=int, default=20)
    p = sub.add_parser("reports")
    p.add_argument("--days", type=int, default=35)
    p.add_argument("--per-day", type=int, default=20_000)
    p.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    {"offline": offline, "vt": vt, "reports": reports}[args.what](args)


if __name__ == "__main__":
    main()
