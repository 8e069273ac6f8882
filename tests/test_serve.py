"""`python -m pykern.serve`: TensorFlow Serving's REST API over HTTP, from a server
in a subprocess (status, metadata, both request formats, every error case, a
bounded load test), and the request batching and decoding in-process."""
import asyncio
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import pykern  # noqa: E402
from child_process import child_env  # noqa: E402
from pykern import layers  # noqa: E402
from pykern.serve import Batcher, RequestError, ServedModel  # noqa: E402

pytestmark = pytest.mark.usefixtures("forget_automatic_names")

RNG = np.random.default_rng(41)
# a batch's rows come from one model call on the concatenated requests; another
# batch size may take another GEMM blocking, so rows may differ in the last bits
TOL = dict(rtol=1e-6, atol=1e-7)
START_TIMEOUT_S = 60


def _randomized(model):
    model.set_weights([RNG.standard_normal(w.shape).astype(np.float32) * 0.3
                       for w in model.get_weights()])
    return model


def _mlp():
    return _randomized(pykern.Sequential([layers.Input((20,), name="features"),
                                          layers.Dense(32, activation="relu"),
                                          layers.Dropout(0.5),
                                          layers.Dense(5, activation="softmax")]))


def _cnn():
    model = _randomized(pykern.Sequential([
        layers.Input((10, 10, 1), name="image"), layers.Conv2D(4, 3, activation="relu"),
        layers.BatchNormalization(), layers.MaxPooling2D(), layers.Flatten(),
        layers.Dense(3, activation="softmax")]))
    model.layers[1].moving_variance.assign(np.full(4, 2.0, np.float32))
    return model


# --- the server in a subprocess ---------------------------------------------------------------
class Server:
    """`python -m pykern.serve` on a free port (--port 0: the server binds and
    prints its address); stderr is drained by a thread so it never blocks."""

    def __init__(self, model_path, cwd, *options):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pykern.serve", os.fspath(model_path), "--port", "0",
             *options], cwd=cwd, env=child_env(), stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines, self.port = queue.Queue(), None
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self):
        deadline, seen = time.monotonic() + START_TIMEOUT_S, []
        while self.port is None:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                pytest.fail(f"the server did not start:\n{''.join(seen)}")
            seen.append(line)
            if "pykern.serve: model" in line:
                self.port = int(line.rsplit(":", 1)[1].split("/")[0])
        while _get(self.port, "/healthz")[0] != 200:
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _call(port, method, path, body=None, conn=None):
    """(status, parsed JSON answer) of one HTTP request; `body`: bytes or a JSON value."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json"} if body else {})
        answer = conn.getresponse()
        return answer.status, json.loads(answer.read())
    except (ConnectionError, OSError):
        return None, None
    finally:
        if own:
            conn.close()


def _get(port, path):
    return _call(port, "GET", path)


def _post(port, path, body, conn=None):
    return _call(port, "POST", path, body, conn)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The MLP and the CNN, each saved and served by its own server (started together)."""
    root = tmp_path_factory.mktemp("serve")
    models = {"mlp": _mlp(), "cnn": _cnn()}
    servers = {}
    for name, model in models.items():
        model.save(root / f"{name}.keras")
    options = {"mlp": ("--max-body-bytes", "200000"), "cnn": ("--name", "digits")}
    for name in models:
        servers[name] = Server(root / f"{name}.keras", root, *options[name])
    try:
        yield {name: (models[name], servers[name].wait_ready().port) for name in models}
    finally:
        for server in servers.values():
            server.stop()


# --- status, metadata, predictions --------------------------------------------------------------
def test_health_and_status_answer_as_tf_serving(served):
    _, port = served["mlp"]
    assert _get(port, "/healthz") == (200, {"status": "ok"})
    status = {"model_version_status": [{"version": "1", "state": "AVAILABLE", "status": {
        "error_code": "OK", "error_message": ""}}]}
    assert _get(port, "/v1/models/mlp") == (200, status)
    assert _get(port, "/v1/models/mlp/versions/1") == (200, status)


