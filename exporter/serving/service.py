"""The HTTP service over the router and the monitors: ``POST /predict``, ``POST /actuals``, ``GET /metrics``.

    service = ServingService([(model_v3, "primary", 0.0), (model_v4, "canary", 0.1)], port=0)
    service.start()            # a thread; service.url is http://127.0.0.1:PORT
    service.stop()

A served model is any object with ``version_path`` and ``metadata`` (its verified metadata.json), a
``prepare(body) -> Prepared`` that turns the ``/predict`` body into the model's input (raising
``ServingInputError``/``ValueError`` with a sentence for a bad one), ``__call__(inputs)`` (the model call
the monitor times) and ``answer(output, prepared) -> dict`` (the JSON of the answer); ``curvewatch.trainers.serving``
adapts the bundled forecasters.

The server is the standard library's ``ThreadingHTTPServer`` (one thread per connection): no new
dependency for the core, the same server the project's exporter uses, and per request the cost that
matters is the model call (see docs/SERVING.md for the measured numbers). Every bad body gets a 4xx
JSON ``{"error": sentence}``; an exception in a model is a 500 sentence and counted, never a crash.

Guarantees (tests named after them in ``tests/test_serving_service.py``):
- every_bad_body_gets_a_4xx_sentence: invalid JSON, a non-object, wrong field types, unknown paths and
  methods, oversized bodies.
- shadow_answers_are_scored_not_returned: the response names the served version; shadows only predict.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .collector import ServingCollector
from .errors import ServingInputError
from .monitor import ModelMonitor
from .router import Arm, Router, new_id

__all__ = ["ENDPOINTS", "MAX_BODY_BYTES", "ModelFailure", "Prepared", "ServingService"]

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_ID_CHARS = 200
# The service's endpoints (method, path, what it does): the list docs/SERVING.md and the hostile tests use.
ENDPOINTS = (
    ("POST", "/predict", "one prediction; body {\"id\"?: str, ...model fields}; returns the answer and its id"),
    ("POST", "/actuals", "actuals of earlier predictions; body {\"actuals\": [{\"id\": str, \"value\": number or "
                         "[numbers]}]}; returns matched and unmatched counts"),
    ("GET", "/metrics", "Prometheus exposition of every served version's series"),
    ("GET", "/versions", "the served versions: identifier, version, role, weight, validation error, drift"),
    ("GET", "/healthz", "200 while the service is up"),
)


class ModelFailure(RuntimeError):
    """The model raised on a prepared request (an HTTP 500: the body was fine)."""


@dataclass(frozen=True)
class Prepared:
    """A checked ``/predict`` body: the model's ``inputs``, the input rows for drift, the naive forecast."""

    inputs: Any
    features: Any = None
    naive: Any = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ServingInputError(f"{where} must be a finite number, got {json.dumps(value)[:60]}.")
    return float(value)


def _actuals(body: dict) -> tuple[list[str], list[Any]]:
    items = body.get("actuals")
    if not isinstance(items, list) or not items:
        raise ServingInputError('The body needs "actuals": a non-empty list of {"id": "...", "value": 12.0}.')
    ids, values = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "value" not in item:
            raise ServingInputError(f'actuals[{i}] must be an object {{"id": "...", "value": 12.0}}.')
        value = item["value"]
        if isinstance(value, list):
            if not value:
                raise ServingInputError(f"actuals[{i}].value is an empty list; send at least one number.")
            value = [_number(v, f"actuals[{i}].value[{j}]") for j, v in enumerate(value)]
        else:
            value = _number(value, f"actuals[{i}].value")
        ids.append(item["id"])
        values.append(value)
    return ids, values


