"""The hostile suite: over a thousand generated cases (tests/hostile_cases.py), each ending in a sentence
or a documented result, never a traceback (issue 24). The run prints how many ran (``hostile suite:``).

- identifiers: ``ModelKey.parse`` either parses (and the key round-trips and stays inside the root) or
  raises ``IdentifierError`` with a sentence; looking one up in an archive is a sentence too.
- JSON texts: ``loads_strict`` returns a value or raises ``JSONReadError``; ``load_document`` of the
  same bytes in a file returns a document or raises ``CurveDocumentError``; nothing else.
- archive files: a damaged file of one version makes ``versions verify --all`` report it (exit 1) and
  leaves the other version verified.
- command lines: every command that reads or refuses exits 0, 1, 2 or 141 with no traceback, and a
  non-zero exit says why in words.
- HTTP requests: the metrics endpoint, the HTTP SD server and the serving service (``serve-model``) answer
  every raw request with a documented status (or close a connection that is not HTTP) and keep answering a
  normal request afterwards; every POST body the serving service refuses gets a 4xx ``{"error": sentence}``
  (a 500 only when the model itself raised, which it counts).
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
import requests
from curvewatch import CurveRecorder
from curvewatch._json_reader import JSONReadError, loads_strict
from curvewatch.archive import ArchiveError, IdentifierError, ModelArchive, ModelKey
from curvewatch.cli import main
from curvewatch.recorder import CurveDocumentError, load_document
from fixtures.serving import trained_versions  # noqa: F401 - the served versions, used through request
from hostile_cases import (
    archive_file_corruptions,
    command_lines,
    http_requests,
    identifiers,
    json_texts,
    serving_bodies,
)
from test_archive_support import archive_with

VICTIM = ModelKey.product("P001", scope="all", model_type="mlstm")
BYSTANDER = ModelKey.store("S001", scope="all", model_type="tcn")
EXIT_CODES = {0, 1, 2, 141}  # ok, problems found, refused (a sentence), closed pipe
# What a server may answer a hostile request with (or close the connection without an answer).
HTTP_STATUSES = {200, 400, 401, 404, 405, 408, 411, 413, 414, 422, 431, 500, 501, 505}
SOCKET_TIMEOUT_S = 10.0


def _says_why(text: str) -> bool:
    """A sentence: some words, and no Python traceback."""
    return "Traceback (most recent call last)" not in text and len(text.split()) >= 3


def _ids(cases: list) -> list[str]:
    return [f"{i:03d}" for i in range(len(cases))]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return archive_with(tmp_path_factory.mktemp("hostile_suite"), VICTIM, BYSTANDER)


# ---- identifiers -------------------------------------------------------------------------------------
IDENTIFIERS = identifiers()


@pytest.mark.parametrize("text", IDENTIFIERS, ids=_ids(IDENTIFIERS))
def test_a_hostile_identifier_parses_safely_or_is_refused_in_a_sentence(text: str, pristine: Path) -> None:
    try:
        key = ModelKey.parse(text)
    except IdentifierError as exc:
        assert _says_why(str(exc))
    else:
        assert ModelKey.parse(key.identifier) == key
        rel = Path(key.relative_dir)
        assert not rel.is_absolute() and ".." not in rel.parts
    with ModelArchive(pristine / "saved_models", read_only=True) as archive:
        try:
            record = archive.get(text)
        except ArchiveError as exc:  # IdentifierError, VersionNotFoundError: sentences
            assert _says_why(str(exc))
        else:
            assert record.identifier == text  # only the real identifiers find a version


# ---- JSON --------------------------------------------------------------------------------------------
JSON_TEXTS = json_texts()


@pytest.mark.parametrize("data", JSON_TEXTS, ids=_ids(JSON_TEXTS))
def test_a_hostile_json_text_is_a_value_or_a_read_error(data: bytes, tmp_path: Path) -> None:
    try:
        loads_strict(data)
    except JSONReadError as exc:
        assert _says_why(str(exc))
    path = tmp_path / "curves.json"
    path.write_bytes(data)
    try:
        doc = load_document(path)
    except CurveDocumentError as exc:
        assert _says_why(str(exc))
    else:
        assert isinstance(doc, dict) and doc.get("schema_version") == 1


# ---- archive files -----------------------------------------------------------------------------------
CORRUPTIONS = archive_file_corruptions()


@pytest.mark.parametrize(("name", "content"), CORRUPTIONS, ids=_ids(CORRUPTIONS))
def test_a_damaged_archive_file_is_reported_and_harms_no_other_version(
    pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes
) -> None:
    base = tmp_path / "archive"
    shutil.copytree(pristine, base)
    root = base / "saved_models"
    target = root / VICTIM.relative_dir / "v1" / name
    unchanged = target.read_bytes() == content
    target.write_bytes(content)
    code = main(["versions", "verify", "--all", "--root", str(root)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == (0 if unchanged else 1), out + err
    assert f"{BYSTANDER.identifier} v1: ok" in out
    if not unchanged:
        assert name in out + err or "manifest" in out + err, out + err


# ---- command lines -----------------------------------------------------------------------------------
COMMAND_LINES = command_lines()


@pytest.mark.parametrize("argv", COMMAND_LINES, ids=_ids(COMMAND_LINES))
def test_a_hostile_command_line_exits_with_a_sentence(
    argv: list[str], pristine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CURVEWATCH_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # whatever a command writes by default lands here
    filled = [a.replace("{root}", str(pristine / "saved_models")).replace("{tmp}", str(tmp_path)) for a in argv]
    try:
        code = main(filled)
    except SystemExit as exc:  # argparse refusing the line
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert code in EXIT_CODES, (filled, code, out, err)
    assert "Traceback" not in out + err
    if code not in (0, 141):
        assert _says_why(err or out), (filled, out, err)


# ---- HTTP requests -----------------------------------------------------------------------------------
HTTP_REQUESTS = http_requests()


def _exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw``, end the writing side, and read the whole answer (bounded in time and size)."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close a connection it refuses before reading it all
        answer = b""
        try:
            while len(answer) < 1 << 20 and (chunk := sock.recv(65536)):
                answer += chunk
        except ConnectionResetError:
            pass
    return answer


def _check_answer(answer: bytes, raw: bytes) -> None:
    if not answer:
        return  # closed without an answer: what a server does with bytes that are not an HTTP request
    while answer.startswith((b"HTTP/1.1 100", b"HTTP/1.0 100")) and b"\r\n\r\n" in answer:
        answer = answer.split(b"\r\n\r\n", 1)[1]  # an interim 100 Continue (Expect: 100-continue)
    if not answer:
        return
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    if not status_line.startswith("HTTP/1."):
        # A request line http.server cannot read as HTTP/1.x (no version, or fewer words) is answered as
        # HTTP/0.9: the error page alone, which names its status.
        assert b"Error code: " in answer, (raw[:80], status_line)
        code = int(answer.split(b"Error code: ", 1)[1][:3])
    else:
        code = int(status_line.split()[1])
    assert code in HTTP_STATUSES, (raw[:80], status_line)


@pytest.fixture(scope="module")
def metrics_endpoint() -> int:
    from curvewatch.prom import Exporter, RunInfo

    rec = CurveRecorder(budget=16)
    rec.log(0, loss=1.0)
    exporter = Exporter(rec, run=RunInfo(run_id="hostile", rank=0))
    exporter.start(port=0)
    yield exporter.port
    exporter.stop(grace=0)


@pytest.fixture(scope="module")
def sd_endpoint(pristine: Path) -> int:
    from curvewatch.discovery.http_sd import SDServer

    server = SDServer(f"sqlite:///{pristine / 'curvewatch_registry.sqlite3'}", port=0)
    server.start()
    yield server.port
    server.stop()


@pytest.mark.parametrize("raw", HTTP_REQUESTS, ids=_ids(HTTP_REQUESTS))
def test_a_hostile_request_to_the_metrics_endpoint_gets_a_documented_answer(metrics_endpoint: int,
                                                                           raw: bytes) -> None:
    _check_answer(_exchange(metrics_endpoint, raw), raw)
    assert requests.get(f"http://127.0.0.1:{metrics_endpoint}/metrics", timeout=SOCKET_TIMEOUT_S).status_code == 200


@pytest.mark.parametrize("raw", HTTP_REQUESTS, ids=_ids(HTTP_REQUESTS))
def test_a_hostile_request_to_the_sd_server_gets_a_documented_answer(sd_endpoint: int, raw: bytes) -> None:
    _check_answer(_exchange(sd_endpoint, raw), raw)
    assert requests.get(f"http://127.0.0.1:{sd_endpoint}/targets", timeout=SOCKET_TIMEOUT_S).status_code == 200


@pytest.fixture(scope="module")
def serving_endpoint(request: pytest.FixtureRequest) -> int:
    from curvewatch.serving import ServingService
    from curvewatch.trainers.serving import ForecasterModel

    versions = request.getfixturevalue("trained_versions")

    service = ServingService([(ForecasterModel(versions["tcn"]), "primary", 1.0),
                              (ForecasterModel(versions["old"]), "shadow", 0.0)])
    port = service.start()
    yield port
    service.stop()


@pytest.mark.parametrize("raw", HTTP_REQUESTS, ids=_ids(HTTP_REQUESTS))
def test_a_hostile_request_to_the_serving_service_gets_a_documented_answer(serving_endpoint: int,
                                                                          raw: bytes) -> None:
    _check_answer(_exchange(serving_endpoint, raw), raw)
    assert requests.get(f"http://127.0.0.1:{serving_endpoint}/healthz", timeout=SOCKET_TIMEOUT_S).status_code == 200


SERVING_BODIES = serving_bodies()
SERVING_REFUSALS = {400, 404, 405, 411, 413, 422}


@pytest.mark.parametrize(("path", "body"), SERVING_BODIES, ids=_ids(SERVING_BODIES))
def test_a_hostile_serving_body_is_answered_or_refused_in_a_sentence(serving_endpoint: int, path: str,
                                                                    body: bytes) -> None:
    response = requests.post(f"http://127.0.0.1:{serving_endpoint}{path}", data=body, timeout=SOCKET_TIMEOUT_S)
    answer = response.json()
    if response.status_code == 200:
        assert isinstance(answer, dict) and "error" not in answer
    elif response.status_code == 500:
        assert answer["error"].startswith("The model failed on this request"), answer
    else:
        assert response.status_code in SERVING_REFUSALS, (response.status_code, answer)
        assert _says_why(answer["error"]), answer
    assert requests.get(f"http://127.0.0.1:{serving_endpoint}/healthz", timeout=SOCKET_TIMEOUT_S).status_code == 200


def test_the_suite_holds_over_a_thousand_cases() -> None:
    counts = {"identifiers": len(IDENTIFIERS), "json": len(JSON_TEXTS), "archive files": len(CORRUPTIONS),
              "command lines": len(COMMAND_LINES), "http (x3 servers)": 3 * len(HTTP_REQUESTS),
              "serving bodies": len(SERVING_BODIES)}
    assert sum(counts.values()) >= 1000, counts  # the run's summary line says how many ran (tests/conftest.py)
