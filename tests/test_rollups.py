"""Rollups equal their live views and a plain-Python computation, whatever the load order."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url

from cowrieprocessor.cli.main import cli
from cowrieprocessor.db.engine import create_engine_for_url
from cowrieprocessor.db.migrate import downgrade, upgrade
from cowrieprocessor.ingest.loader import Loader
from cowrieprocessor.rollups.definitions import PERIOD_VALUES, ROLLUPS, get
from cowrieprocessor.rollups.refresh import (
    RefreshStats,
    check,
    rebuild_all,
    refresh_buckets,
    refresh_dirty,
)
from cowrieprocessor.testing.postgres import create_database, drop_database
from tests.rollup_data import expected, expected_periods, generate, write_files


def _norm(row) -> tuple:
    return (str(row[0])[:10], *row[1:])


#: A command id read back as its text (strings), to compare with the Python computation.
_AS_TEXT = {"command_id": "(SELECT text FROM strings WHERE id = command_id)"}
#: A period value: an interned figure's text, else the value itself.
_PERIOD_VALUE = (
    "CASE WHEN value_id <> 0 THEN (SELECT text FROM strings WHERE id = value_id) ELSE value END"
)
_PERIOD_COLUMNS = ", ".join(
    _PERIOD_VALUE if c == "value" else c for c in PERIOD_VALUES.columns if c != "value_id"
)


def rows_of(engine: Engine, table: str, columns) -> set[tuple]:
    with engine.connect() as conn:
        selected = ", ".join(_AS_TEXT.get(c, c) for c in columns)
        result = conn.exec_driver_sql(f"SELECT {selected} FROM {table}")
        rows = [_norm(r) for r in result]
    assert len(rows) == len(set(rows)), f"duplicate rows in {table}"
    return set(rows)


def marks(engine: Engine) -> set[tuple]:
    return rows_of(engine, "rollup_dirty", ("day", "sensor"))


def period_rows(engine: Engine, table: str) -> set[tuple]:
    with engine.connect() as conn:
        result = conn.exec_driver_sql(f"SELECT {_PERIOD_COLUMNS} FROM {table}")
        rows = [(r[0], str(r[1])[:10], *r[2:]) for r in result]
    assert len(rows) == len(set(rows)), f"duplicate rows in {table}"
    return set(rows)


def assert_rollups(engine: Engine, events: list[dict]) -> None:
    want = expected(events)
    for rollup in ROLLUPS:
        table = rows_of(engine, rollup.name, rollup.columns)
        live = rows_of(engine, rollup.live, rollup.columns)
        assert live == want[rollup.name], f"{rollup.live} differs from the Python computation"
        assert table == live, f"{rollup.name} differs from {rollup.live}"
    # period_values is kept by difference: it must equal its definition and a plain sum.
    periods = period_rows(engine, PERIOD_VALUES.name)
    assert period_rows(engine, PERIOD_VALUES.live) == expected_periods(want)
    assert periods == expected_periods(want), "period_values differs from its definition"
    assert all(row[-1] > 0 for row in periods)
    assert check(engine) == []


def ingest(engine: Engine, paths) -> None:
    Loader(engine, batch_size=100).ingest(list(paths))


def test_derived_rollups_sum_an_earlier_finer_rollup() -> None:
    names = [r.name for r in ROLLUPS]
    for rollup in ROLLUPS:
        if rollup.derived_from is None:
            continue
        source = get(rollup.derived_from)
        assert names.index(source.name) < names.index(rollup.name), "refreshed after its source"
        assert set(rollup.key) < set(source.key)
        assert set(rollup.values) <= set(source.values)


def _key_index_columns(engine: Engine, table: str) -> list[str]:
    """The column list of the migrations' unique key index ``rk_<table>``, as written."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = "SELECT indexdef FROM pg_indexes WHERE indexname = %s"
        else:
            sql = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?"
        definition = conn.exec_driver_sql(sql, (f"rk_{table}",)).scalar_one()
    inside = definition[definition.index("(") + 1 : definition.rindex(")")]
    return [part.strip() for part in inside.split(",")]


