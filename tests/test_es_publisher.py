"""Bulk publishing against the fake server over real HTTP with the real 8.x client."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from cowrieprocessor.es.bulk import BulkItem, batches, write_dry_run, write_dry_run_dir
from cowrieprocessor.es.names import ReportDocumentError, document_id, target_index, write_alias
from cowrieprocessor.es.publisher import (
    ESPublishError,
    PublishProgress,
    RetryPolicy,
    publish_reports,
)
from cowrieprocessor.es.settings import create_client, load_settings
from cowrieprocessor.es.setup import setup_elasticsearch
from cowrieprocessor.testing.es_documents import example_report, example_reports
from cowrieprocessor.testing.es_server import FakeElasticsearch

DAILY_ID = "honeypot-01:daily:2024-06-01"


class Sleeps:
    """Records requested sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as fake:
        yield fake
        assert fake.errors == []


def _client(server: FakeElasticsearch, timeout: float = 5.0) -> Elasticsearch:
    return _client_for(server.url, timeout)


def _client_for(url: str, timeout: float = 5.0) -> Elasticsearch:
    return create_client(load_settings(hosts=url, request_timeout=timeout, environ={}))


@pytest.fixture
def client(server: FakeElasticsearch) -> Iterator[Elasticsearch]:
    es = _client(server)
    setup_elasticsearch(es)
    server.requests.clear()
    yield es
    es.close()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _all_ids(server: FakeElasticsearch) -> list[str]:
    return sorted(doc_id for _, doc_id, _ in server.all_documents())


def _expected_ids() -> list[str]:
    return sorted(document_id(d) for d in example_reports())


def test_document_ids_and_targets() -> None:
    assert document_id(example_report("daily")) == DAILY_ID
    assert document_id(example_report("weekly")) == "honeypot-01:weekly:2024-W22"
    assert document_id(example_report("monthly", sensor="aggregate")) == (
        "aggregate:monthly:2024-05"
    )
    assert target_index(example_report("weekly")) == "cowrie.reports.weekly-write"
    assert target_index(example_report("daily"), prefix="x.y") == "x.y.daily-write"
    dated = {t: target_index(example_report(t), index_mode="dated") for t in ("daily",)}
    assert dated == {"daily": "cowrie.reports.daily-2024.06"}
    assert target_index(example_report("weekly", period="2025-W01"), index_mode="dated") == (
        "cowrie.reports.weekly-2025"
    )
    assert target_index(example_report("monthly"), index_mode="dated") == (
        "cowrie.reports.monthly-2024"
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("sensor"), "without sensor"),
        (lambda d: d.pop("date_utc"), "without date_utc"),
        (lambda d: d.update(report_type="yearly"), "report_type must be"),
    ],
)
def test_unnameable_document_is_rejected_before_any_request(
    server: FakeElasticsearch, client: Elasticsearch, mutate, message: str
) -> None:
    doc = example_report("daily")
    mutate(doc)
    with pytest.raises(ReportDocumentError, match=message):
        publish_reports(client, [example_report("weekly"), doc])
    assert server.requests == []


def test_publish_all_types_exactly_once(server: FakeElasticsearch, client: Elasticsearch) -> None:
    progress: list[PublishProgress] = []
    result = publish_reports(client, example_reports(), progress=progress.append)
    assert result.ok and result.accepted == 6 and result.failed == 0
    assert result.bulk_attempts == 1 and result.retries == 0
    assert {o.status for o in result.outcomes} == {"created"}
    assert _all_ids(server) == _expected_ids()
    daily = server.documents(write_alias("daily"))
    assert daily[DAILY_ID] == example_report("daily")
    assert progress[-1].published == 6 and progress[-1].pending == 0

    again = publish_reports(client, example_reports())
    assert again.ok and {o.status for o in again.outcomes} == {"updated"}
    assert _all_ids(server) == _expected_ids()
    assert server.version_of(write_alias("daily"), DAILY_ID) == 2