def test_metadata_is_the_serving_default_signature(served):
    _, port = served["cnn"]
    code, meta = _get(port, "/v1/models/digits/metadata")
    assert code == 200
    assert meta["model_spec"] == {"name": "digits", "signature_name": "", "version": "1"}
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    image, out = signature["inputs"]["image"], signature["outputs"]["output_0"]
    assert image["dtype"] == out["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in image["tensor_shape"]["dim"]] == ["-1", "10", "10", "1"]
    assert [d["size"] for d in out["tensor_shape"]["dim"]] == ["-1", "3"]
    assert _get(port, "/v1/models/digits/versions/1/metadata") == (200, meta)


@pytest.mark.parametrize("name,path", [("mlp", "/v1/models/mlp:predict"),
                                       ("cnn", "/v1/models/digits/versions/1:predict")])
def test_predictions_equal_model_predict_in_both_formats(served, name, path):
    model, port = served[name]
    x = RNG.standard_normal((4, *model.input_shape[1:])).astype(np.float32)
    want = model.predict(x, verbose=0)
    code, rows = _post(port, path, {"instances": x.tolist()})
    assert code == 200 and list(rows) == ["predictions"]
    np.testing.assert_allclose(np.array(rows["predictions"], np.float32), want, **TOL)
    input_name = model.inputs[0]._keras_history[0].name
    code, columns = _post(port, path, {"signature_name": "serving_default",
                                       "inputs": {input_name: x[:2].tolist()}})
    assert code == 200 and list(columns) == ["outputs"]
    np.testing.assert_allclose(np.array(columns["outputs"], np.float32), want[:2], **TOL)


# --- bad requests: 4xx with {"error": ...}, and the server keeps serving -------------------------
BAD_REQUESTS = [
    ("POST", "/v1/models/mlp:predict", b'{"instances": [[1, 2', 400, "JSON Parse error"),
    ("POST", "/v1/models/mlp:predict", {"instances": [[1.0] * 19]}, 400, "shape [-1, 20]"),
    ("POST", "/v1/models/mlp:predict", {"instances": [["a"] * 20]}, 400, "numbers"),
    ("POST", "/v1/models/mlp:predict", {"instances": [[1.0] * 20, [1.0] * 3]}, 400,
     "rectangular"),
    ("POST", "/v1/models/mlp:predict", {"instances": [[None] * 20]}, 400, "rectangular"),
    ("POST", "/v1/models/mlp:predict", {"instances": []}, 400, "empty"),
    ("POST", "/v1/models/mlp:predict", {"inputs": [[0.0] * 20], "instances": [[0.0] * 20]},
     400, "exactly one"),
    ("POST", "/v1/models/mlp:predict", {"inputs": {"pixels": [[0.0] * 20]}}, 400,
     "missing ['features']"),
    ("POST", "/v1/models/mlp:predict", [[0.0] * 20], 400, "JSON object"),
    ("POST", "/v1/models/mlp:predict", {"instances": [[0.0] * 20], "signature_name": "x"}, 400,
     "signature"),
    ("POST", "/v1/models/mlp:predict", {"instances": [[1e39] * 20]}, 400, "range"),
    ("POST", "/v1/models/mlp:predict", b"x" * 200001, 413, "limit of 200000 bytes"),
    ("POST", "/v1/models/mlp:classify", {"instances": [[0.0] * 20]}, 400, ":predict only"),
    ("POST", "/v1/models/other:predict", {"instances": [[0.0] * 20]}, 404,
     "Servable not found for request: Latest(other)"),
    ("GET", "/v1/models/mlp/versions/7", None, 404, "Specific(mlp, 7)"),
    ("GET", "/v1/models/mlp:predict", None, 405, "use POST"),
    ("POST", "/v1/models/mlp/metadata", {}, 405, "use GET"),
    ("GET", "/v1/models/mlp/extra/path", None, 404, "Malformed request"),
    ("GET", "/v2/anything", None, 404, "Malformed request: GET /v2/anything"),
]


@pytest.mark.parametrize("method,path,body,status,message", BAD_REQUESTS)
def test_bad_requests_get_a_tf_serving_error_and_the_server_goes_on(served, method, path, body,
                                                                    status, message):
    model, port = served["mlp"]
    code, answer = _call(port, method, path, body)
    assert code == status
    assert list(answer) == ["error"] and message in answer["error"]
    x = np.ones((1, 20), np.float32)
    code, good = _post(port, "/v1/models/mlp:predict", {"instances": x.tolist()})
    assert code == 200
    np.testing.assert_allclose(good["predictions"], model.predict(x, verbose=0), **TOL)


# --- load: every answer reaches the client that asked --------------------------------------------
def test_concurrent_clients_each_get_their_own_answers(served):
    model, port = served["mlp"]
    clients, per_client = 8, 200
    # distinct inputs: client c, request r sends rows c*1000 + r (+ a second row every 3rd)
    xs = np.random.default_rng(5).standard_normal((clients, per_client, 2, 20)).astype(np.float32)
    want = model.predict(xs.reshape(-1, 20), verbose=0).reshape(clients, per_client, 2, -1)
    failures = [[] for _ in range(clients)]

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for r in range(per_client):
            rows = 2 if r % 3 == 0 else 1
            code, answer = _post(port, "/v1/models/mlp:predict",
                                 {"instances": xs[c, r, :rows].tolist()}, conn)
            got = None if code != 200 else np.array(answer["predictions"], np.float32)
            if got is None or got.shape != want[c, r, :rows].shape or not np.allclose(
                    got, want[c, r, :rows], **TOL):
                failures[c].append((r, code, answer))
        conn.close()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert [f[:3] for f in failures] == [[]] * clients


# --- in-process: batching, request decoding, safe loading ----------------------------------------
def _run_requests(batcher, requests):
    async def go():
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit([x], len(x)) for x in requests),
                                        return_exceptions=True)
        finally:
            await batcher.stop()
    return asyncio.run(go())