def test_each_definition_is_the_schema_the_migrations_build(engine: Engine) -> None:
    """The one definition per rollup agrees with what the migrations installed: the table's
    columns, the live view's columns in the same order, and the key index (md5() of the
    unbounded text columns on PostgreSQL)."""
    pg = engine.dialect.name == "postgresql"
    schema = inspect(engine)
    for rollup in (*ROLLUPS, PERIOD_VALUES):
        assert [c["name"] for c in schema.get_columns(rollup.name)] == list(rollup.columns)
        assert [c["name"] for c in schema.get_columns(rollup.live)] == list(rollup.columns)
        want = [f"md5({c})" if pg and c in rollup.hashed else c for c in rollup.key]
        assert _key_index_columns(engine, rollup.name) == want, rollup.name


def test_sensor_names_with_sql_metacharacters_are_bound_not_spliced(
    engine: Engine, tmp_path: Path
) -> None:
    """Bucket refreshes, read-ahead threads included, bind the sensor as a parameter."""
    names = dict(
        zip(("alpha", "beta", "gamma"), ("a?b", "%s'%(day)s", ":sensor -- ?"), strict=True)
    )
    events = [{**e, "sensor": names[e["sensor"]]} for e in generate(29, sessions=40)]
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest(engine, write_files(events, logs, random.Random(29), files=3))
    stats = refresh_dirty(engine, readers=2)
    assert stats.buckets_total > 1
    assert {sensor for _, sensor in marks(engine)} == set()
    assert {r[1] for r in rows_of(engine, "daily_sessions", ("day", "sensor"))} == set(
        names.values()
    )
    assert_rollups(engine, events)


