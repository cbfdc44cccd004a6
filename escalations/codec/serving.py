"""Serving an ASGI app on uvicorn with bounds a public-facing endpoint needs.

The codec server runs on this, and so can any other HTTP endpoint of the service: build a
Starlette app, wrap it in :class:`AccessLog`, and hand it to :class:`HttpServer`.

uvicorn bounds what it can: concurrent connections (``limit_concurrency``: past it, requests
get ``503``), idle keep-alive connections (``timeout_keep_alive``) and the size of a request
head (``h11_max_incomplete_event_size``). It has no deadline for reading a request head, so a
client that connects and sends nothing, or trickles a header a byte at a time, would hold a
connection slot for good; :class:`_GuardedH11Protocol` adds one, and a deadline for the whole
request, body and response included.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle

STARTUP_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one server lets its clients hold.

    Attributes:
        max_connections: Open connections (idle ones included) before new requests get
            ``503``; uvicorn's ``limit_concurrency``.
        keep_alive_timeout: Seconds an idle connection is kept after a response; uvicorn's
            ``timeout_keep_alive``.
        head_timeout: Seconds from connecting (or from the previous response) to the end of
            the request head; a client still sending it then is dropped.
        request_timeout: Seconds a request whose head came in time may still take once the
            head deadline has passed (the body read, the work, the response written); past
            it the connection is dropped.
        max_head_size: Bytes of an unfinished request head held while waiting for the rest
            (h11's ``max_incomplete_event_size``); past it the client gets ``400``.
        shutdown_timeout: Seconds a graceful stop waits for requests in flight.
    """

    max_connections: int = 100
    keep_alive_timeout: int = 5
    head_timeout: float = 10.0
    request_timeout: float = 60.0
    max_head_size: int = 16 * 1024
    shutdown_timeout: int = 10


DEFAULT_LIMITS = Limits()


def log_field(text: str, limit: int = 200) -> str:
    """``text`` safe for one log line: no control, format or space characters, bounded.

    Each such character, and the backslash, becomes a Python-style escape (``\\x1b``,
    ``\\u2028``), so a request cannot start a forged log line or colour a terminal, and a
    field never contains a space that would let it pass for two fields.
    """
    out: list[str] = []
    for char in text[:limit]:
        if char.isprintable() and char not in {" ", "\\"}:
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out) + ("..." if len(text) > limit else "")


def header_values(scope: Scope, name: bytes) -> list[str]:
    """Every value of header ``name`` (lower case) in an ASGI scope, decoded as latin-1."""
    return [value.decode("latin-1") for key, value in scope["headers"] if key == name]


class AccessLog:
    """ASGI middleware: one line per request, every field escaped with :func:`log_field`.

    ``<client> <method> <path> -> <status> (<label> <header value>)``; never other headers,
    the query string, cookies or bodies.

    Args:
        app: The app to wrap.
        logger: Where the lines go (INFO).
        header: One request header worth logging (lower case), e.g. ``x-namespace``.
        label: Its name in the line.
        observe: Also told of each request: its scope, status and seconds taken (metrics).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger: logging.Logger,
        header: bytes,
        label: str,
        observe: Callable[[Scope, int, float], None] | None = None,
    ):
        self.app = app
        self.logger = logger
        self.header = header
        self.label = label
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | str = "-"

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except BaseException:
            status = 500 if status == "-" else status
            raise
        finally:
            if self.observe is not None:
                code = status if isinstance(status, int) else 500
                self.observe(scope, code, time.perf_counter() - started)
            client = scope.get("client")
            self.logger.info(
                "%s %s %s -> %s (%s %s)",
                log_field(client[0] if client else "-"),
                log_field(scope["method"], 20),
                log_field(scope["path"]),
                status,
                self.label,
                log_field(",".join(header_values(scope, self.header)) or "-", 100),
            )


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head and each request.

    One timer per connection: armed when the connection is made and again after each
    response. When it fires with no request under way, the client has not finished a request
    head in time and is dropped; with a request under way, it is re-armed once for
    :attr:`Limits.request_timeout`, and that request must be done by then.
    """

    limits = DEFAULT_LIMITS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # asyncio turns Nagle's algorithm off only for sockets made with IPPROTO_TCP, and
        # socket.create_server makes them with proto 0. uvicorn writes a response's head and
        # body separately, so with Nagle on the body waits for the client's delayed ACK: 40 ms
        # on every answer to a client that sends its next request on the same connection.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._watched: RequestResponseCycle | None = None
        self._arm(self.limits.head_timeout)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm(self.limits.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, self._deadline_passed)

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and cycle is not self._watched:
            # A request head arrived in time: give the request its own budget.
            self._watched = cycle
            self._arm(self.limits.request_timeout)
            return
        if self.conn.our_state not in {h11.ERROR, h11.CLOSED, h11.MUST_CLOSE}:
            with contextlib.suppress(h11.LocalProtocolError):
                self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def _protocol_for(limits: Limits) -> type[H11Protocol]:
    return type("GuardedH11Protocol", (_GuardedH11Protocol,), {"limits": limits})


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the process that owns it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take SIGINT/SIGTERM and re-raise them after shutting down; the CLI
        # (or a test) decides when to stop instead, through HttpServer.stop_serving.
        yield


class HttpServer:
    """An ASGI app on uvicorn (h11, asyncio), bound at construction.

    Binding here, not when serving starts, makes "address in use" an ``OSError`` of the
    constructor and gives port 0 its real number at once (see :attr:`url`).

    Args:
        app: The ASGI app.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
        tls: Serve HTTPS with this context.
        limits: Connection and time bounds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str,
        port: int,
        tls: ssl.SSLContext | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.create_server((host, port), family=family, backlog=128)
        self.secure = tls is not None
        factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None
        factory = (lambda config, default: tls) if tls is not None else None
        config = uvicorn.Config(
            app,
            loop="asyncio",
            http=_protocol_for(limits),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,  # AccessLog writes the one, escaped, line per request
            proxy_headers=False,  # the peer address is the client: X-Forwarded-For is not
            server_header=False,
            limit_concurrency=limits.max_connections,
            timeout_keep_alive=limits.keep_alive_timeout,
            timeout_graceful_shutdown=limits.shutdown_timeout,
            h11_max_incomplete_event_size=limits.max_head_size,
            ssl_context_factory=factory,
        )
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where it listens, e.g. ``http://127.0.0.1:8081``."""
        host, port = self._socket.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.secure else 'http'}://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop_serving` is called (from anywhere)."""
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def stop_serving(self) -> None:
        """Ask :meth:`serve_forever` to stop: it finishes requests in flight, then returns.

        Safe from another thread and from a signal handler.
        """
        self._server.should_exit = True

    def serve_until_signalled(self) -> None:
        """Serve in this thread until SIGTERM or SIGINT, then finish the requests in flight
        and close the socket. For a command's main thread (signal handlers live there)."""

        def stop(signum: int, frame: FrameType | None) -> None:
            # Only sets a flag: the server finishes the requests in flight, then returns.
            self.stop_serving()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.serve_forever()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()

    def close(self) -> None:
        """Close the listening socket (if serving has not closed it already)."""
        self._socket.close()

    def start(self) -> None:
        """Serve in a background thread; return once it accepts connections."""
        self._thread = threading.Thread(target=self.serve_forever, name="http-server")
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the background thread :meth:`start` began, and close the socket."""
        if self._thread is not None:
            self.stop_serving()
            self._thread.join()
            self._thread = None
        self.close()

    def __repr__(self) -> str:
        return f"HttpServer(url={self.url!r})"
