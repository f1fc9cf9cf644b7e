"""Online providers against their local stand-ins, over loopback with the real HTTP client.

Rate windows and budgets are shortened (a 2-second window, small budgets) so that the
tests run in seconds. Budgets are counted by the stand-in; rate windows on the rate
limiter's own schedule (:func:`rate_grants`), since arrival times at the stand-in shift with
the load of the machine.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pyrate_limiter import InMemoryBucket, RateItem
from sqlalchemy import Engine, text

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_session_maker
from cowrieprocessor.enrichment.config import Secret
from cowrieprocessor.enrichment.providers.dshield import DShield
from cowrieprocessor.enrichment.providers.greynoise import GreyNoise
from cowrieprocessor.enrichment.providers.spur import Spur
from cowrieprocessor.enrichment.providers.urlhaus import URLhaus
from cowrieprocessor.enrichment.providers.virustotal import VirusTotal
from cowrieprocessor.enrichment.runner import run_provider
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.reporting.builders import builder_for
from cowrieprocessor.reporting.periods import Period
from cowrieprocessor.rollups.refresh import check, refresh_dirty
from cowrieprocessor.testing.enrichment_servers import (
    FakeDShield,
    FakeGreyNoise,
    FakeSpur,
    FakeURLhaus,
    FakeVirusTotal,
)

KEY = "s3cr3t-key-value-0123456789"
DAY = date(2024, 3, 5)
FAST = {"backoff": 0.05, "timeout": 2.0, "retries": 2}


def sha(i: int) -> str:
    return f"{i:064x}"


def ip(i: int) -> str:
    return f"8.8.{i // 200}.{i % 200 + 1}"


def url(i: int) -> str:
    return f"http://203.0.113.{i % 250}/bin{i}.sh"


def write_log(path: Path, sessions: int) -> Path:
    """``sessions`` sessions on DAY, each from its own public IP downloading its own file."""
    lines = []
    for i in range(sessions):
        sid = f"{i:012x}"
        base = {"session": sid, "sensor": "s1", "src_ip": ip(i)}
        lines.append({**base, "eventid": "cowrie.session.connect", "timestamp": f"{DAY}T10:00:00Z"})
        lines.append(
            {
                **base,
                "eventid": "cowrie.session.file_download",
                "timestamp": f"{DAY}T10:00:05Z",
                "url": url(i),
                "shasum": sha(i),
                "outfile": f"var/lib/cowrie/downloads/{sha(i)}",
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def rate_grants(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rate limiter's schedule: the time (ms, on the limiter's monotonic clock) of every
    request it let through, over every client of the test (the runs of one process)."""
    grants: list[int] = []
    put = InMemoryBucket.put

    def recording_put(bucket: InMemoryBucket, item: RateItem) -> bool:
        admitted = put(bucket, item)
        if admitted:
            grants.append(item.timestamp)
        return admitted

    monkeypatch.setattr(InMemoryBucket, "put", recording_put)
    return grants


def most_in_window(times_ms: list[int], window_ms: int) -> int:
    """The most of ``times_ms`` within any ``window_ms``, both ends included (as the
    limiter counts)."""
    times = sorted(times_ms)
    return max(
        (
            sum(1 for t in times[: end + 1] if t >= times[end] - window_ms)
            for end in range(len(times))
        ),
        default=0,
    )


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path) -> Engine:
    Loader(engine).ingest([write_log(tmp_path / "cowrie.json", 12)])
    refresh_dirty(engine)
    return engine


def check_clean(engine: Engine) -> bool:
    refresh_dirty(engine)
    return check(engine) == []


def report(engine: Engine) -> dict[str, Any]:
    builder = builder_for("daily")(create_session_maker(engine))
    return builder.build(Period.containing("daily", DAY))


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def vt_provider(server: FakeVirusTotal, **settings: Any) -> VirusTotal:
    base = {"key": Secret(KEY), "url": server.url + "/api/v3", **FAST}
    return VirusTotal({**base, **settings})