def test_credential_rollups_read_only_login_events(engine: Engine) -> None:
    sql = "SELECT * FROM daily_credentials_live WHERE day = '2026-01-01' AND sensor = 's'"
    names = {"ix_raw_events_logins"}
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # an empty table would be scanned
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
            # raw_events is partitioned: the plan names the partitions' copies of the index.
            names |= set(
                conn.exec_driver_sql(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'ix_raw_events_logins'::regclass"
                ).scalars()
            )
        else:
            plan = "\n".join(r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        conn.rollback()
    assert any(f" {name} " in plan for name in names), plan


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_any_order_of_ingests_and_refreshes(engine: Engine, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events = generate(seed, sessions=50)
    logs = tmp_path / "logs"
    logs.mkdir()
    paths = write_files(events, logs, rng, files=5)
    rng.shuffle(paths)
    loaded: list[dict] = []
    for path in paths:
        ingest(engine, [path])
        loaded += [json.loads(line) for line in path.read_text().splitlines()]
        action = rng.choice(["refresh", "none", "rebuild"])
        if action == "refresh":
            stats = refresh_dirty(engine)
            assert stats.marks_cleared == stats.buckets_total
            assert marks(engine) == set()
            assert_rollups(engine, loaded)
        elif action == "rebuild":
            rebuild_all(engine)
            assert_rollups(engine, loaded)
    refresh_dirty(engine)
    assert marks(engine) == set()
    assert_rollups(engine, events)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32),
    files=st.integers(1, 4),
    refresh_after=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_accumulated_loads_stay_exact(
    engine: Engine, tmp_path_factory, seed: int, files: int, refresh_after: list[bool]
) -> None:
    """Examples add to one database: sessions of later examples merge into earlier ones."""
    history = _HISTORY.setdefault(str(engine.url), [])
    rng = random.Random(seed)
    events = generate(seed, sessions=15)
    paths = write_files(events, tmp_path_factory.mktemp("logs"), rng, files=files)
    for path, refresh in zip(paths, refresh_after, strict=False):
        ingest(engine, [path])
        if refresh:
            refresh_dirty(engine)
    history += events
    refresh_dirty(engine)
    assert_rollups(engine, history)


_HISTORY: dict[str, list[dict]] = {}  # events loaded so far, per test database


def test_late_event_dirties_both_days(engine: Engine, tmp_path: Path) -> None:
    log = tmp_path / "a.json"
    base = {"session": "abc", "sensor": "s1", "src_ip": "10.0.0.1"}
    log.write_text(
        json.dumps(
            base
            | {
                "eventid": "cowrie.session.connect",
                "protocol": "ssh",
                "timestamp": "2024-03-02T00:10:00.000000Z",
            }
        )
        + "\n"
    )
    ingest(engine, [log])
    assert marks(engine) == {("2024-03-02", "s1")}
    refresh_dirty(engine)
    late = tmp_path / "b.json"
    late.write_text(
        json.dumps(
            base
            | {
                "eventid": "cowrie.login.failed",
                "username": "u",
                "password": "p",
                "timestamp": "2024-03-01T23:50:00.000000Z",
            }
        )
        + "\n"
    )
    ingest(engine, [late])
    assert marks(engine) == {("2024-03-01", "s1"), ("2024-03-02", "s1")}
    stats = refresh_dirty(engine)
    assert stats.buckets_total == 2
    assert rows_of(engine, "daily_sessions", ("day", "sensor", "sessions")) == {
        ("2024-03-01", "s1", 1)
    }
    assert check(engine) == []


def _line(session: str, sensor: str, ts: str, eventid: str, **fields) -> str:
    event = {"eventid": eventid, "session": session, "sensor": sensor, "timestamp": ts}
    return json.dumps(event | fields) + "\n"


def test_period_values_follow_a_session_across_week_and_month(
    engine: Engine, tmp_path: Path
) -> None:
    """A late event moves a session from Monday 2024-03-04 (2024-W10, March) to Thursday
    2024-02-29 (2024-W09, February): its period rows leave W10 and March, rows that reach 0
    are deleted, and a re-refresh of unchanged buckets changes nothing."""
    first = tmp_path / "a.json"
    first.write_text(
        _line("s1", "alpha", "2024-03-04T00:00:05Z", "cowrie.session.connect", src_ip="10.0.0.1")
        + _line(
            "s1",
            "alpha",
            "2024-03-04T00:00:06Z",
            "cowrie.login.failed",
            username="a:b",
            password="c",
        )
        + _line("s2", "beta", "2024-03-04T01:00:00Z", "cowrie.session.connect", src_ip="10.0.0.1")
        + _line(
            "s2",
            "beta",
            "2024-03-04T01:00:01Z",
            "cowrie.login.failed",
            username="a",
            password="b:c",
        )
        + _line(
            "s3",
            "alpha",
            "2024-03-05T02:00:00Z",
            "cowrie.login.failed",
            username="a",
            password="b:c",
        )
    )
    ingest(engine, [first])
    refresh_dirty(engine)
    combos = {
        (kind, start, sensor, value, total)
        for kind, start, figure, sensor, value, total in period_rows(engine, "period_values")
        if figure == "combination"
    }
    assert combos == {
        ("weekly", "2024-03-04", "alpha", "a:b:c", 2),
        ("monthly", "2024-03-01", "alpha", "a:b:c", 2),
        ("weekly", "2024-03-04", "beta", "a:b:c", 1),
        ("monthly", "2024-03-01", "beta", "a:b:c", 1),
    }
    late = tmp_path / "b.json"
    late.write_text(
        _line("s1", "alpha", "2024-02-29T23:59:59Z", "cowrie.session.connect", src_ip="10.0.0.2")
    )
    ingest(engine, [late])
    refresh_dirty(engine)
    ips = {
        (kind, start, sensor, value, total)
        for kind, start, figure, sensor, value, total in period_rows(engine, "period_values")
        if figure == "src_ip"
    }
    assert ips == {  # s1 now starts on Feb 29 with the smaller IP; s3 has none
        ("weekly", "2024-02-26", "alpha", "10.0.0.1", 1),
        ("monthly", "2024-02-01", "alpha", "10.0.0.1", 1),
        ("weekly", "2024-03-04", "beta", "10.0.0.1", 1),
        ("monthly", "2024-03-01", "beta", "10.0.0.1", 1),
    }
    before = period_rows(engine, "period_values")
    assert before == period_rows(engine, "period_values_live") and check(engine) == []
    with engine.begin() as conn:  # re-refresh buckets whose data did not change
        conn.exec_driver_sql(
            "INSERT INTO rollup_dirty (day, sensor, generation)"
            " SELECT day, sensor, 1 FROM daily_sessions"
        )
    assert refresh_dirty(engine).buckets_total == 3
    assert period_rows(engine, "period_values") == before
    rebuild_all(engine)
    assert period_rows(engine, "period_values") == before


def test_mark_made_during_refresh_survives(engine: Engine, tmp_path: Path) -> None:
    events = generate(7, sessions=30)
    logs = tmp_path / "logs"
    logs.mkdir()
    first, second = write_files(events, logs, random.Random(7), files=2)
    ingest(engine, [first])
    errors: list[BaseException] = []
    started = threading.Event()

    def load_second() -> None:
        try:
            eng = create_engine_for_url(engine.url.render_as_string(hide_password=False))
            ingest(eng, [second])
            eng.dispose()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    loader = threading.Thread(target=load_second)

    def on_progress(stats) -> None:
        if stats.buckets_done == 1 and not started.is_set():
            started.set()
            loader.start()  # a load while the refresh holds its transaction
            loader.join(0.5)

    refresh_dirty(engine, on_progress=on_progress)
    loader.join()
    assert not errors
    # Every bucket that differs from its live view must still be marked dirty.
    dirty = marks(engine)
    assert dirty, "the load that ran during the refresh left its marks"
    for diff in check(engine, limit=10_000):
        assert _norm(diff.row)[:2] in dirty, diff
    refresh_dirty(engine)
    assert_rollups(engine, events)


def test_two_refreshes_at_once(engine: Engine, tmp_path: Path) -> None:
    events = generate(11, sessions=40)
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest(engine, write_files(events, logs, random.Random(11), files=3))
    url = engine.url.render_as_string(hide_password=False)
    results: list[object] = []

    def run() -> None:
        eng = create_engine_for_url(url)
        try:
            results.append(refresh_dirty(eng))
        except BaseException as exc:  # pragma: no cover - reported below
            results.append(exc)
        finally:
            eng.dispose()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.buckets_total for r in results)[0] == 0  # the second found nothing left
    assert marks(engine) == set()
    assert_rollups(engine, events)


