"""`bertune serve`: an HTTP API (FastAPI + uvicorn) and a web page for a trained model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from bertune_cli._options import Device, existing_file, number, path

ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        "-m",
        parser=path,
        help="Run directory (uses its checkpoint_best) or a checkpoint folder.",
    ),
]
Host = Annotated[
    str,
    typer.Option(
        "--host", help="Interface to bind (loopback by default; 0.0.0.0 needs --allowed-host)."
    ),
]
AllowedHost = Annotated[
    Optional[list[str]],
    typer.Option(
        "--allowed-host",
        help="Also answer requests for this Host name (repeatable; "
        "'*.example.org' = its subdomains, '*' = any). Loopback names and "
        "the bound address are always allowed (DNS-rebinding protection).",
    ),
]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")]
Workers = Annotated[
    int,
    typer.Option(
        "--workers", min=1, help="Server processes (each loads its own copy of the model)."
    ),
]
ApiKey = Annotated[
    Optional[list[str]],
    typer.Option(
        "--api-key",
        help="Require this API key (repeatable). Clients send 'Authorization: Bearer "
        "KEY', 'X-API-Key: KEY' or \"api_key\" in the body.",
    ),
]
ApiKeyFile = Annotated[
    Optional[Path],
    typer.Option(
        "--api-key-file",
        parser=existing_file,
        help="File of accepted API keys, one per line (# comments allowed).",
    ),
]
Cors = Annotated[
    Optional[list[str]],
    typer.Option(
        "--cors",
        help="Allow cross-origin requests from this origin (repeatable; '*' = any). "
        "Default: refused.",
    ),
]
BatchTokens = Annotated[
    int,
    typer.Option(
        "--max-batch-tokens",
        min=0,
        help="Source tokens gathered into one model call (0 = 1024 on CPU, 4096 on GPU).",
    ),
]
WaitMs = Annotated[
    float,
    typer.Option(
        "--max-wait-ms",
        parser=number(0),
        help="Longest a request waits for others to share its batch.",
    ),
]
Batching = Annotated[
    bool, typer.Option("--batching/--no-batching", help="Dynamic batching of concurrent requests.")
]
MaxBody = Annotated[
    int, typer.Option("--max-body-bytes", min=1, help="Largest request body (413 above).")
]
MaxSentences = Annotated[
    int, typer.Option("--max-sentences", min=1, help="Sentences per request (422 above).")
]
MaxChars = Annotated[
    int, typer.Option("--max-chars", min=1, help="Characters per sentence (422 above).")
]
MaxQueue = Annotated[
    int,
    typer.Option(
        "--max-queue", min=1, help="Requests waiting or running (503 + Retry-After above)."
    ),
]
Timeout = Annotated[
    float, typer.Option("--timeout", parser=number(0.001), help="Seconds per request (504 after).")
]
ReadTimeout = Annotated[
    float,
    typer.Option(
        "--read-timeout",
        parser=number(0.001),
        help="Seconds for a request's headers, then for its body, "
        "to arrive (slow clients are dropped: 408).",
    ),
]
MaxHeader = Annotated[
    int, typer.Option("--max-header-bytes", min=1024, help="Request line + headers (431 above).")
]
MaxFileLines = Annotated[
    int,
    typer.Option(
        "--max-file-lines", min=1, help="Lines (or HTML text segments) per /translate_file."
    ),
]
FileTtl = Annotated[
    float,
    typer.Option(
        "--file-ttl", parser=number(1), help="Seconds a translated file stays downloadable."
    ),
]
Engine = Annotated[
    str,
    typer.Option(
        "--engine", help="Decoding engine: torch, or ct2 (CTranslate2; /explain needs torch)."
    ),
]
LogLevel = Annotated[str, typer.Option("--log-level", help="uvicorn log level.")]


def serve(
    model: ModelOpt,
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    allowed_host: AllowedHost = None,
    api_key: ApiKey = None,
    api_key_file: ApiKeyFile = None,
    cors: Cors = None,
    max_batch_tokens: BatchTokens = 0,
    max_wait_ms: WaitMs = 5.0,
    batching: Batching = True,
    max_body_bytes: MaxBody = 1 << 20,
    max_sentences: MaxSentences = 64,
    max_chars: MaxChars = 2000,
    max_queue: MaxQueue = 256,
    timeout: Timeout = 30.0,
    read_timeout: ReadTimeout = 10.0,
    max_header_bytes: MaxHeader = 16384,
    max_file_lines: MaxFileLines = 2000,
    file_ttl: FileTtl = 1800.0,
    device: Device = "auto",
    engine: Engine = "torch",
    log_level: LogLevel = "info",
) -> None:
    """Serve a model over HTTP: a JSON API, OpenAPI docs at /docs and a web page at /.

    POST /translate speaks the blog's contract ({"sentence"}) and LibreTranslate's
    ({"q", "source", "target", "format", "alternatives"}; also POST /detect, POST
    /translate_file, GET /languages); POST /explain adds confidence, attention and MC-dropout
    uncertainty; GET /health, /metrics (Prometheus). Concurrent requests are batched on the
    model; a sentence's translation does not depend on its batch. SIGTERM: requests in flight
    finish, new ones get 503. A model translates text like its training corpus (the page
    names it): the demo model knows the demo's sentences, not everyday German.

    Examples:
      [bold]bertune serve --model runs/demo/baseline[/]
      [bold]bertune serve -m runs/demo/baseline --port 5000 --api-key-file keys.txt[/]
      [bold]bertune serve -m runs/demo/baseline --host 0.0.0.0 --allowed-host mt.example.org[/]
      [bold]curl -s localhost:8000/translate -d '{"sentence": "Haben wir das süße Brot gebacken?"}'[/]
    """
    import logging
    import os
    import signal
    import sys

    from bertune_cli.core.system.extras import require, require_all

    require_all(("fastapi", "uvicorn"), "bertune serve")  # before the model loads
    from bertune_cli.serve.hosts import check_binding
    from bertune_cli.serve.loading import describe_model
    from bertune_cli.serve.settings import ENV_VAR, ServeSettings, read_key_file

    allowed = tuple(allowed_host or ())
    check_binding(host, allowed)
    keys = tuple(api_key or ()) + (read_key_file(api_key_file) if api_key_file else ())
    settings = describe_model(
        model,
        ServeSettings(
            device=device,
            engine=engine,
            api_keys=keys,
            cors=tuple(cors or ()),
            host=host,
            allowed_hosts=allowed,
            max_body_bytes=max_body_bytes,
            max_sentences=max_sentences,
            max_chars=max_chars,
            max_queue=max_queue,
            timeout_s=timeout,
            batching=batching,
            max_batch_tokens=max_batch_tokens,
            max_wait_ms=max_wait_ms,
            read_timeout_s=read_timeout,
            max_header_bytes=max_header_bytes,
            max_file_lines=max_file_lines,
            file_ttl_s=file_ttl,
        ),
    )
    _check_port(host, port)
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)

    uvicorn = require("uvicorn", "bertune serve")
    from rich.console import Console

    # uvicorn owns SIGTERM (graceful shutdown, then the signal re-raised: killed by SIGTERM)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    from bertune_cli.serve.logs import log_config
    from bertune_cli.serve.protocol import protocol_for

    # uvicorn waits this long for requests in flight after SIGTERM before cancelling them;
    # the protocol bounds slow and oversized request headers (serve/protocol.py).
    run = dict(
        host=host,
        port=port,
        log_level=log_level,
        log_config=log_config(),
        timeout_graceful_shutdown=int(timeout) + 5,
        h11_max_incomplete_event_size=max_header_bytes,
    )
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"serving [bold]{model}[/] ({settings.source_lang}->{settings.target_lang}) on "
        f"http://{host}:{port}  page /  docs /docs"
        + (f"  {len(keys)} API key(s)" if keys else "  no API key")
    )
    if workers == 1:
        from bertune_cli.serve.app import create_app
        from bertune_cli.serve.loading import load_translator

        app = create_app(load_translator(model, settings), settings)
        uvicorn.run(app, http=protocol_for(read_timeout, max_header_bytes), **run)
    else:
        os.environ[ENV_VAR] = settings.to_env()  # each worker process builds its own app
        uvicorn.run(
            "bertune_cli.serve.app:app_from_env",
            factory=True,
            workers=workers,
            http="bertune_cli.serve.protocol:FromEnvProtocol",
            **run,
        )


def _check_port(host: str, port: int) -> None:
    """A clear error now rather than uvicorn's after the model has loaded."""
    import socket

    from bertune_cli.core.errors import UsageError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                "pick another --port, or stop the process using it",
            ) from exc
