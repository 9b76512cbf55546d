"""The HTTP service: every bad body a 4xx sentence, shadows scored but never returned, the CLI as a process."""

from __future__ import annotations

import socket

import pytest
from fixtures.serving import ENDPOINTS, serving_service, trained_versions  # noqa: F401 - fixtures

HISTORY = {"last_date": "2024-01-31", "sales": [10.0] * 28, "promotion": [0] * 28, "holiday": [0] * 28}

BAD_BODIES = [
    ("/predict", b"{not json", 400, "not valid UTF-8 JSON"),
    ("/predict", b"\xff\xfe", 400, "not valid UTF-8 JSON"),
    ("/predict", b"[1, 2]", 400, "must be a JSON object, got a list"),
    ("/predict", b'{"id": 5, "until": "2023-10-01"}', 422, '"id" must be a string'),
    ("/predict", b"{}", 422, 'The body needs "history"'),
    ("/predict", b'{"until": "yesterday"}', 422, "until must be a date like 2024-01-31"),
    ("/predict", b'{"until": "1999-01-01"}', 422, "until must be a date from"),
    ("/predict", b'{"history": {"last_date": "2024-01-31", "sales": [1, 2]}}', 422, "at least 28 numbers"),
    ("/predict", b'{"history": {"last_date": "2024-01-31", "sales": ["a"]}}', 422, "history.sales must be a list"),
    ("/predict", b'{"history": {"last_date": "2024-01-31", "sales": [NaN]}}', 400, "NaN is not JSON"),
    ("/predict", b'{"until": "2023-10-01", "future": {"price": [1]}}', 422, "future.price is not a feature"),
    ("/actuals", b"{}", 422, 'The body needs "actuals"'),
    ("/actuals", b'{"actuals": [1]}', 422, "actuals[0] must be an object"),
    ("/actuals", b'{"actuals": [{"id": "a", "value": "12"}]}', 422, "actuals[0].value must be a finite number"),
    ("/actuals", b'{"actuals": [{"id": "a", "value": []}]}', 422, "actuals[0].value is an empty list"),
    ("/actuals", b'{"actuals": [{"id": "a", "value": true}]}', 422, "must be a finite number"),
    ("/nowhere", b"{}", 404, "There is no /nowhere; the endpoints are POST /predict"),
    ("/metrics", b"{}", 405, "/metrics takes GET, not POST"),
]


@pytest.fixture
def served(trained_versions, serving_service):  # noqa: F811
    return serving_service([(trained_versions["tcn"], "primary", 0.0), (trained_versions["kan"], "shadow", 0.0)])


@pytest.mark.parametrize(("path", "raw", "status", "sentence"), BAD_BODIES,
                         ids=[f"{b[0]} {b[1][:30]!r}" for b in BAD_BODIES])
def test_every_bad_body_gets_a_4xx_sentence(served, path: str, raw: bytes, status: int, sentence: str) -> None:
    code, answer = served.post(path, None, raw=raw)
    assert code == status and sentence in answer["error"] and answer["error"].endswith("."), answer
    assert served.get("/healthz").json() == {"status": "ok"}  # and the service still answers


def test_get_on_a_post_endpoint_and_broken_requests_are_refused(served) -> None:
    response = served.get("/predict")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert "takes POST" in response.json()["error"]
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:  # no Content-Length
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 411 " in sock.recv(4096).split(b"\r\n")[0]
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:  # a body too large to accept
        sock.sendall(b"POST /actuals HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        assert b" 413 " in sock.recv(4096).split(b"\r\n")[0]
    assert served.get("/healthz").status_code == 200


def test_shadow_answers_are_scored_not_returned(served) -> None:
    status, answer = served.post("/predict", {"id": "order-1", "history": HISTORY})
    assert status == 200 and answer["role"] == "primary" and answer["identifier"] == "product_P001_all_tcn"
    assert answer["forecast"]["dates"][0] == "2024-02-01" and len(answer["forecast"]["sales"]) == 7
    assert served.post("/actuals", {"actuals": [{"id": "order-1", "value": 11.0}, {"id": "x", "value": 1}]})[1] \
        == {"matched": 1, "unmatched": 1}
    metrics = served.get("/metrics").text
    for role, identifier in (("primary", "product_P001_all_tcn"), ("shadow", "product_P001_all_kan")):
        labels = f'identifier="{identifier}",model_version="1",role="{role}"'
        assert f"curvewatch_serving_predictions_total{{{labels}}} 1.0" in metrics
        assert f"curvewatch_serving_actuals_matched_total{{{labels}}} 1.0" in metrics
    versions = served.get("/versions").json()
    assert [v["role"] for v in versions["versions"]] == ["primary", "shadow"]
    assert {(e["method"], e["path"]) for e in versions["endpoints"]} == {(m, p) for m, p, _ in ENDPOINTS}


def test_a_failing_model_is_a_500_sentence_and_counted(served) -> None:
    primary = served.service.models["product_P001_all_tcn/v1"]
    primary.model, working = None, primary.model  # calling None raises TypeError inside the model call
    try:
        status, answer = served.post("/predict", {"until": "2023-10-01"})
    finally:
        primary.model = working
    assert status == 500 and "The model failed on this request" in answer["error"]
    assert 'curvewatch_serving_prediction_errors_total{identifier="product_P001_all_tcn",model_version="1",' \
           'role="primary"} 1.0' in served.get("/metrics").text
    assert served.post("/predict", {"until": "2023-10-01"})[0] == 200


def test_serve_model_runs_as_a_process_with_a_canary(trained_versions, serving_service) -> None:  # noqa: F811
    served = serving_service([(trained_versions["tcn"], "primary", 0.0), (trained_versions["kan"], "canary", 0.5)],
                             subprocess=True, pending_limit=50)
    roles = {served.post("/predict", {"id": f"c-{i}", "until": "2023-10-01"})[1]["role"] for i in range(20)}
    assert roles == {"primary", "canary"}
    assert "curvewatch_serving_pending_limit" in served.get("/metrics").text
    assert "canary, weight 0.5, drift available" in "".join(served.output)


def test_a_keep_alive_client_is_not_held_by_the_delayed_ack(served) -> None:
    import time

    import requests

    session = requests.Session()
    start = time.perf_counter()
    for i in range(100):  # with Nagle on, each answer waits ~40 ms for the client's delayed ACK: >= 4 s
        assert session.post(served.url + "/predict", json={"id": f"k{i}", "until": "2023-10-01"}).status_code == 200
    assert time.perf_counter() - start < 2.0