@pytest.mark.parametrize("readers", [0, 2])
def test_bucket_refresh_with_and_without_reader_threads(
    engine: Engine, tmp_path: Path, readers: int
) -> None:
    events = generate(13, sessions=40)
    logs = tmp_path / "logs"
    logs.mkdir()
    ingest(engine, write_files(events, logs, random.Random(13), files=3))
    threads_seen: set[str] = set()

    def on_progress(stats) -> None:
        threads_seen.update(t.name.rsplit("_", 1)[0] for t in threading.enumerate())

    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            buckets = [
                tuple(r) for r in conn.exec_driver_sql("SELECT day, sensor FROM rollup_dirty")
            ]
            assert len(buckets) > 1
            stats = RefreshStats()
            refresh_buckets(conn, buckets, stats, on_progress=on_progress, readers=readers)
            conn.exec_driver_sql("DELETE FROM rollup_dirty")
    assert stats.buckets_done == len(buckets)
    assert ("rollup-reader" in threads_seen) == (readers > 0)
    assert_rollups(engine, events)


def test_refresh_of_an_in_memory_database_reads_in_its_own_transaction(tmp_path: Path) -> None:
    engine = create_engine_for_url("sqlite://")  # other connections would see another database
    try:
        upgrade(engine)
        events = generate(17, sessions=30)
        logs = tmp_path / "logs"
        logs.mkdir()
        ingest(engine, write_files(events, logs, random.Random(17), files=2))
        stats = refresh_dirty(engine)
        assert stats.buckets_total > 1
        assert_rollups(engine, events)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_refresh_reads_in_its_transaction_when_readers_cannot_connect(
    pg_url: str, tmp_path: Path
) -> None:
    """A role at its connection limit: the refresh still completes, unthreaded.

    An owner role fills the database; the refresh runs as a new member of that role allowed
    one connection, which the refresh itself holds. The member never connected before: a
    role that had would find its slot taken until the server ends the old backend, a moment
    after the client disconnects."""
    suffix = uuid.uuid4().hex[:8]
    owner, limited = f"cowrie_owner_{suffix}", f"cowrie_one_conn_{suffix}"
    database = make_url(pg_url).set(database=f"cowrie_t_{uuid.uuid4().hex[:12]}")
    admin = create_engine_for_url(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE ROLE {owner} LOGIN")
            conn.exec_driver_sql(f"CREATE ROLE {limited} LOGIN CONNECTION LIMIT 1 IN ROLE {owner}")
        create_database(database.render_as_string(hide_password=False), owner=owner)
        events = _populate(
            database.set(username=owner).render_as_string(hide_password=False), tmp_path, seed=19
        )
        engine = create_engine_for_url(
            database.set(username=limited).render_as_string(hide_password=False)
        )
        try:
            threads_seen: set[str] = set()

            def on_progress(stats: RefreshStats) -> None:
                threads_seen.update(t.name.rsplit("_", 1)[0] for t in threading.enumerate())

            stats = refresh_dirty(engine, on_progress)
            assert stats.buckets_total > 1 and stats.buckets_done == stats.buckets_total
            assert "rollup-reader" not in threads_seen
            assert marks(engine) == set()
            assert_rollups(engine, events)
        finally:
            engine.dispose()
    finally:
        drop_database(database.render_as_string(hide_password=False))
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {limited}")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {owner}")
        admin.dispose()


