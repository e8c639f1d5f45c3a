"""MLServer's custom REST handlers (`mlserver.handlers.custom_handler`), served in the worker.

MLServer mounts every `@custom_handler(rest_path=..., rest_method=...)` method of a loaded model
as a FastAPI route at the root of its REST server (mlserver/rest/server.py,
`add_custom_handlers`): MLflowRuntime's `POST /invocations`, `GET /ping`, `/health`, `/version`.
FastAPI resolves each handler's parameters (`Depends`, `Header`, a `Request`) from the HTTP
request, so the handler only behaves as in MLServer when FastAPI calls it. Each model with
handlers therefore gets a FastAPI app of its own here, built as MLServer builds its app (its
`APIRoute`, `Response` and `MLServerError` handler), and the server forwards the HTTP request it
received (method, path, query, headers, raw body) in an HTTP frame; the app is called in process
as an ASGI application (no socket), and its status, headers and body go back in the reply.
"""
import asyncio
import sys
import traceback
from urllib.parse import unquote

try:
    from fastapi import FastAPI
    from mlserver.handlers.custom import get_custom_handlers
except ImportError as error:  # an mlserver without FastAPI cannot have custom handlers
    FASTAPI_ERROR = f"{type(error).__name__}: {error}"
else:
    FASTAPI_ERROR = None


def _mlserver_app() -> "FastAPI":
    """A FastAPI app with MLServer's route class, response class and error handler, if present."""
    try:
        from mlserver.rest.app import APIRoute
        from mlserver.rest.errors import _EXCEPTION_HANDLERS
        from mlserver.rest.responses import Response
    except ImportError:  # an older mlserver: FastAPI's defaults
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        return app
    app = FastAPI(
        default_response_class=Response,
        exception_handlers=_EXCEPTION_HANDLERS,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.router.route_class = APIRoute
    return app


def mount(model):
    """The model's handlers as (app, routes), or (None, []) when it has none."""
    if FASTAPI_ERROR is not None:
        return None, []
    handlers = get_custom_handlers(model)
    if not handlers:
        return None, []
    app = _mlserver_app()
    routes = []
    for handler, method in handlers:
        app.add_api_route(handler.rest_path, method, methods=[handler.rest_method])
        routes.append({"method": handler.rest_method.upper(), "path": handler.rest_path})
    return app, routes


async def call(app, head, body: bytes):
    """Runs one HTTP request through the app; returns (status, headers, body)."""
    raw_path = head["path"]
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in head.get("headers", [])
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": head["method"],
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": head.get("query", "").encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": None,
        "server": None,
    }
    delivered = False
    finished = asyncio.Event()

    async def receive():
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        # As a server does: the client is connected until the response is complete.
        await finished.wait()
        return {"type": "http.disconnect"}

    response = {"status": None, "headers": [], "body": []}

    async def send(message):
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
            response["headers"] = [
                [name.decode("latin-1"), value.decode("latin-1")]
                for name, value in message.get("headers", [])
            ]
        elif message["type"] == "http.response.body":
            response["body"].append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    except Exception:
        # FastAPI's ServerErrorMiddleware has answered 500 and re-raised: the traceback goes to
        # the server log, the 500 to the client, as uvicorn does under MLServer.
        if response["status"] is None:
            raise
        traceback.print_exc(file=sys.stderr)
    finally:
        finished.set()
    if response["status"] is None:
        raise RuntimeError("the custom handler sent no response")
    return response["status"], response["headers"], b"".join(response["body"])
