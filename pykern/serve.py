"""`python -m pykern.serve MODEL_PATH`: TensorFlow Serving's REST API for a saved model.

    python -m pykern.serve model.keras [--host 127.0.0.1] [--port 8501] [--name NAME]
        [--max-batch-size 32] [--batch-timeout-ms 0] [--max-body-bytes 33554432]

Needs the `serve` extra (`pip install "pykern[serve]"`: Starlette and Uvicorn).
MODEL_PATH is a `.keras` or `.h5` file; it is loaded with pykern's loader, which
never runs code from the file (a Lambda layer is refused). NAME defaults to the
file name without its extension; the model is served as version 1. Endpoints, as
TensorFlow Serving answers them, so existing clients work unchanged:

    GET  /v1/models/NAME[/versions/1]            status (model_version_status)
    GET  /v1/models/NAME[/versions/1]/metadata   the serving_default signature_def
    POST /v1/models/NAME[/versions/1]:predict    {"instances": [...]} -> {"predictions": [...]}
                                                 {"inputs": ...}      -> {"outputs": ...}
    GET  /healthz                                {"status": "ok"} while serving

Inputs are named after the model's InputLayers and outputs output_0, output_1, ...
(pykern.saving.signature: the names of the model's ONNX and SavedModel exports).
Row format: each instance is one example, or a {input name: value} object for a
model with several inputs; the answer has one prediction per instance (an
{output name: value} object when there are several outputs). Columnar format:
"inputs" is the batch (or a {name: batch} object), the answer "outputs" likewise.
Bad requests (malformed JSON, wrong shapes or dtypes, bodies over --max-body-bytes,
unknown model names, versions or paths) get a 4xx answer {"error": "..."} and
the server keeps serving.

Batching. Each request is validated and queued; one asyncio worker takes
requests off the queue into one batch — up to --max-batch-size rows, waiting at
most --batch-timeout-ms after the first one for more — and runs the model once
on the concatenated batch in a single worker thread (pykern's kernels already use
every core per call), then hands each request its own rows. While a batch runs,
new requests queue up, so under load the next batch forms by itself: the batch
size follows the load without any waiting.

The defaults, --batch-timeout-ms 0 and --max-batch-size 32, from `python -m bench
serve` (one instance per request, clients on the same machine) on the 2-core
development VM while other jobs ran (load average 6-10, so figures moved up to
2x between runs; one run of both settings):

    seed MLP, clients             1          8          32
    timeout 0 ms   req/s          353        585        785
                   p50 / p99 ms   1.9 / 10   8.5 / 68   32 / 162
                   rows per call  1.0        3.4        11.9
    timeout 2 ms   req/s          130        321        662
                   p50 / p99 ms   7.1 / 20   24 / 64    45 / 113
                   rows per call  1.0        7.9        29.1

A wait adds its latency at low load (one client: 1.9 ms -> 7.1 ms at the median,
353 -> 130 requests/s; another run: 212 -> 79) and bought no clear throughput at
8 or 32 clients (32 clients in another run: 304 vs 340 requests/s, within the
noise), although it doubled the rows per call (also for the MNIST CNN with a 5 ms
wait: 12-15 -> 27-29 rows per call, no faster either): the requests' HTTP
and JSON work in the event loop, about 1 ms each, bounds the server here, not
the model (the MLP takes 0.25 ms for 1 row, 1.9 ms for 32). A wait pays where
one model call costs much more than handling a request and clients are many; set
a few ms there. The cap, 32 rows, is as many as 32 clients send at once, and
bounds what a large batch adds to the latency of every request in it (the MNIST
CNN: 8 ms for 1 row, 31 ms for 32 rows in the same run).
"""
import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import json
import os
import re
import socket
import sys

import numpy as np

__all__ = ["ServedModel", "Batcher", "RequestError", "create_app", "main"]

DEFAULT_PORT = 8501
DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_BATCH_TIMEOUT_MS = 0.0
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
VERSION = "1"
SIGNATURE = "serving_default"

_DTYPES = {"float32": "DT_FLOAT", "float64": "DT_DOUBLE", "float16": "DT_HALF",
           "int32": "DT_INT32", "int64": "DT_INT64", "int16": "DT_INT16", "int8": "DT_INT8",
           "uint8": "DT_UINT8", "bool": "DT_BOOL", "string": "DT_STRING"}