def _populate(url: str, tmp_path: Path, seed: int = 5) -> list[dict]:
    engine = create_engine_for_url(url)
    try:
        upgrade(engine)
        events = generate(seed, sessions=40)
        logs = tmp_path / "logs"
        logs.mkdir()
        ingest(engine, write_files(events, logs, random.Random(seed), files=3))
    finally:
        engine.dispose()
    return events


def test_round_trip_with_views_and_data(empty_db_url: str, tmp_path: Path) -> None:
    events = _populate(empty_db_url, tmp_path)
    engine = create_engine_for_url(empty_db_url)
    try:
        downgrade(engine, "0001")
        names = set(inspect(engine).get_table_names()) | set(inspect(engine).get_view_names())
        assert not {r.name for r in ROLLUPS} & names and "rollup_dirty" not in names
        assert not {"period_values", "period_sources", "period_values_live"} & names
        assert "session_summaries" in names
        upgrade(engine)  # the migration fills the rollups of a populated database
        assert marks(engine) == set()
        assert_rollups(engine, events)
    finally:
        engine.dispose()


def test_period_and_command_count_migrations_on_populated_db(
    empty_db_url: str, tmp_path: Path
) -> None:
    events = _populate(empty_db_url, tmp_path, seed=13)
    added = {"period_values", "period_sources", "period_values_live", "daily_command_counts"}
    engine = create_engine_for_url(empty_db_url)
    try:
        refresh_dirty(engine)
        downgrade(engine, "0005")
        names = set(inspect(engine).get_table_names()) | set(inspect(engine).get_view_names())
        assert not added & names and "daily_command_counts_live" not in names
        indexes = {i["name"] for i in inspect(engine).get_indexes("session_summaries")}
        assert "rc_session_summaries_command_count" not in indexes
        upgrade(engine)  # fills the new rollups from what is stored
        names = set(inspect(engine).get_table_names()) | set(inspect(engine).get_view_names())
        assert added <= names
        indexes = {i["name"] for i in inspect(engine).get_indexes("session_summaries")}
        assert "rc_session_summaries_command_count" in indexes
        assert_rollups(engine, events)
    finally:
        engine.dispose()