def test_item_level_429_resends_only_failed_items(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.fail_items({DAILY_ID, "aggregate:weekly:2024-W22"}, times=2)
    progress: list[PublishProgress] = []
    result = publish_reports(
        client, example_reports(), sleep=sleeps, random=lambda: 1.0, progress=progress.append
    )
    assert result.ok and result.accepted == 6
    assert result.bulk_attempts == 3 and result.retries == 2
    bulks = server.bulk_requests()
    sent_ids = [[line["index"]["_id"] for line in r.ndjson()[::2]] for r in bulks]
    assert len(sent_ids[0]) == 6
    assert (
        sorted(sent_ids[1])
        == sorted(sent_ids[2])
        == sorted([DAILY_ID, "aggregate:weekly:2024-W22"])
    )
    outcome = {o.doc_id: o for o in result.outcomes}
    assert outcome[DAILY_ID].attempts == 3
    assert outcome["honeypot-01:monthly:2024-05"].attempts == 1
    # full jitter with random() == 1 gives the cap: 0.5, 1.0
    assert sleeps.calls == [0.5, 1.0]
    assert [p.bulk_attempts for p in progress] == [1, 2, 3]
    assert [p.published for p in progress] == [4, 4, 6]
    assert "429" in (progress[0].last_error or "")
    assert _all_ids(server) == _expected_ids()
    for _, doc_id, _src in server.all_documents():
        assert (
            server.version_of(
                target_index(next(d for d in example_reports() if document_id(d) == doc_id)),
                doc_id,
            )
            == 1
        )


@pytest.mark.parametrize("status", [503, 429, 502, 504])
def test_whole_request_transient_failures_are_retried(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps, status: int
) -> None:
    server.fail_requests(times=2, status=status)
    result = publish_reports(client, example_reports(), sleep=sleeps)
    assert result.ok
    assert result.bulk_attempts == 3 and result.retries == 2
    assert len(sleeps.calls) == 2
    assert _all_ids(server) == _expected_ids()


def test_dropped_connections_are_retried_idempotently(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.drop_connections(times=1)
    server.drop_connections(times=1, after_processing=True)
    result = publish_reports(client, example_reports(), sleep=sleeps)
    assert result.ok and result.retries == 2
    assert _all_ids(server) == _expected_ids()
    # the second request was applied, then its answer lost; the third overwrote by _id
    assert server.version_of(write_alias("daily"), DAILY_ID) == 2


def test_slow_response_times_out_and_is_retried(server: FakeElasticsearch, sleeps: Sleeps) -> None:
    es = _client(server, timeout=0.3)
    try:
        setup_elasticsearch(es)
        server.delay_responses(1.5, times=1)
        result = publish_reports(es, example_reports(), sleep=sleeps)
    finally:
        es.close()
    assert result.ok and result.bulk_attempts == 2
    assert "timed out" in (result.last_error or "")
    assert _all_ids(server) == _expected_ids()


def test_permanent_mapping_errors_are_reported_not_retried(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.reject_documents(lambda doc_id, src: src.get("sensor") == "aggregate")
    server.fail_items({DAILY_ID}, times=1)
    result = publish_reports(client, example_reports(), sleep=sleeps)
    assert not result.ok
    assert result.accepted == 3 and result.failed == 3
    assert result.bulk_attempts == 2  # one retry for the 429 only
    for failure in result.failures:
        assert failure.doc_id.startswith("aggregate:")
        assert failure.http_status == 400
        assert failure.error_type == "mapper_parsing_exception"
        assert failure.attempts == 1
    assert _all_ids(server) == sorted(i for i in _expected_ids() if i.startswith("honeypot"))


def test_strict_mapping_rejects_drift(server: FakeElasticsearch, client: Elasticsearch) -> None:
    drifted = example_report("daily")
    drifted["sessions"]["new_counter"] = 1
    wrong_type = example_report("weekly")
    wrong_type["sessions"]["total"] = "1532"
    result = publish_reports(client, [drifted, wrong_type, example_report("monthly")])
    failures = {o.doc_id: o for o in result.failures}
    assert failures[DAILY_ID].error_type == "strict_dynamic_mapping_exception"
    assert "new_counter" in (failures[DAILY_ID].error or "")
    assert failures["honeypot-01:weekly:2024-W22"].error_type == "mapper_parsing_exception"
    assert result.accepted == 1


def test_gives_up_after_max_attempts(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.fail_items({DAILY_ID}, times=100)
    policy = RetryPolicy(max_attempts=4, initial_backoff=1.0, max_backoff=3.0)
    result = publish_reports(client, example_reports(), retry=policy, sleep=sleeps)
    assert result.failed == 1 and result.accepted == 5
    assert result.bulk_attempts == 4 and result.retries == 3
    (failure,) = result.failures
    assert failure.http_status == 429 and failure.attempts == 4
    assert "gave up after 4 attempts" in (failure.error or "")
    caps = [1.0, 2.0, 3.0]
    assert len(sleeps.calls) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps.calls, caps, strict=True))


def test_total_time_budget_bounds_retries(server: FakeElasticsearch, client: Elasticsearch) -> None:
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        now[0] += seconds

    server.fail_requests(times=100, status=503)
    policy = RetryPolicy(
        max_attempts=50, initial_backoff=1.0, max_backoff=8.0, max_total_seconds=20
    )
    result = publish_reports(
        client,
        example_reports(),
        retry=policy,
        sleep=fake_sleep,
        random=lambda: 1.0,
        clock=lambda: now[0],
    )
    assert result.failed == 6
    # sleeps 1, 2, 4, 8 = 15 s; the next 8 s would exceed 20 s
    assert result.sleeps == [1.0, 2.0, 4.0, 8.0]
    assert result.bulk_attempts == 5
    assert all("time budget" in (o.error or "") for o in result.outcomes)


def test_real_sleep_backoff_is_bounded(server: FakeElasticsearch, client: Elasticsearch) -> None:
    import time

    server.fail_requests(times=2, status=503)
    policy = RetryPolicy(initial_backoff=0.05, max_backoff=0.1)
    started = time.monotonic()
    result = publish_reports(client, example_reports(), retry=policy)
    assert result.ok
    assert all(0 <= s <= 0.1 for s in result.sleeps)
    assert time.monotonic() - started < 2


def test_non_transient_request_error_fails_batch_without_retry(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.fail_requests(times=1, status=401)
    result = publish_reports(client, example_reports(), sleep=sleeps)
    assert result.failed == 6 and result.bulk_attempts == 1 and sleeps.calls == []
    assert {o.http_status for o in result.outcomes} == {401}


def test_chunks_are_retried_independently(
    server: FakeElasticsearch, client: Elasticsearch, sleeps: Sleeps
) -> None:
    server.fail_items({DAILY_ID}, times=1)
    result = publish_reports(client, example_reports(), chunk_size=4, sleep=sleeps)
    assert result.ok and result.bulk_attempts == 3
    assert [len(r.ndjson()) // 2 for r in server.bulk_requests()] == [4, 1, 2]


def test_missing_write_alias_is_an_error(server: FakeElasticsearch) -> None:
    es = _client(server)
    try:
        with pytest.raises(ESPublishError, match="run es-setup first"):
            publish_reports(es, example_reports())
        assert server.bulk_requests() == []
        result = publish_reports(es, example_reports(), index_mode="dated")
    finally:
        es.close()
    assert result.ok
    assert sorted(server.indices) == [
        "cowrie.reports.daily-2024.06",
        "cowrie.reports.monthly-2024",
        "cowrie.reports.weekly-2024",
    ]


def test_dated_mode_uses_templates(server: FakeElasticsearch) -> None:
    es = _client(server)
    try:
        setup_elasticsearch(es, index_mode="dated")
        drifted = example_report("daily")
        drifted["extra"] = True
        result = publish_reports(es, [*example_reports(), drifted], index_mode="dated")
    finally:
        es.close()
    assert result.accepted == 6 and result.failed == 1
    assert result.failures[0].error_type == "strict_dynamic_mapping_exception"
    settings = server.indices["cowrie.reports.daily-2024.06"].settings
    assert settings["index"]["lifecycle"] == {"name": "cowrie.reports-dated-policy"}


def test_dry_run_stream_is_exact_bulk_body(
    server: FakeElasticsearch, client: Elasticsearch
) -> None:
    out = io.StringIO()
    docs = example_reports()
    assert write_dry_run(docs, out) == 6
    lines = out.getvalue().splitlines()
    assert len(lines) == 12
    assert out.getvalue().endswith("\n")
    for action_line, source_line, doc in zip(lines[::2], lines[1::2], docs, strict=True):
        assert orjson.loads(action_line) == {
            "index": {"_index": target_index(doc), "_id": document_id(doc)}
        }
        assert orjson.loads(source_line) == doc
    assert server.requests == []
    publish_reports(client, docs)
    (bulk,) = server.bulk_requests()
    assert bulk.body.decode() == out.getvalue()


def test_dry_run_directory(tmp_path: Path) -> None:
    paths = write_dry_run_dir(example_reports(), tmp_path / "out", index_mode="dated")
    assert sorted(paths) == ["daily", "monthly", "weekly"]
    for report_type, path in paths.items():
        assert path == tmp_path / "out" / f"{report_type}.ndjson"
        lines = path.read_bytes().splitlines()
        assert len(lines) == 4
        actions = [orjson.loads(line) for line in lines[::2]]
        assert {a["index"]["_index"].split("-")[0] for a in actions} == {
            f"cowrie.reports.{report_type}"
        }
        assert [orjson.loads(line)["report_type"] for line in lines[1::2]] == [report_type] * 2


def test_empty_input_sends_nothing(server: FakeElasticsearch, client: Elasticsearch) -> None:
    result = publish_reports(client, [])
    assert result.ok and result.bulk_attempts == 0
    assert server.requests == []


def test_refused_credentials_are_described_once(server: FakeElasticsearch) -> None:
    admin = _client(server)
    setup_elasticsearch(admin)
    admin.close()
    server.require_auth(username="cowrie", password="right-password")
    settings = load_settings(
        hosts=server.url, username="cowrie", password="wrong-password", environ={}
    )
    es = create_client(settings)
    try:
        with pytest.raises(ESPublishError) as alias:
            publish_reports(es, example_reports())
        result = publish_reports(es, example_reports(), index_mode="dated")
    finally:
        es.close()
    assert str(alias.value) == (
        "cannot check write alias cowrie.reports.daily-write: HTTP 401 Unauthorized"
    )
    server_reason = "unable to authenticate user [cowrie] for REST request [/_bulk]"
    assert result.failed == 6 and result.bulk_attempts == 1
    for outcome in result.outcomes:
        assert (outcome.http_status, outcome.error_type, outcome.error) == (
            401,
            "security_exception",
            server_reason,
        )
        assert outcome.reason == f"HTTP 401 security_exception: {server_reason}"
    assert result.last_error == f"HTTP 401 security_exception: {server_reason}"


def test_connection_errors_name_the_node(sleeps: Sleeps) -> None:
    with FakeElasticsearch() as gone:
        url = gone.url
    es = _client_for(url)
    try:
        result = publish_reports(
            es,
            example_reports(),
            index_mode="dated",
            retry=RetryPolicy(max_attempts=2),
            sleep=sleeps,
        )
    finally:
        es.close()
    assert result.failed == 6 and result.bulk_attempts == 2
    assert (result.last_error or "").startswith(f"connection error with {url}: ")
    assert "HTTPConnection(" not in (result.last_error or "")
    failure = result.outcomes[0]
    assert failure.error_type == "connection_error"
    assert failure.reason == (
        f"connection_error: gave up after 2 attempts; last error: {result.last_error}"
    )


def test_batches_cut_by_count_and_bytes_without_building_ahead() -> None:
    pulled: list[int] = []

    def items(sizes: list[int]) -> Iterator[BulkItem]:
        pulled.clear()
        for n, size in enumerate(sizes):
            pulled.append(n)
            # one byte of action line, the rest source, plus the two newlines
            yield BulkItem(f"d{n}", "i", "daily", b"a", b"s" * (size - 3))

    def cut(sizes: list[int], size: int, max_bytes: int) -> list[tuple[list[str], int]]:
        return [
            ([item.doc_id for item in batch], len(pulled))
            for batch in batches(items(sizes), size, max_bytes)
        ]

    # full by count: handed on before the next document is built
    assert cut([4] * 5, 2, 1000) == [(["d0", "d1"], 2), (["d2", "d3"], 4), (["d4"], 5)]
    # full by bytes: cut before the item that would pass the cap; a big one goes alone
    assert cut([4, 4, 4, 10, 3, 3], 10, 10) == [
        (["d0", "d1"], 3),
        (["d2"], 4),
        (["d3"], 5),
        (["d4", "d5"], 6),
    ]