def test_virustotal_rate_window_and_daily_budget_hold_across_runs(
    loaded: Engine, rate_grants: list[int]
) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        for i in range(0, 12, 2):
            vt.files[sha(i)] = FakeVirusTotal.file_report(sha(i), malicious=i % 3, label=f"l{i}")
        provider = vt_provider(vt, rate_limit=4, rate_period=2, daily_budget=9)
        first = run_provider(loaded, provider, max_requests=3)
        assert (first.requests, first.looked_up, first.stopped) == (
            3,
            3,
            "--max-requests 3 reached",
        )
        second = run_provider(loaded, provider)
        # The budget of 9 a day counts the first run's 3 requests.
        assert second.requests == 6 and second.budget_left == 0
        assert second.stopped == "daily budget of 9 requests reached"
        assert second.left == 12 - 9
        third = run_provider(loaded, provider)
        assert third.requests == 0 and third.left == 3 and third.stopped.startswith("daily budget")
        # Never more than 4 requests in any 2-second window, across the runs: the second
        # run's limiter starts from the first run's requests.
        assert len(vt.requests) == len(rate_grants) == 9
        assert most_in_window(rate_grants, 2000) <= 4
        assert all(r.headers["x-apikey"] == KEY for r in vt.requests)
    # Same day for all: the indicators in descending order, so sha(11) .. sha(3).
    stored = rows(loaded, "SELECT shasum, status FROM file_enrichment")
    assert sorted(stored) == sorted(
        (sha(i), "not_found" if i % 2 else "ok") for i in range(11, 2, -1)
    )


def test_virustotal_answers_fill_the_report(loaded: Engine) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        for i in range(12):
            if i % 3:
                vt.files[sha(i)] = FakeVirusTotal.file_report(
                    sha(i),
                    malicious=i % 2,
                    label="trojan.mirai" if i % 2 else None,
                    first_submission=1709251200 + i * 86400,  # 2024-03-01 + i days
                )
        run = run_provider(loaded, vt_provider(vt, rate_limit=50, rate_period=1))
    assert (run.found, run.not_found, run.errors) == (8, 4, 0)
    refresh_dirty(loaded)
    assert check(loaded) == []
    doc = report(loaded)
    flagged = [i for i in range(12) if i % 3 and i % 2]
    assert doc["sessions"]["vt_flagged"] == len(flagged)
    assert doc["files"]["vt_classifications_top"] == [
        {"value": "trojan.mirai", "count": len(flagged)}
    ]
    # First submitted on or after 2024-02-29 (five days before the sessions' day): all 8.
    assert doc["files"]["recent_vt_submissions"] == 8
    ids = [f"{i:012x}" for i in range(12) if i % 3]
    assert doc["abnormalities"]["recent_vt_submission_sessions"] == ids


def test_transient_faults_are_retried_and_bad_answers_recorded(loaded: Engine) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        for i in range(12):
            vt.files[sha(i)] = FakeVirusTotal.file_report(sha(i), malicious=1, label="x")
        vt.fail_next(429, retry_after=0)  # retried after Retry-After
        vt.fail_next(503)  # retried with backoff: the third attempt (of 1 + 2 retries) answers
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1), max_requests=4)
        assert (run.found, run.errors, run.requests) == (2, 0, 4)
        vt.fail_next(503, times=3)  # outlasts 2 retries
        vt.slow_next(3.0)  # beyond the 2 s timeout: retried
        vt.fail_next(503)  # retried again, then answered
        vt.html_next()
        vt.truncate_next()
        vt.huge_next()
        vt.fail_next(200, body={"data": {"id": "x"}})  # a 200 without the fields it needs
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
    assert run.error_reasons == {
        "HTTP 503": 1,
        "answer is HTML (HTTP 200)": 1,
        "answer is not valid JSON (HTTP 200)": 1,
        f"answer larger than {1 << 20} bytes": 1,
        "unexpected answer: KeyError": 1,
    }
    assert run.found == 10 - 5 and run.stopped is None
    # The timed-out lookup was retried and answered; errors are cached until the next run.
    errors = rows(loaded, "SELECT reason FROM file_enrichment WHERE status = 'error'")
    assert len(errors) == 5
    with FakeVirusTotal(key=KEY) as vt:
        for i in range(12):
            vt.files[sha(i)] = FakeVirusTotal.file_report(sha(i), malicious=1, label="x")
        again = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
    assert (again.looked_up, again.found, again.from_cache) == (5, 5, 7)
    assert check_clean(loaded)


