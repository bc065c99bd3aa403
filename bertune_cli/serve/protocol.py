"""uvicorn's h11 protocol with bounds for slow or oversized clients.

uvicorn closes a keep-alive connection that stays idle after a response, but nothing bounds
how long a client may take to send a request's headers, nor (when they arrive in one piece)
how large they are: a client that connects and trickles a byte every few seconds holds a
connection for ever, and enough of them exhaust the server. This protocol:

- gives every request ``read_timeout`` seconds from the connection (or the previous response)
  to the end of its headers; then a half-sent request gets a JSON 408 and the connection is
  closed (an idle connection is just closed);
- answers headers over ``max_header_bytes`` (request line included) with a JSON 431 and
  closes the connection (h11's own bound, ``h11_max_incomplete_event_size``, only sees
  headers that arrive in several pieces);
- answers malformed HTTP with a JSON 400 (uvicorn's is plain text).

The body's deadline (the same ``read_timeout``, from the end of the headers) is enforced by
the app's gate (guards.py), which reads every body before routing.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedH11Protocol(H11Protocol):
    read_timeout: float = 10.0
    max_header_bytes: int = 16 * 1024

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head is not None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            size = end if end >= 0 else len(self._head)
            if size > self.max_header_bytes:
                self._refuse(
                    431,
                    "header_too_large",
                    f"the request line and headers are over {self.max_header_bytes} bytes",
                )
                return
            if end >= 0:  # the headers are complete: the body's deadline is the gate's
                self._head = None
                self._stop_timer()
        super().data_received(data)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request started (pipelined ones never pass data_received)
            self._head = None
            self._stop_timer()

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._await_headers()
        super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "bad_http", "the request is not valid HTTP/1.1")

    # ------------------------------------------------------------------ internals
    def _await_headers(self) -> None:
        self._stop_timer()
        self._head = b""
        self._timer = self.loop.call_later(self.read_timeout, self._headers_late)

    def _stop_timer(self) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._head is None:
            return
        if self._head.strip():
            self._refuse(
                408,
                "request_timeout",
                f"the request's headers did not arrive within {self.read_timeout:g} s",
            )
        else:  # an idle connection: nothing to answer
            self.transport.close()

    def _refuse(self, status: int, error: str, detail: str) -> None:
        """A JSON error, then close (the connection's HTTP state is unknown)."""
        self._stop_timer()
        self._head = None
        body = json.dumps({"error": error, "detail": detail}).encode("utf-8")
        head = [
            b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]),
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.logger.warning("refused a request from %s: %s", self.client, detail)
        if self.conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            self.transport.write(b"".join(head) + body)
        self.transport.close()


def protocol_for(read_timeout: float, max_header_bytes: int) -> type[GuardedH11Protocol]:
    """The protocol class with these bounds (a class: uvicorn instantiates it per connection)."""
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"read_timeout": float(read_timeout), "max_header_bytes": int(max_header_bytes)},
    )


class FromEnvProtocol(GuardedH11Protocol):
    """``--workers N``: each worker process reads the bounds from the settings in the
    environment (uvicorn imports this class by name in every worker)."""

    def __init__(self, *args, **kwargs) -> None:
        cls = type(self)
        if not getattr(cls, "_configured", False):
            from bertune_cli.serve.settings import ServeSettings

            settings = ServeSettings.from_env()
            cls.read_timeout, cls.max_header_bytes = (
                settings.read_timeout_s,
                settings.max_header_bytes,
            )
            cls._configured = True
        super().__init__(*args, **kwargs)
