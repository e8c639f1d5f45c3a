"""Custom metrics: MLServer's `mlserver.register` and `mlserver.log`, shipped to the server.

MLServer keeps these in a prometheus_client registry of its own and serves it; here the server
(Node) serves every metric, so the two functions are wrapped where runtimes find them
(`mlserver.register`, `mlserver.log`, `mlserver.metrics.*`): they still do what MLServer does in
this process (its registry, its errors outside a model context), and each call also sends a METRIC
frame naming the model it ran in. Unchanged runtimes therefore work. A name prometheus_client
refuses is reported on stderr (the server log) and dropped instead of failing the predict.
"""
import asyncio
import contextlib
import contextvars
import math
import sys

from . import wire

# The key of the model whose load/predict/unload is running (set by worker.model_scope).
model_key: contextvars.ContextVar = contextvars.ContextVar("tessera_model_key", default=None)

# MLServer's own description for a metric that `log` creates.
DEFAULT_DESCRIPTION = "TODO: Default description?"


class _Discarded:
    """What `register` returns for a refused name: observations go nowhere."""

    def labels(self, *args, **kwargs):
        return self

    def observe(self, *args, **kwargs):
        return None


class Shipper:
    """Sends METRIC frames on the worker's loop (from any thread a runtime logs in)."""

    def __init__(self, send, loop):
        self._send = send
        self._loop = loop

    def emit(self, head):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._send(wire.METRIC, 0, head)
            return
        try:
            self._loop.call_soon_threadsafe(self._send, wire.METRIC, 0, head)
        except RuntimeError:  # the worker is shutting down: the value has nowhere to go
            pass


def _warn(message):
    print(f"tessera: {message}", file=sys.stderr, flush=True)


def install(shipper: Shipper):
    """Wraps mlserver's register/log; returns False when this mlserver has no custom metrics."""
    try:
        import mlserver
        import mlserver.metrics as metrics
        from mlserver.metrics import context
    except ImportError:
        return False
    original_register = getattr(context, "register", None)
    labels_from_context = getattr(context, "_get_labels_from_context", None)
    if original_register is None or labels_from_context is None:
        _warn("this mlserver's metrics API is not the one known; custom metrics are not shipped")
        return False

    def register(name, description):
        try:
            metric = original_register(name, description)
        except (TypeError, ValueError) as error:
            _warn(f"mlserver.register({name!r}) refused: {error}")
            return _Discarded()
        shipper.emit(
            {"op": "register", "name": name, "description": str(description), "key": model_key.get()}
        )
        return metric

    def log(**values):
        # Outside a model context this raises MLServer's InvalidModelContext, as in MLServer.
        labels = labels_from_context()
        for name, value in values.items():
            try:
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError(f"{value!r} is not a finite number")
                original_register(name, DEFAULT_DESCRIPTION).labels(**labels).observe(number)
            except (TypeError, ValueError) as error:
                _warn(f"mlserver.log({name}=...) refused: {error}")
                continue
            shipper.emit({"op": "observe", "name": name, "value": number, "key": model_key.get()})

    for module in (mlserver, metrics, context):
        module.register = register
        module.log = log
    return True


def scope(settings, key):
    """MLServer's model context (its metric labels, its log fields) plus the model's key."""
    try:
        from mlserver.context import model_context
    except ImportError:  # an mlserver without contexts: only the key
        model_context = None
    stack = contextlib.ExitStack()
    if model_context is not None:
        stack.enter_context(model_context(settings))
    token = model_key.set(key)
    stack.callback(model_key.reset, token)
    return stack
