"""Host-header checking against DNS rebinding, as notebook servers do.

A web page on ``evil.example`` can make its own name resolve to 127.0.0.1 and then talk to a
server on loopback as if it were same-origin: the browser sends ``Host: evil.example``. So the
server answers only requests whose ``Host`` names it: the loopback names (``127.0.0.1``,
``localhost``, ``[::1]``), the address it is bound to, and the names given with
``--allowed-host`` (``*.example.com`` matches that domain's subdomains, ``*`` anything). A
request without a ``Host`` header (HTTP/1.0; browsers always send one) is let through.
Binding a wildcard address (``0.0.0.0``, ``::``) needs ``--allowed-host``: the names clients
will use cannot be guessed (``check_binding``).
"""

from __future__ import annotations

from bertune_cli.serve.errors import error_response

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARD_BINDS = ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """The host of a ``Host`` header, lower-cased, without the port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8000
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_names(bind: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    names = [*LOOPBACK, *(n.strip().lower().strip("[]") for n in extra)]
    if bind and bind not in WILDCARD_BINDS:
        names.append(bind.lower().strip("[]"))
    return tuple(dict.fromkeys(names))


def host_allowed(name: str, allowed: tuple[str, ...]) -> bool:
    for pattern in allowed:
        if pattern == "*" or name == pattern:
            return True
        if pattern.startswith("*.") and name.endswith(pattern[1:]):
            return True
    return False


def check_binding(host: str, allowed_hosts: tuple[str, ...]) -> None:
    """A wildcard bind without ``--allowed-host`` is a usage error (before the model loads)."""
    from bertune_cli.core.errors import UsageError

    if host.strip("[]") in WILDCARD_BINDS and not allowed_hosts:
        raise UsageError(
            f"--host {host} listens on every network interface, so the server "
            "cannot know the names clients will use",
            "name them with --allowed-host NAME (repeatable, e.g. "
            "--allowed-host mt.example.org), or --allowed-host '*' to accept any "
            "Host header (no protection against DNS rebinding)",
        )


class HostGuard:
    """Pure ASGI middleware (outermost but metrics): a JSON 403 for a ``Host`` not allowed."""

    def __init__(self, app, bind: str, allowed_hosts: tuple[str, ...]):
        self.app = app
        self.allowed = allowed_names(bind, allowed_hosts)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            header = next(
                (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None
            )
            if header is not None and not host_allowed(host_name(header), self.allowed):
                return await error_response(
                    403,
                    "host_not_allowed",
                    f"this server does not answer for the host {header[:100]!r} (DNS "
                    "rebinding protection); its operator can allow it with --allowed-host",
                )(scope, receive, send)
        return await self.app(scope, receive, send)
