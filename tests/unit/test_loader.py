"""The loader's logic without models: reading records, going around refused documents, checking HTTP answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli import load_parser, run_load
from app.loader import (
    BadRecord,
    DocumentsRefused,
    HttpWriter,
    Invalid,
    Loader,
    LoadStopped,
    OptimizeFailed,
    RequestFailed,
    read_corpus,
    read_records,
)


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def doc(i: int, **fields: Any) -> dict[str, Any]:
    return {"_id": f"d{i}", "title": f"title {i}", "text": f"body {i}", **fields}


def empty(i: int) -> dict[str, Any]:
    return {"_id": f"d{i}", "title": "", "text": ""}


class FakeWriter:
    """Refuses, atomically, any batch that holds a document with neither title nor body, like the service."""

    def __init__(self, *, name_invalid: bool = False) -> None:
        self.name_invalid = name_invalid
        self.calls: list[list[str]] = []
        self.written: list[str] = []
        self.optimized = False

    def write(self, docs: list[dict[str, Any]]) -> None:
        self.calls.append([d["id"] for d in docs])
        bad = [(i, d) for i, d in enumerate(docs) if not d["title"] and not d["body"]]
        if bad:
            invalid = [Invalid(i, d["id"], "neither title nor body") for i, d in bad] if self.name_invalid else None
            raise DocumentsRefused(f"document {bad[0][1]['id']!r} has neither title nor body", invalid)
        self.written += [d["id"] for d in docs]

    def optimize(self) -> None:
        self.optimized = True


def test_records_without_a_usable_id_are_refused_with_their_line(tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "c.jsonl", [
        doc(1), {"title": "no id", "text": "x"}, {"_id": None, "title": "t", "text": "x"}, {"id": " ", "title": "t"},
        {"id": [1], "title": "t"}, {"id": 7, "title": "int id"}, "not json", "[1, 2]", doc(1)])
    records = list(read_records(file))
    assert [r.id for r in records] == ["d1", None, None, None, None, "7", None, None, None]
    problems = {r.where: r.problem for r in records if r.problem}
    assert "no id" in problems[f"{file}:2"] and "no id" in problems[f"{file}:3"]
    assert "empty id" in problems[f"{file}:4"]
    assert "string or an integer" in problems[f"{file}:5"]
    assert "not JSON" in problems[f"{file}:7"]
    assert "not a JSON object" in problems[f"{file}:8"]
    assert problems[f"{file}:9"] == f"duplicate id 'd1', first at {file}:1"
    with pytest.raises(BadRecord, match=r"c\.jsonl:2: record has no id"):
        list(read_corpus(file))  # the library raises; only the CLI exits


def test_default_stops_at_the_first_refused_batch_and_writes_nothing_of_it() -> None:
    writer = FakeWriter()
    records = _records([doc(1), doc(2), doc(3), doc(4), empty(5), doc(6), doc(7)])
    with pytest.raises(LoadStopped) as stop:
        Loader(writer).run(records, batch_size=3)
    assert stop.value.refused and "'d5'" in stop.value.message and "neither title nor body" in stop.value.message
    assert writer.written == ["d1", "d2", "d3"]
    assert stop.value.report.written == 3 and stop.value.report.resume_after == "d3"
    assert not writer.optimized


@pytest.mark.parametrize("name_invalid", [False, True], ids=["bisection", "named-by-the-answer"])
def test_skip_invalid_writes_every_good_document_once_and_lists_the_refused(name_invalid: bool) -> None:
    writer = FakeWriter(name_invalid=name_invalid)
    records = _records([doc(i) if i not in (3, 8) else empty(i) for i in range(1, 11)])
    report = Loader(writer, skip_invalid=True).run(records, batch_size=8)
    good = [f"d{i}" for i in range(1, 11) if i not in (3, 8)]
    assert sorted(writer.written) == sorted(good)  # each exactly once
    assert [(s.id, s.reason) for s in report.skipped] == [
        ("d3", "document 'd3' has neither title nor body" if not name_invalid else "neither title nor body"),
        ("d8", "document 'd8' has neither title nor body" if not name_invalid else "neither title nor body")]
    assert report.written == 8 and writer.optimized
    if name_invalid:  # the answer names them: one resend per refused batch, no bisection
        assert len(writer.calls) == 3


def test_an_answer_that_does_not_match_the_batch_falls_back_to_bisection() -> None:
    class Lying(FakeWriter):
        def write(self, docs: list[dict[str, Any]]) -> None:
            try:
                super().write(docs)
            except DocumentsRefused as e:
                raise DocumentsRefused(e.message, [Invalid(0, "someone-else", "?")]) from None

    writer = Lying()
    report = Loader(writer, skip_invalid=True).run(_records([doc(1), empty(2), doc(3), doc(4)]), batch_size=4)
    assert sorted(writer.written) == ["d1", "d3", "d4"] and [s.id for s in report.skipped] == ["d2"]


def _records(rows: list[dict[str, Any]], tmp: Path | None = None) -> list[Any]:
    from app.loader import Record, to_document

    return [Record(f"c.jsonl:{n}", to_document(r, r["_id"])) for n, r in enumerate(rows, 1)]


# --- HTTP answers ---------------------------------------------------------------------------------------------


def mock_client(handler: Any) -> httpx.Client:
    return httpx.Client(base_url="http://multivec.test", transport=httpx.MockTransport(handler))


def error(status: int, code: str, message: str, detail: Any = None) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "detail": detail})


def test_http_writer_sends_the_api_key_and_the_admin_token_only_where_they_belong() -> None:
    seen: dict[str, httpx.Headers] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[request.url.path] = request.headers
        return httpx.Response(200, json={})

    writer = HttpWriter(mock_client(handler), api_key="rw-key", admin_token="admin-tok")
    writer.write([{"id": "a", "title": "t", "body": "b"}])
    writer.optimize()
    assert seen["/documents"]["api-key"] == "rw-key" and "authorization" not in seen["/documents"]
    assert seen["/admin/optimize"]["authorization"] == "Bearer admin-tok"


def test_http_writer_turns_each_answer_into_the_right_error() -> None:
    answers = iter([
        error(422, "invalid_input", "documents[1]: empty", {"invalid": [{"index": 1, "id": "b", "message": "empty"}]}),
        error(422, "invalid_input", "document 'b' has neither title nor body"),
        error(422, "invalid_input", "documents.1.title: Input should be a valid string",
              [{"key": "documents.1.title", "message": "Input should be a valid string"}]),
        error(422, "invalid_input", "documents[1].title: Input should be a valid string",  # as the service writes it
              [{"key": "documents[1].title", "message": "Input should be a valid string"}]),
        error(401, "unauthorized", "writes need the read-write key"),
        error(503, "store_unavailable", "store down"),
        httpx.Response(502, text="<html>bad gateway</html>"),
    ])
    writer = HttpWriter(mock_client(lambda _: next(answers)))
    batch = [{"id": "a"}, {"id": "b"}]
    with pytest.raises(DocumentsRefused) as named:
        writer.write(batch)
    assert named.value.invalid == [Invalid(1, "b", "empty")]
    with pytest.raises(DocumentsRefused) as unnamed:
        writer.write(batch)
    assert unnamed.value.invalid is None
    with pytest.raises(DocumentsRefused) as by_schema:
        writer.write(batch)
    assert by_schema.value.invalid == [Invalid(1, None, "title: Input should be a valid string")]
    with pytest.raises(DocumentsRefused) as by_schema:
        writer.write(batch)
    assert by_schema.value.invalid == [Invalid(1, None, "title: Input should be a valid string")]
    with pytest.raises(RequestFailed, match=r"401 unauthorized: writes need the read-write key.*MULTIVEC_API_KEY"):
        writer.write(batch)
    with pytest.raises(RequestFailed, match="503 store_unavailable: store down"):
        writer.write(batch)
    with pytest.raises(RequestFailed, match="502 Bad Gateway: <html>bad gateway</html>"):
        writer.write(batch)


def test_http_writer_says_when_the_service_cannot_be_reached() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    writer = HttpWriter(mock_client(refuse))
    with pytest.raises(RequestFailed, match=r"cannot reach the service at http://multivec\.test"):
        writer.write([{"id": "a"}])
    with pytest.raises(OptimizeFailed, match="cannot reach"):
        writer.optimize()


def test_skip_invalid_does_not_skip_past_a_refused_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MULTIVEC_API_KEY", raising=False)
    file = write_jsonl(tmp_path / "c.jsonl", [doc(1), doc(2)])
    client = mock_client(lambda _: error(401, "unauthorized", "writes need the read-write key"))
    code = run_load(load_parser().parse_args([str(file), "--skip-invalid"]), client=client)
    assert code == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("load stopped: POST /documents answered 401") and "MULTIVEC_API_KEY" in last
    assert "0 documents written" in last


def test_every_refused_record_is_listed_when_the_stop_line_cannot_name_them_all(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = write_jsonl(tmp_path / "c.jsonl", [doc(1)] + [{"title": f"no id {i}"} for i in range(7)])
    client = mock_client(lambda _: pytest.fail("nothing may be sent"))
    assert run_load(load_parser().parse_args([str(file)]), client=client) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln for ln in lines if ln.startswith("refused ")] == [
        f"refused {file}:{n}: record has no id (`id` or `_id`)" for n in range(2, 9)]
    assert lines[-1].startswith("load stopped: 7 record(s) refused before anything was sent: ")
    assert "and 2 more (listed above)" in lines[-1] and "0 documents written" in lines[-1]


def test_the_loader_takes_the_service_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by trying it: migrate, backup and restore read MULTIVEC_SERVICE_URL; load did not."""
    from app.cli import load_parser

    monkeypatch.setenv("MULTIVEC_SERVICE_URL", "http://127.0.0.1:18999")
    assert load_parser().parse_args(["corpus.jsonl"]).url == "http://127.0.0.1:18999"
    monkeypatch.delenv("MULTIVEC_SERVICE_URL")
    assert load_parser().parse_args(["corpus.jsonl"]).url == "http://127.0.0.1:8000"
    monkeypatch.setenv("MULTIVEC_SERVICE_URL", "")  # empty means unset
    assert load_parser().parse_args(["corpus.jsonl"]).url == "http://127.0.0.1:8000"