def _slow_double(inputs):
    time.sleep(0.02)  # a model call long enough for the queue to fill behind it
    if np.isnan(inputs[0]).any():
        raise ValueError("NaN input")
    return [inputs[0] * 2.0]


def test_queued_requests_run_as_batches_up_to_the_cap():
    requests = [np.full((n, 3), i, np.float32) for i, n in enumerate([1, 2, 3, 1, 2, 3, 1, 2])]
    batcher = Batcher(_slow_double, max_batch_size=5, timeout_s=0.0)
    answers = _run_requests(batcher, requests)
    for x, answer in zip(requests, answers):
        np.testing.assert_array_equal(answer[0], x * 2.0)
    # all are queued before the worker runs: it takes them in order while they fit in
    # 5 rows (1+2, 3+1, 2+3, 1+2); the request that does not fit starts the next batch
    assert list(batcher.batch_sizes) == [3, 4, 5, 3]


def test_the_timeout_waits_for_more_requests_and_a_large_request_runs_alone():
    async def staggered(batcher):
        await batcher.start()
        try:
            first = asyncio.ensure_future(batcher.submit([np.zeros((1, 2), np.float32)], 1))
            await asyncio.sleep(0.01)  # within the timeout: joins the first batch
            second = batcher.submit([np.ones((1, 2), np.float32)], 1)
            big = batcher.submit([np.ones((9, 2), np.float32)], 9)
            return await asyncio.gather(first, second, big)
        finally:
            await batcher.stop()
    batcher = Batcher(_slow_double, max_batch_size=4, timeout_s=0.2)
    answers = asyncio.run(staggered(batcher))
    assert list(batcher.batch_sizes) == [2, 9]
    np.testing.assert_array_equal(answers[1][0], np.full((1, 2), 2.0))


def test_a_failing_request_does_not_fail_the_others_in_its_batch():
    requests = [np.ones((1, 2), np.float32), np.ones((1, 2), np.float32),
                np.full((1, 2), np.nan, np.float32), np.ones((2, 2), np.float32)]
    answers = _run_requests(Batcher(_slow_double, max_batch_size=8), requests)
    assert isinstance(answers[2], ValueError)
    for i in (0, 1, 3):
        np.testing.assert_array_equal(answers[i][0], requests[i] * 2.0)


@pytest.fixture(scope="module")
def two_in_two_out():
    a, b = layers.Input((3,), name="a"), layers.Input((2,), name="b", dtype="int32")
    model = pykern.Model([a, b], [layers.Dense(2)(a), layers.Dense(1)(layers.Concatenate()(
        [a, layers.Embedding(5, 2)(b)[:, 0]]))])
    return ServedModel(_randomized(model), "two")


def test_named_instances_and_columns_feed_a_model_with_several_inputs(two_in_two_out):
    served = two_in_two_out
    rows = [{"a": [1.0, 2.0, 3.0], "b": [1, 4]}, {"a": [0.0, 0.5, 1.0], "b": [0, 2]}]
    inputs, n, columnar = served.decode({"instances": rows})
    assert n == 2 and not columnar and inputs[1].dtype == np.int32
    want = served.model.predict(inputs, verbose=0)
    answer = served.answer(served.predict(inputs), columnar)
    assert [sorted(p) for p in answer["predictions"]] == [["output_0", "output_1"]] * 2
    np.testing.assert_allclose([p["output_1"] for p in answer["predictions"]], want[1], **TOL)
    columns, n, columnar = served.decode({"inputs": {"a": [r["a"] for r in rows],
                                                     "b": [r["b"] for r in rows]}})
    answer = served.answer(served.predict(columns), columnar)
    np.testing.assert_allclose(answer["outputs"]["output_0"], want[0], **TOL)


@pytest.mark.parametrize("body,message", [
    ({"instances": [[1.0, 2.0, 3.0]]}, "object naming the model's inputs"),
    ({"inputs": {"a": [[1.0, 2.0, 3.0]], "b": [[1, 2], [3, 4]]}}, "different batch sizes"),
    ({"inputs": {"a": [[1.0, 2.0, 3.0]], "b": [[1.5, 2]]}}, "non-integer"),
    ({"instances": [{"a": [1.0, 2.0, 3.0], "b": [1, 2], "c": 1}]}, "unknown ['c']"),
])
def test_requests_that_do_not_fit_the_signature_are_refused(two_in_two_out, body, message):
    with pytest.raises(RequestError, match=message.replace("[", r"\[").replace("]", r"\]")):
        two_in_two_out.decode(body)


def test_loading_a_model_file_never_runs_its_code(tmp_path):
    model = pykern.Sequential([layers.Input((3,)), layers.Lambda(lambda t: t * 2)])
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match="Lambda"):
        ServedModel.load(tmp_path / "lam.keras")