def test_an_error_never_replaces_an_answer(loaded: Engine) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        vt.files[sha(0)] = FakeVirusTotal.file_report(sha(0), malicious=5, label="kept")
        run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
        vt.fail_next(503, times=100)
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1), refresh=True)
    assert run.errors == 12 and run.changed == 11 - 11  # not-found rows keep their answer too
    assert rows(loaded, f"SELECT status, label FROM file_enrichment WHERE shasum = '{sha(0)}'") == [
        ("ok", "kept")
    ]


def test_quota_and_bad_key_stop_the_provider(loaded: Engine) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        vt.exhaust_quota()
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
        assert run.stopped == "quota exhausted (HTTP 429)" and run.left == 12
        assert len(vt.requests) == 1
    with FakeVirusTotal(key="another") as vt:
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
        assert run.stopped == "key rejected (HTTP 401)" and run.looked_up == 0
    with FakeVirusTotal(key=KEY) as vt:
        vt.fail_next(429, times=5, retry_after=3600)  # asked to come back in an hour
        run = run_provider(loaded, vt_provider(vt, rate_limit=100, rate_period=1))
        assert run.stopped == "quota exhausted: asked to wait 3600 s (Retry-After)"


def test_dshield_spur_greynoise_urlhaus_fill_the_report(loaded: Engine) -> None:
    with (
        FakeDShield() as dshield,
        FakeSpur(key=KEY) as spur,
        FakeGreyNoise(key=KEY) as greynoise,
        FakeURLhaus(key=KEY) as urlhaus,
    ):
        for i in range(12):
            if i % 2 == 0:
                dshield.ips[ip(i)] = FakeDShield.report(ip(i), count=i, attacks=i // 2)
            if i % 3 == 0:
                tunnels = [{"type": "VPN", "operator": "X", "anonymous": i % 6 == 0}]
                spur.contexts[ip(i)] = FakeSpur.context(ip(i), "DATACENTER", tunnels)
            if i % 4 == 0:
                greynoise.ips[ip(i)] = FakeGreyNoise.community(ip(i), "benign", riot=i == 4)
            if i < 5:
                urlhaus.urls[url(i)] = FakeURLhaus.url_report(url(i), ["elf", f"t{i % 2}"])
        urlhaus.payloads[sha(1)] = {
            "query_status": "ok",
            "sha256_hash": sha(1),
            "signature": "Mirai",
        }
        common = {"rate_limit": 100, "rate_period": 1, **FAST}
        runs = [
            run_provider(
                loaded, DShield({"email": "ops@example.org", "url": dshield.url + "/api", **common})
            ),
            run_provider(loaded, Spur({"key": Secret(KEY), "url": spur.url, **common})),
            run_provider(loaded, GreyNoise({"key": Secret(KEY), "url": greynoise.url, **common})),
            run_provider(loaded, URLhaus({"key": Secret(KEY), "url": urlhaus.url, **common})),
        ]
        assert all(r.errors == 0 and r.stopped is None for r in runs), [r.as_dict() for r in runs]
        assert "ops@example.org" in dshield.requests[0].headers["user-agent"]
        assert all(r.query == {"json": [""]} for r in dshield.requests)
        assert {r.form()["url"] for r in urlhaus.requests if r.path == "/v1/url/"} == {
            url(i) for i in range(12)
        }
    refresh_dirty(loaded)
    assert check(loaded) == []
    doc = report(loaded)
    # DShield: even IPs; i = 0 has count 0 and attacks 0, so it is known but not flagged.
    assert doc["sessions"]["dshield_flagged"] == 5
    assert doc["enrichments"]["spur_infrastructure_top"] == [{"value": "DATACENTER", "count": 4}]
    assert doc["enrichments"]["spur_tunnels"] == {"total": 4, "anonymous": 2}
    assert doc["enrichments"]["greynoise_classification_top"] == [{"value": "benign", "count": 3}]
    assert doc["enrichments"]["benign_scanner_sessions"] == 1
    assert doc["enrichments"]["urlhaus_tags_top"] == [
        {"value": "elf", "count": 5},
        {"value": "t0", "count": 3},
        {"value": "t1", "count": 2},
    ]
    assert [a["type"] for a in doc["alerts"]] == ["high_tunnel_usage"]  # 4 of 12 > 30 %
    assert doc["alerts"][0]["percentage"] == 33.33
    assert rows(
        loaded, "SELECT label FROM file_enrichment WHERE provider = 'urlhaus' AND status = 'ok'"
    ) == [("Mirai",)]


def test_nothing_leaves_for_addresses_that_are_not_public(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "cowrie.json"
    ips = ["10.0.0.1", "192.0.2.7", "::1", "not-an-ip", "::ffff:8.8.4.4", "224.0.0.5"]
    log.write_text(
        "".join(
            json.dumps(
                {
                    "eventid": "cowrie.session.connect",
                    "timestamp": f"{DAY}T10:00:0{i}Z",
                    "session": f"b{i:011x}",
                    "sensor": "s1",
                    "src_ip": address,
                }
            )
            + "\n"
            for i, address in enumerate(ips)
        )
    )
    Loader(engine).ingest([log])
    with FakeGreyNoise() as greynoise:
        greynoise.ips["8.8.4.4"] = FakeGreyNoise.community("8.8.4.4", "benign", riot=True)
        run = run_provider(
            engine, GreyNoise({"enabled": True, "url": greynoise.url, "rate_limit": 50, **FAST})
        )
        assert [r.path for r in greynoise.requests] == ["/v3/community/8.8.4.4"]
    assert (run.found, run.not_found, run.errors) == (1, 4, 1)
    assert rows(engine, "SELECT src_ip, reason FROM ip_enrichment WHERE status = 'error'") == [
        ("not-an-ip", "not an IP address")
    ]


def test_enrich_command_against_the_stand_ins(
    db_url: str, tmp_path: Path, monkeypatch, rate_grants: list[int]
) -> None:
    status_dir = tmp_path / "status"
    runner = CliRunner()
    log = write_log(tmp_path / "cowrie.json", 12)
    base = ["--db", db_url, "--status-dir", str(status_dir)]
    result = runner.invoke(cli, [*base, "ingest", str(log), "--no-enrich"])
    assert result.exit_code == 0, result.output
    config = tmp_path / "enrich.toml"
    config.write_text(
        "[virustotal]\nrate_limit = 4\nrate_period = 2\ndaily_budget = 6\nbackoff = 0.05\n"
    )
    with FakeVirusTotal(key=KEY) as vt:
        vt.files[sha(3)] = FakeVirusTotal.file_report(sha(3), malicious=2, label="x")
        monkeypatch.setenv("MY_VT_KEY", KEY)
        monkeypatch.setenv("COWRIE_ENRICH_VIRUSTOTAL_KEY", "env:MY_VT_KEY")
        monkeypatch.setenv("COWRIE_ENRICH_VIRUSTOTAL_URL", vt.url + "/api/v3")
        result = runner.invoke(cli, [*base, "enrich", "--config", str(config), "--json"])
        assert result.exit_code == 0, result.output
        assert len(vt.requests) == len(rate_grants) == 6
        assert most_in_window(rate_grants, 2000) <= 4
    summary = json.loads(result.stdout)
    by_name = {p["provider"]: p for p in summary["providers"]}
    assert set(by_name) == {"offline", "virustotal"}
    assert by_name["virustotal"]["left_to_look_up"] == 6
    assert by_name["virustotal"]["stopped"] == "daily budget of 6 requests reached"
    assert by_name["offline"]["found"] == 12
    assert "6 left to look up" in result.stderr
    check_run = runner.invoke(cli, [*base, "refresh-views", "--check"])
    assert check_run.exit_code == 0, check_run.output
    # The key is nowhere: output, status files, the listing.
    listing = runner.invoke(cli, [*base, "enrich", "--list", "--json", "--config", str(config)])
    assert listing.exit_code == 0, listing.output
    texts = [result.output, listing.output, check_run.output]
    texts += [p.read_text() for p in status_dir.glob("*.json")]
    assert (status_dir / "enrichment.json").is_file()
    assert not any(KEY in t for t in texts)
    assert json.loads((status_dir / "enrichment.json").read_text())["state"] == "finished"
    # A rejected key: exit 1 with one line, and still no key.
    config.write_text("[virustotal]\nrate_limit = 4\nrate_period = 2\n")
    with FakeVirusTotal(key="other") as vt:
        monkeypatch.setenv("COWRIE_ENRICH_VIRUSTOTAL_URL", vt.url + "/api/v3")
        args = ["enrich", "--provider", "virustotal", "--refresh", "--config", str(config)]
        result = runner.invoke(cli, [*base, *args])
    assert result.exit_code == 1
    assert "virustotal: key rejected (HTTP 401)" in result.stderr and KEY not in result.output


def test_unconfigured_providers_are_refused(db_url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", db_url, "enrich", "--provider", "spur"])
    assert result.exit_code == 1
    assert "provider spur is not configured: set COWRIE_ENRICH_SPUR_KEY" in result.stderr
    result = CliRunner().invoke(cli, ["--db", db_url, "enrich", "--provider", "nope"])
    assert "unknown provider 'nope'" in result.stderr


def test_an_answer_echoing_the_key_is_masked(loaded: Engine) -> None:
    with FakeURLhaus(key=KEY) as urlhaus:
        urlhaus.urls[url(0)] = {"query_status": f"bad key {KEY}"}
        provider = URLhaus({"key": Secret(KEY), "url": urlhaus.url, "rate_limit": 100, **FAST})
        run = run_provider(loaded, provider)
    assert run.error_reasons == {"query_status bad key ***": 1}
    assert not rows(loaded, f"SELECT * FROM url_enrichment WHERE reason LIKE '%{KEY}%'")
    assert KEY not in repr(provider.settings) and KEY not in repr(Secret(KEY))


def test_a_stopped_run_keeps_its_answers_and_the_next_one_continues(loaded: Engine) -> None:
    with FakeVirusTotal(key=KEY) as vt:
        for i in range(12):
            vt.files[sha(i)] = FakeVirusTotal.file_report(sha(i), malicious=1, label="x")
        provider = vt_provider(vt, rate_limit=100, rate_period=1)
        calls = []

        def stop_after_five() -> None:
            calls.append(1)
            if len(calls) == 5:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            run_provider(loaded, provider, check_stop=stop_after_five)
        kept = rows(loaded, "SELECT COUNT(*) FROM file_enrichment")[0][0]
        assert kept == 5  # every answer received before the stop is committed
        rest = run_provider(loaded, provider)
        assert (rest.from_cache, rest.looked_up) == (5, 7)
        assert len(vt.requests) == 12  # nothing asked twice


def test_ingest_enrich_runs_the_configured_online_providers(
    db_url: str, tmp_path: Path, monkeypatch
) -> None:
    log = write_log(tmp_path / "cowrie.json", 3)
    with FakeDShield() as dshield:
        dshield.ips[ip(1)] = FakeDShield.report(ip(1), count=4, attacks=2)
        monkeypatch.setenv("COWRIE_ENRICH_DSHIELD_EMAIL", "ops@example.org")
        monkeypatch.setenv("COWRIE_ENRICH_DSHIELD_URL", dshield.url + "/api")
        base = ["--db", db_url, "--status-dir", str(tmp_path / "status")]
        plain = CliRunner().invoke(cli, [*base, "ingest", str(log), "--json"])
        assert plain.exit_code == 0, plain.output
        assert [p["provider"] for p in json.loads(plain.stdout)["enrichment"]] == ["offline"]
        assert dshield.requests == []  # configured, but only --enrich sends
        result = CliRunner().invoke(cli, [*base, "ingest", str(log), "--enrich", "--json"])
        assert result.exit_code == 0, result.output
    runs = {p["provider"]: p for p in json.loads(result.stdout)["enrichment"]}
    assert (runs["dshield"]["found"], runs["dshield"]["not_found"]) == (1, 2)
    assert len(dshield.requests) == 3
    show = CliRunner().invoke(cli, [*base, "show", "daily", str(DAY), "--format", "json"])
    assert json.loads(show.stdout)["sessions"]["dshield_flagged"] == 1