def _files_v1(rows: set[tuple]) -> set[tuple]:
    """v2 rows without vt_label, summed back to the v1 key."""
    merged: dict[tuple, Counter] = {}
    for day, sensor, direction, url, sha, _label, transfers, sessions in rows:
        c = merged.setdefault((day, sensor, direction, url, sha), Counter())
        c["transfers"] += transfers
        c["sessions"] += sessions
    return {(*k, c["transfers"], c["sessions"]) for k, c in merged.items()}


def test_view_change_migration_on_populated_db(empty_db_url: str, tmp_path: Path) -> None:
    events = _populate(empty_db_url, tmp_path, seed=9)
    want = expected(events)["daily_files"]
    assert any(row[5] for row in want), "the data should hold VT labels"
    v1 = ("day", "sensor", "direction", "url", "shasum", "transfers", "sessions")
    engine = create_engine_for_url(empty_db_url)
    try:
        refresh_dirty(engine)
        downgrade(engine, "0002")
        columns = {c["name"] for c in inspect(engine).get_columns("daily_files")}
        assert "vt_label" not in columns
        assert rows_of(engine, "daily_files", v1) == _files_v1(want)
        assert rows_of(engine, "daily_files_live", v1) == _files_v1(want)
        upgrade(engine, "0003")
        assert rows_of(engine, "daily_files", get("daily_files").columns) == want
        upgrade(engine)  # the later rollups too, then every rollup is checked
        assert_rollups(engine, events)
    finally:
        engine.dispose()


@pytest.fixture
def cli_engines(monkeypatch, db_url):
    """Dispose the engines the CLI opens (the process would exit; a test must close them)."""
    import cowrieprocessor.cli.common as common

    engines: list[Engine] = []

    def tracked(url: str, **kwargs) -> Engine:
        engines.append(create_engine_for_url(url, **kwargs))
        return engines[-1]

    monkeypatch.setattr(common, "create_engine_for_url", tracked)
    yield
    for eng in engines:
        eng.dispose()


def test_cli_ingest_and_refresh_views(db_url: str, cli_engines, tmp_path: Path) -> None:
    events = generate(3, sessions=20)
    logs = tmp_path / "logs"
    logs.mkdir()
    write_files(events, logs, random.Random(3), files=2)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db_url, "ingest", "--no-refresh", str(logs)])
    assert result.exit_code == 0, result.output
    engine = create_engine_for_url(db_url)
    try:
        assert marks(engine)
        result = runner.invoke(cli, ["--db", db_url, "refresh-views", "--check"])
        assert result.exit_code == 0, result.output
        assert "dirty buckets" in result.output and "equals its live view" in result.output
        assert marks(engine) == set()
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE daily_sessions SET sessions = sessions + 1")
        result = runner.invoke(cli, ["--db", db_url, "refresh-views", "--check"])
        assert result.exit_code == 1
        assert "daily_sessions" in result.output
        result = runner.invoke(cli, ["--db", db_url, "refresh-views", "--full", "--check"])
        assert result.exit_code == 0, result.output
        assert "full rebuild" in result.output
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM period_values WHERE figure = 'src_ip'")
        result = runner.invoke(cli, ["--db", db_url, "refresh-views", "--check"])
        assert result.exit_code == 1 and "period_values: missing" in result.output
        result = runner.invoke(cli, ["--db", db_url, "refresh-views", "--full", "--check"])
        assert result.exit_code == 0, result.output
        (logs / "more.json").write_text(
            json.dumps(
                {
                    "eventid": "cowrie.session.connect",
                    "session": "zz",
                    "sensor": "new",
                    "timestamp": "2024-03-05T01:00:00.000000Z",
                    "src_ip": "10.9.9.9",
                }
            )
            + "\n"
        )
        result = runner.invoke(cli, ["--db", db_url, "ingest", "--json", str(logs)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["refresh"]["buckets"] == 1
        assert marks(engine) == set()
        assert_rollups(engine, [*events, json.loads((logs / "more.json").read_text())])
    finally:
        engine.dispose()
