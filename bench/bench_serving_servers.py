"""The serving service's HTTP server: the standard library's against FastAPI + uvicorn, side by side in one run.

    .venv/bin/pip install fastapi uvicorn httptools uvloop   # bench only: not a curvewatch dependency
    .venv/bin/python bench/bench_serving_servers.py [--requests 3000] [--clients 1 8] [--repeats 3]

Both servers run the SAME endpoint functions (``ServingService.predict`` / ``.actuals``: routing, the monitor,
the pending store) over the same served model, in their own process bound to 127.0.0.1; the clients are
keep-alive ``requests`` sessions in threads of this process. uvicorn runs with httptools and uvloop (its fastest
configuration, ``uvicorn[standard]``), one worker, as the service would run one process per model. Printed: POST
/predict round trips per second and the p50/p99 latency, per server, per model (trivial: the server's own cost;
the bundled TCN: a real forecaster's call) and per client count, and the ratio stdlib / FastAPI.
"""


import argparse
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_serving import _Served  # noqa: E402  (bench/ is not a package)


def _model(kind: str):
    if kind == "trivial":
        return lambda _inputs: 1.0
    import torch
    from curvewatch.trainers.models import build_model

    torch.set_num_threads(1)
    tcn = build_model("tcn", 7, 28, 7).eval()
    x, ahead = torch.randn(1, 28, 7), torch.randn(1, 7, 6)

    def call(_inputs):
        with torch.no_grad():
            return tcn(x, ahead)

    return call


def _service(kind: str, directory: str):
    from curvewatch.serving import ServingService

    return ServingService([(_Served(_model(kind), directory), "primary", 0.0)])


def _fastapi_app(service):
    """The same two endpoints as the stdlib handler: a JSON object in, the endpoint's dict out, 4xx sentences."""
    from curvewatch.serving import ServingInputError
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    async def _call(request: Request, endpoint):
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return JSONResponse({"error": f"The body is not valid JSON ({exc}); send a JSON object."}, 400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "The body must be a JSON object."}, 400)
        try:  # a plain (sync) function: run it where the stdlib server runs it, in a worker thread
            from starlette.concurrency import run_in_threadpool

            return JSONResponse(await run_in_threadpool(endpoint, body))
        except (ServingInputError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 422)

    @app.post("/predict")
    async def predict(request: Request):
        return await _call(request, service.predict)

    @app.post("/actuals")
    async def actuals(request: Request):
        return await _call(request, service.actuals)

    @app.get("/metrics")
    def metrics():
        return Response(service.metrics(), media_type="text/plain; version=0.0.4")

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(server: str, kind: str, port: int) -> None:  # the child process
    with tempfile.TemporaryDirectory() as directory:
        service = _service(kind, directory)
        if server == "stdlib":
            service.port = port
            service.serve_forever()
        else:
            import uvicorn

            uvicorn.run(_fastapi_app(service), host="127.0.0.1", port=port, log_level="warning", loop="uvloop",
                        http="httptools", access_log=False)


def _wait_up(url: str, timeout: float = 60.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.post(url + "/predict", data='{"x": 1}', timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)  # polling a starting server, bounded by the deadline
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s.")


def _drive(url: str, requests_n: int, clients: int) -> tuple[float, float, float]:
    """(requests per second, p50 ms, p99 ms) of ``requests_n`` POST /predict over ``clients`` keep-alive sessions."""
    import requests

    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests_n // clients

    def client(c: int) -> None:
        session, mine = requests.Session(), []
        for i in range(per_client):
            body = f'{{"id": "c{c}-{i}", "x": 1}}'
            start = time.perf_counter()
            answer = session.post(url + "/predict", data=body)
            mine.append(time.perf_counter() - start)
            if answer.status_code != 200:
                raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return (len(latencies) / elapsed, 1e3 * latencies[len(latencies) // 2],
            1e3 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args()
    results: dict[str, dict] = {}
    context = multiprocessing.get_context("spawn")
    for kind in ("trivial", "tcn"):
        for server in ("stdlib", "fastapi"):
            port = _free_port()
            child = context.Process(target=_serve, args=(server, kind, port), daemon=True)
            child.start()
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_up(url)
                _drive(url, 300, 1)  # warm-up
                for clients in args.clients:
                    runs = [_drive(url, args.requests, clients) for _ in range(args.repeats)]
                    results[f"{kind}/{server}/{clients}"] = {
                        "per_s": statistics.median(r[0] for r in runs),
                        "p50_ms": statistics.median(r[1] for r in runs),
                        "p99_ms": statistics.median(r[2] for r in runs)}
            finally:
                child.terminate()
                child.join(10)
    print(f"POST /predict, {args.requests} requests per run, median of {args.repeats} runs, {os.cpu_count()} cores")
    print(f"{'model':8} {'clients':>7} {'stdlib /s':>10} {'fastapi /s':>11} {'ratio':>6}   "
          f"{'p50 ms std/fa':>14} {'p99 ms std/fa':>14}")
    for kind in ("trivial", "tcn"):
        for clients in args.clients:
            s, f = results[f"{kind}/stdlib/{clients}"], results[f"{kind}/fastapi/{clients}"]
            print(f"{kind:8} {clients:>7} {s['per_s']:>10,.0f} {f['per_s']:>11,.0f} {s['per_s'] / f['per_s']:>5.2f}x"
                  f"   {s['p50_ms']:>6.2f}/{f['p50_ms']:<6.2f} {s['p99_ms']:>6.2f}/{f['p99_ms']:<6.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