def test_a_blank_service_url_is_refused_not_taken_as_a_url(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Found by trying it: MULTIVEC_SERVICE_URL=" " gave "cannot reach the service at  :"."""
    from app.cli import load_parser

    monkeypatch.setenv("MULTIVEC_SERVICE_URL", "  ")
    with pytest.raises(SystemExit) as exc:
        load_parser()
    assert exc.value.code == 2
    assert "MULTIVEC_SERVICE_URL '  ' is blank: name the service's URL" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--limit", "0"], ["--limit", "-1"], ["--batch", "0"]])
def test_a_limit_or_batch_below_one_is_refused(bad: list[str]) -> None:
    """Found by trying it: --limit 0 loaded everything and --limit -1 all but the last record."""
    from app.cli import load_parser

    with pytest.raises(SystemExit):
        load_parser().parse_args(["corpus.jsonl", *bad])


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    """Found by trying it: uvicorn wrapped 99999 to 34463 and announced 99999."""
    import argparse

    from app.cli import _port

    with pytest.raises(argparse.ArgumentTypeError):
        _port(port)


def _load(argv: list[str]) -> None:
    from app.cli import load_parser

    load_parser().parse_args(argv)


def _migrate(argv: list[str]) -> None:
    from app.versioning.cli import parser

    parser().parse_args([*argv, "status"])


def _backup(argv: list[str]) -> None:
    from app.backup_cli import parser

    parser("backup").parse_args(argv)


def _canary(argv: list[str]) -> None:
    from app.eval.canary import main

    main(["run", "pairs.jsonl", *argv])


@pytest.mark.parametrize("command", [_load, _migrate, _backup, _canary])
@pytest.mark.parametrize(("url", "says"), [
    ("  ", "'  ' is blank: name the service's URL (http://host:port)"),
    ("127.0.0.1:8000", "'127.0.0.1:8000' is not the service's URL: write it as http://host:port"),
    ("localhost:8000", "'localhost:8000' is not the service's URL"),  # read as scheme `localhost` before
    ("ftp://example.org", "'ftp://example.org' is not the service's URL"),
    ("http://", "'http://' is not the service's URL"),
    # the HTTP client's parse raised a 45-line traceback on these (a break test)
    ("http://[::1", "'http://[::1' is not the service's URL"),
    ("http://127.0.0.1:abc", "'http://127.0.0.1:abc' is not the service's URL"),
    ("http://127.0.0.1:99999", "'http://127.0.0.1:99999' is not the service's URL"),
])
def test_every_url_option_refuses_what_is_not_a_service_url_in_one_line(
        command: Callable[[list[str]], None], url: str, says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by trying it: `--url "  "` and `--url 127.0.0.1:8000` ended in the HTTP client's "cannot reach the
    service at  : Request URL is missing an 'http://' or 'https://' protocol" after the work had started."""
    with pytest.raises(SystemExit) as exc:
        command(["--url", url])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "argument --url: URL " + says in err and "Traceback" not in err, err


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", " https://search.example.org/ ", "HTTP://host:1"])
def test_a_service_url_is_taken_without_the_spaces_at_its_ends(url: str) -> None:
    from app.versioning.cli import parser

    assert parser().parse_args(["--url", url, "status"]).url == url.strip()


def test_a_service_url_setting_without_a_scheme_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.settings import Settings

    monkeypatch.setenv("MULTIVEC_SERVICE_URL", "localhost:8000")
    with pytest.raises(ValueError, match="'localhost:8000' is not the service's URL: write it as http://host:port"):
        Settings()


def test_batches_are_cut_by_bytes_of_json_too_and_a_document_over_them_alone_is_refused() -> None:
    """20 documents of a million emoji each fit the characters of one request but made an 80 MB body, a 413 that
    stopped the load (a break test): batches are cut by bytes of JSON (non-ASCII escaped) as well."""
    from app.load_writers import BatchLimits
    from app.loader import Record, _over, cut, record_bytes

    docs = [Record(f"c.jsonl:{i}", {"id": f"e{i}", "title": "t", "body": "\U0001f600" * 100}) for i in range(10)]
    one = record_bytes(docs[0].doc)  # type: ignore[arg-type]
    assert one > 12 * 100  # each emoji escaped as a surrogate pair: 12 bytes
    limits = BatchLimits(documents=64, chars=10**9, bytes=3 * one)
    batches = list(cut(docs, 64, limits))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert all(sum(record_bytes(r.doc) for r in b) <= limits.bytes for b in batches)  # type: ignore[arg-type]
    refused = _over(docs[0], BatchLimits(documents=64, chars=10**9, bytes=one - 1))
    assert refused.doc is None and refused.problem and "bytes of JSON, over the" in refused.problem
    assert _over(docs[0], limits) is docs[0]