# NAME, optional /versions/N, then /metadata, :method or nothing
_MODEL_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?"
                         r"(?:(?P<metadata>/metadata)|:(?P<method>[^/:]*))?$")


class RequestError(Exception):
    """A request the server refuses: HTTP `status`, TF Serving's {"error": message}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --- the model: signature, request decoding, prediction, answers ------------------------------
def _tensor_info(spec, tensor_name):
    dims = [{"size": str(-1 if d is None else int(d)), "name": ""} for d in spec.shape]
    return {"dtype": _DTYPES.get(spec.dtype, "DT_INVALID"),
            "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": tensor_name}


def _shape_text(shape):
    return "[" + ", ".join("-1" if d is None else str(d) for d in shape) + "]"


class ServedModel:
    """A loaded model with its signature: decodes TF Serving requests into input
    batches, runs the model, encodes answers."""

    def __init__(self, model, name, version=VERSION):
        from pykern.saving.signature import input_specs, output_specs
        self.model, self.name, self.version = model, name, str(version)
        self.inputs, self.outputs = input_specs(model), output_specs(model)
        self._input_names = [s.name for s in self.inputs]

    @classmethod
    def load(cls, path, name=None):
        from pykern.models import load_model
        model = load_model(path, compile=False)  # safe_mode: never runs code from the file
        if name is None:
            name = os.path.basename(os.path.normpath(path)).split(".")[0] or "model"
        return cls(model, name)

    # --- TF Serving's JSON answers ------------------------------------------------------------
    def status(self):
        return {"model_version_status": [{"version": self.version, "state": "AVAILABLE",
                                          "status": {"error_code": "OK",
                                                     "error_message": ""}}]}

    def metadata(self):
        inputs = {s.name: _tensor_info(s, f"{SIGNATURE}_{s.name}:0") for s in self.inputs}
        outputs = {s.name: _tensor_info(s, f"StatefulPartitionedCall:{i}")
                   for i, s in enumerate(self.outputs)}
        signature = {"inputs": inputs, "outputs": outputs,
                     "method_name": "tensorflow/serving/predict", "defaults": {}}
        return {"model_spec": {"name": self.name, "signature_name": "",
                               "version": self.version},
                "metadata": {"signature_def": {"signature_def": {SIGNATURE: signature}}}}

    # --- requests -----------------------------------------------------------------------------
    def decode(self, body):
        """(inputs, rows, columnar) from a parsed :predict body: one array per model
        input, all with `rows` rows."""
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object with \"instances\" "
                                    "or \"inputs\"")
        signature = body.get("signature_name", SIGNATURE)
        if signature not in (SIGNATURE, ""):
            raise RequestError(400, f"Serving signature name: \"{signature}\" not found in "
                                    f"signature def (the model has \"{SIGNATURE}\" only)")
        unknown = sorted(set(body) - {"signature_name", "instances", "inputs"})
        if unknown:
            raise RequestError(400, f"unknown request keys {unknown}: expected \"instances\" "
                                    f"(row format) or \"inputs\" (columnar format)")
        if ("instances" in body) == ("inputs" in body):
            raise RequestError(400, "the request must have exactly one of \"instances\" (row "
                                    "format) or \"inputs\" (columnar format)")
        if "instances" in body:
            columns = self._columns_of_rows(body["instances"])
        else:
            columns = self._named(body["inputs"], "\"inputs\"")
        arrays = [self._array(spec, columns[spec.name]) for spec in self.inputs]
        rows = {a.shape[0] for a in arrays}
        if len(rows) > 1:
            raise RequestError(400, f"the inputs have different batch sizes "
                                    f"{[a.shape[0] for a in arrays]}")
        n = rows.pop()
        if n == 0:
            raise RequestError(400, "the request has no instances (an empty batch)")
        return arrays, n, "inputs" in body

    def _named(self, value, where):
        """{input name: value}: a JSON object naming every input, or (one input) the value."""
        if isinstance(value, dict):
            missing = [n for n in self._input_names if n not in value]
            extra = sorted(set(value) - set(self._input_names))
            if missing or extra:
                raise RequestError(400, f"{where} must name the inputs {self._input_names}; "
                                        f"missing {missing}, unknown {extra}")
            return value
        if len(self._input_names) > 1:
            raise RequestError(400, f"{where} must be an object naming the model's inputs "
                                    f"{self._input_names}")
        return {self._input_names[0]: value}

    def _columns_of_rows(self, instances):
        if not isinstance(instances, list):
            raise RequestError(400, "\"instances\" must be a list (one entry per example)")
        if not instances:
            raise RequestError(400, "the request has no instances (an empty batch)")
        if all(isinstance(i, dict) for i in instances):
            rows = [self._named(i, "each instance") for i in instances]
            return {n: [r[n] for r in rows] for n in self._input_names}
        if len(self._input_names) > 1 or any(isinstance(i, dict) for i in instances):
            raise RequestError(400, f"each instance must be an object naming the model's "
                                    f"inputs {self._input_names}")
        return {self._input_names[0]: instances}

    @staticmethod
    def _array(spec, value):
        try:
            raw = np.asarray(value)
        except ValueError:  # ragged nesting
            raw = None
        if raw is None or raw.dtype == object:
            raise RequestError(400, f"input '{spec.name}' is not a rectangular array of "
                                    f"numbers (ragged lists, or null values)")
        if raw.dtype.kind not in "biuf":
            raise RequestError(400, f"input '{spec.name}' must hold numbers ({spec.dtype}), "
                                    f"got {raw.dtype.kind == 'U' and 'strings' or raw.dtype}")
        want = np.dtype(spec.dtype)
        if want.kind in "iu" and raw.dtype.kind == "f" and not np.all(np.mod(raw, 1) == 0):
            raise RequestError(400, f"input '{spec.name}' has dtype {spec.dtype}; got "
                                    f"non-integer values")
        shape = spec.shape
        if raw.ndim != len(shape) or any(d is not None and d != n
                                         for d, n in zip(shape[1:], raw.shape[1:])):
            raise RequestError(400, f"input '{spec.name}' must have shape {_shape_text(shape)} "
                                    f"(batch first), got {list(raw.shape)}")
        with np.errstate(over="ignore", invalid="ignore"):
            array = raw.astype(want)
        if want.kind == "f" and raw.dtype.kind == "f" and not np.all(
                np.isfinite(array) | ~np.isfinite(raw)):
            raise RequestError(400, f"input '{spec.name}' has values out of the range of "
                                    f"{spec.dtype}")
        return np.ascontiguousarray(array)

    # --- prediction and answers -------------------------------------------------------------
    def predict(self, inputs):
        """One model call on a batch: one array per output."""
        out = self.model.predict_on_batch(inputs[0] if len(inputs) == 1 else list(inputs))
        return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]

    def answer(self, outputs, columnar):
        names = [s.name for s in self.outputs]
        if columnar:
            if len(outputs) == 1:
                return {"outputs": outputs[0].tolist()}
            return {"outputs": {n: o.tolist() for n, o in zip(names, outputs)}}
        if len(outputs) == 1:
            return {"predictions": outputs[0].tolist()}
        columns = [o.tolist() for o in outputs]
        return {"predictions": [dict(zip(names, row)) for row in zip(*columns)]}


# --- batching ---------------------------------------------------------------------------------
class _Pending:
    __slots__ = ("inputs", "rows", "key", "future")

    def __init__(self, inputs, rows, future):
        self.inputs, self.rows, self.future = inputs, rows, future
        self.key = tuple(a.shape[1:] for a in inputs)  # batches join equal row shapes only


class Batcher:
    """Queues requests and runs them in batches: one asyncio worker drains the queue
    into batches of up to `max_batch_size` rows (waiting up to `timeout_s` after the
    first request for more) and runs `predict(inputs) -> outputs` on each batch in
    one worker thread. A request larger than `max_batch_size` runs alone."""

    def __init__(self, predict, max_batch_size=DEFAULT_MAX_BATCH_SIZE,
                 timeout_s=DEFAULT_BATCH_TIMEOUT_MS / 1000):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if timeout_s < 0:
            raise ValueError(f"the batch timeout must be >= 0, got {timeout_s}")
        self._predict, self.max_batch_size, self.timeout_s = predict, max_batch_size, timeout_s
        self._queue = None
        self._task = None
        self._executor = None
        self.requests = self.calls = self.rows = 0  # answered; model calls; rows in them
        self.batch_sizes = collections.deque(maxlen=1000)  # the latest calls' rows

    async def start(self):
        self._queue = asyncio.Queue()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="pykern-serve-model")
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, inputs, rows):
        """The outputs for `inputs` (one array per model input, `rows` rows each)."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(inputs, rows, future))
        return await future

    async def _next_batch(self, held):
        """(batch, held): queued requests up to the row cap; `held` is a request that
        did not fit (another row shape, or too many rows) and starts the next batch."""
        loop = asyncio.get_running_loop()
        first = held if held is not None else await self._queue.get()
        batch, rows = [first], first.rows
        deadline = loop.time() + self.timeout_s
        while rows < self.max_batch_size:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            if item.key != first.key or rows + item.rows > self.max_batch_size:
                return batch, item
            batch.append(item)
            rows += item.rows
        return batch, None

    async def _work(self):
        held = None
        while True:
            batch, held = await self._next_batch(held)
            batch = [p for p in batch if not p.future.done()]  # clients that gave up
            if batch:
                await self._run(batch)

    async def _run(self, batch):
        loop = asyncio.get_running_loop()
        try:
            inputs = batch[0].inputs if len(batch) == 1 else [
                np.concatenate(parts) for parts in zip(*(p.inputs for p in batch))]
            outputs = await loop.run_in_executor(self._executor, self._predict, inputs)
        except Exception as e:  # noqa: BLE001 - answered to the requests, the worker goes on
            if len(batch) > 1:  # one bad request must not fail the others: run each alone
                for p in batch:
                    await self._run([p])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(e)
            return
        self.batch_sizes.append(sum(p.rows for p in batch))
        self.calls += 1
        self.rows += self.batch_sizes[-1]
        self.requests += len(batch)
        start = 0
        for p in batch:
            if not p.future.done():
                p.future.set_result([o[start:start + p.rows] for o in outputs])
            start += p.rows