class ServingService:
    """Serves one primary, canaries and shadows behind one router; exposes their series on ``/metrics``."""

    def __init__(self, versions: Sequence[tuple[Any, str, float]], *, addr: str = "127.0.0.1", port: int = 0,
                 monitor_options: dict[str, Any] | None = None) -> None:
        self.models: dict[str, Any] = {}
        self.monitors: dict[str, ModelMonitor] = {}
        arms = []
        for model, role, weight in versions:
            monitor = ModelMonitor.from_version(model.version_path, model, model.metadata, role=role,
                                                **(monitor_options or {}))
            name = f"{monitor.identifier}/v{monitor.model_version}"
            if name in self.monitors:
                raise ValueError(f"{name} is served twice; serve each version once.")
            self.models[name], self.monitors[name] = model, monitor
            arms.append(Arm(name, role, weight))
        self.router = Router(arms)
        self.registry = CollectorRegistry()
        self.registry.register(ServingCollector(lambda: list(self.monitors.values()),
                                                weight=lambda m: self.router.weights[self._name(m)]))
        self.addr, self.port = addr, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def _name(monitor: ModelMonitor) -> str:
        return f"{monitor.identifier}/v{monitor.model_version}"

    # -- the endpoints, as plain functions of a parsed body ---------------------------------------------
    def predict(self, body: dict) -> dict:
        request_id = body.get("id")
        if request_id is None:
            request_id = new_id()
        elif not isinstance(request_id, str) or not 0 < len(request_id) <= MAX_ID_CHARS:
            raise ServingInputError(f'"id" must be a string of 1 to {MAX_ID_CHARS} characters, '
                                    f"got {json.dumps(request_id)[:60]}.")
        route = self.router.route(request_id)
        served = self.models[route.served]
        prepared = served.prepare(body)
        try:
            output = self.monitors[route.served].predict(prepared.inputs, request_id, features=prepared.features,
                                                         naive=prepared.naive)
        except Exception as exc:  # counted by the monitor; the handler answers 500, whatever the exception's type
            raise ModelFailure(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        for name in route.shadows:  # scored against the actuals, never returned; a failing shadow is only counted
            try:
                shadow = self.models[name].prepare(body)
                self.monitors[name].predict(shadow.inputs, request_id, features=shadow.features, naive=shadow.naive)
            except Exception:  # noqa: BLE001 - counted in the shadow's prediction_errors_total
                pass
        monitor = self.monitors[route.served]
        return {"id": request_id, "identifier": monitor.identifier, "model_version": monitor.model_version,
                "role": monitor.role, "route": route.reason, **served.answer(output, prepared),
                **({"notes": list(prepared.notes)} if prepared.notes else {})}

    def actuals(self, body: dict) -> dict:
        ids, values = _actuals(body)
        matched = unmatched = 0
        for name, monitor in self.monitors.items():
            mine = [(k, v) for k, v in zip(ids, values)
                    if name == (route := self.router.route(k)).served or name in route.shadows]
            m, u = monitor.record_actuals([k for k, _ in mine], [v for _, v in mine])
            if monitor.role != "shadow":
                matched, unmatched = matched + m, unmatched + u
        return {"matched": matched, "unmatched": unmatched}

    def versions(self) -> dict:
        return {"versions": [{"name": name, "identifier": m.identifier, "model_version": m.model_version,
                              "role": m.role, "weight": self.router.weights[name], "validation": m.validation,
                              "drift": "available" if m.drift is not None else m.drift_reason}
                             for name, m in self.monitors.items()],
                "endpoints": [{"method": a, "path": b, "what": c} for a, b, c in ENDPOINTS]}

    def metrics(self) -> bytes:
        return generate_latest(self.registry)

    # -- the HTTP server ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("The service is not started; call start() first.")
        return f"http://{self.addr}:{self._server.server_address[1]}"

    def start(self) -> int:
        """Listen on ``addr:port`` (0: a free port) in a background thread; return the port."""
        self._server = ThreadingHTTPServer((self.addr, self.port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="curvewatch-serving", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    def serve_forever(self) -> None:
        """Listen in the calling thread until interrupted (the CLI)."""
        self._server = ThreadingHTTPServer((self.addr, self.port), _handler(self))
        self._server.daemon_threads = True
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._thread = None


def _handler(service: ServingService) -> type[BaseHTTPRequestHandler]:
    posts: dict[str, Callable[[dict], dict]] = {"/predict": service.predict, "/actuals": service.actuals}
    gets: dict[str, Callable[[], Any]] = {"/metrics": service.metrics, "/versions": service.versions,
                                          "/healthz": lambda: {"status": "ok"}}
    known = ", ".join(f"{m} {p}" for m, p, _ in ENDPOINTS)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes: without TCP_NODELAY a keep-alive client waits out the delayed ACK
        # (~40 ms) on each answer (bench/bench_serving.py: 21 -> 1,198 /predict per second)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: Prometheus scrapes often
            pass

        def _send(self, status: int, payload: Any, content_type: str = "application/json") -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, sentence: str) -> None:
            self._send(status, {"error": sentence})

        def _route_missing(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            if path in posts or path in gets:
                self.send_response(405)
                allowed = "POST" if path in posts else "GET"
                body = json.dumps({"error": f"{path} takes {allowed}, not {method}."}).encode()
                self.send_header("Allow", allowed)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self._error(404, f"There is no {path}; the endpoints are {known}.")

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            path = self.path.split("?", 1)[0]
            if path not in gets:
                return self._route_missing("GET")
            result = gets[path]()
            if isinstance(result, bytes):
                return self._send(200, result, CONTENT_TYPE_LATEST)
            return self._send(200, result)

        def do_POST(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            length_text = self.headers.get("Content-Length")
            try:
                length = int(length_text) if length_text is not None else -1
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                return self._error(411, "Send the body with a Content-Length header (a JSON object).")
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                return self._error(413, f"The body has {length} bytes; send at most {MAX_BODY_BYTES} "
                                        "(split the actuals into batches).")
            raw = self.rfile.read(length)
            if path not in posts:
                return self._route_missing("POST")
            try:
                body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
            except (UnicodeDecodeError, ValueError) as exc:
                return self._error(400, f"The body is not valid UTF-8 JSON ({str(exc)[:120]}); send a JSON object.")
            if not isinstance(body, dict):
                return self._error(400, f"The body must be a JSON object, got a {type(body).__name__}.")
            try:
                return self._send(200, posts[path](body))
            except ModelFailure as exc:
                return self._error(500, f"The model failed on this request ({exc}); it is counted in "
                                        "curvewatch_serving_prediction_errors_total.")
            except (ServingInputError, ValueError, KeyError, TypeError) as exc:
                text = str(exc).strip() or type(exc).__name__
                return self._error(422, text if text.endswith((".", "?")) else f"{text}.")
            except Exception as exc:  # noqa: BLE001 - a bug in a served model's prepare(): said, never a crash
                return self._error(500, f"The service failed on this request ({type(exc).__name__}: "
                                        f"{str(exc)[:200]}); the version's prepare() has a bug.")

    return Handler


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON; send finite numbers")