# --- HTTP: Starlette on Uvicorn -------------------------------------------------------------
def _json(payload, status=200):
    from starlette.responses import Response
    # NaN/Infinity as TF Serving writes them (Starlette's JSONResponse refuses them)
    body = json.dumps(payload, allow_nan=True, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _error(status, message):
    return _json({"error": message}, status)


async def _read_body(request, limit):
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestError(413, f"the request body has {length} bytes, over the limit of "
                                f"{limit} bytes (--max-body-bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body is over the limit of {limit} bytes "
                                    f"(--max-body-bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(served, batcher, max_body_bytes=DEFAULT_MAX_BODY_BYTES):
    """The ASGI application serving `served` (a ServedModel) through `batcher`."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    async def predict(request):
        body = await _read_body(request, max_body_bytes)
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestError(400, f"JSON Parse error: {e}") from None
        inputs, rows, columnar = served.decode(parsed)
        try:
            outputs = await batcher.submit(inputs, rows)
        except (ValueError, TypeError) as e:
            raise RequestError(400, str(e)) from None
        return _json(served.answer(outputs, columnar))

    async def model_endpoint(request):
        path = request.path_params["rest"]
        match = _MODEL_PATH.match(path)
        if match is None:
            raise RequestError(404, f"Malformed request: {request.method} "
                                    f"{request.url.path}")
        name, version = match["name"], match["version"]
        if name != served.name:
            raise RequestError(404, f"Servable not found for request: Latest({name})"
                               if version is None else
                               f"Servable not found for request: Specific({name}, {version})")
        if version is not None and version != served.version:
            raise RequestError(404, f"Servable not found for request: Specific({name}, "
                                    f"{version})")
        method = match["method"]
        if method is None:
            if request.method != "GET":
                raise RequestError(405, f"{request.method} is not allowed on "
                                        f"{request.url.path}: use GET")
            return _json(served.metadata() if match["metadata"] else served.status())
        if method != "predict":
            raise RequestError(400, f"pykern.serve implements :predict only, got :{method}")
        if request.method != "POST":
            raise RequestError(405, f"{request.method} is not allowed on {request.url.path}: "
                                    f"use POST")
        return await predict(request)

    async def model_route(request):
        try:
            return await model_endpoint(request)
        except RequestError as e:
            return _error(e.status, e.message)

    async def health(request):
        return _json({"status": "ok"})

    async def http_error(request, exc):
        message = exc.detail if exc.status_code != 404 else \
            f"Malformed request: {request.method} {request.url.path}"
        return _error(exc.status_code, message)

    async def server_error(request, exc):
        return _error(500, f"{type(exc).__name__}: {exc}")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()
            calls = max(batcher.calls, 1)
            print(f"pykern.serve: answered {batcher.requests} requests in {batcher.calls} "
                  f"model calls ({batcher.requests / calls:.2f} requests, "
                  f"{batcher.rows / calls:.2f} rows per call)", file=sys.stderr, flush=True)

    routes = [Route("/healthz", health, methods=["GET"]),
              Route("/v1/models/{rest:path}", model_route, methods=["GET", "POST"])]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPException: http_error, Exception: server_error})


# --- the command --------------------------------------------------------------------------------
def _parser():
    p = argparse.ArgumentParser(prog="python -m pykern.serve",
                                description="Serve a saved pykern/Keras model over TensorFlow "
                                            "Serving's REST API.")
    p.add_argument("model_path", metavar="MODEL_PATH", help="a .keras or .h5 model file")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help="0 picks a free port (printed on start)")
    p.add_argument("--name", help="the model name in URLs (default: the file name without "
                                  "extension)")
    p.add_argument("--max-batch-size", type=int, default=DEFAULT_MAX_BATCH_SIZE,
                   help="rows per model call at most (default %(default)s)")
    p.add_argument("--batch-timeout-ms", type=float, default=DEFAULT_BATCH_TIMEOUT_MS,
                   help="how long a batch waits for more requests (default %(default)s)")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                   help="larger request bodies get 413 (default %(default)s)")
    return p


def _listening_socket(host, port):
    """The server's bound TCP socket (port 0: a free one). Made with protocol
    IPPROTO_TCP, as asyncio makes its own: asyncio sets TCP_NODELAY only on
    connections of such a socket, and without it every request on a keep-alive
    connection waited 40 ms more (the response's header and body writes, Nagle's
    algorithm against the client's delayed ACK: 44 ms instead of 2 ms per request)."""
    family, _, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      proto=socket.IPPROTO_TCP)[0]
    sock = socket.socket(family, socket.SOCK_STREAM, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)  # uvicorn's backlog; connections queue from now on, before serving
    return sock


def _require_serving_stack():
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise SystemExit('python -m pykern.serve needs Starlette and Uvicorn: pip install '
                         '"pykern[serve]"') from None


def main(argv=None):
    args = _parser().parse_args(argv)
    _require_serving_stack()
    import uvicorn
    if args.max_batch_size < 1 or args.batch_timeout_ms < 0 or args.max_body_bytes < 1:
        raise SystemExit("--max-batch-size and --max-body-bytes must be positive and "
                         "--batch-timeout-ms >= 0")
    try:
        served = ServedModel.load(args.model_path, args.name)
    except (OSError, ValueError, NotImplementedError) as e:
        raise SystemExit(f"pykern.serve: {e}") from None
    if all(d is not None for s in served.inputs for d in s.shape[1:]):
        # the first call allocates the kernels' scratch: pay it before the first request
        served.predict([np.zeros((1, *s.shape[1:]), np.dtype(s.dtype)) for s in served.inputs])
    batcher = Batcher(served.predict, args.max_batch_size, args.batch_timeout_ms / 1000)
    app = create_app(served, batcher, args.max_body_bytes)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning",
                            access_log=False, lifespan="on")
    try:
        sock = _listening_socket(args.host, args.port)
    except OSError as e:
        raise SystemExit(f"pykern.serve: cannot listen on {args.host}:{args.port}: {e}") from None
    host, port = sock.getsockname()[:2]
    print(f"pykern.serve: model {served.name!r} (version {served.version}) at "
          f"http://{host}:{port}/v1/models/{served.name}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
