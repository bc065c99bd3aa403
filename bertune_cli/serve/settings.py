"""Server settings: one frozen dataclass, passed to ``create_app`` (never a global).

``--workers N`` makes uvicorn start N processes that each import the app by name; the settings
travel to them as JSON in the ``BERTUNE_SERVE_SETTINGS`` environment variable (see
``from_env``/``to_env``). API keys are excluded from ``repr`` so a logged settings object never
shows them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ENV_VAR = "BERTUNE_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    # --- the model (used by the multi-worker factory and reported by /health)
    model: str | None = None  # run or checkpoint folder
    device: str = "cpu"
    engine: str = "torch"
    source_lang: str = "de"
    target_lang: str = "en"
    corpus: str | None = None  # what the model was trained on (shown by the page)
    example: str | None = None  # a sentence of its test set (the page's placeholder)
    # --- access
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    cors: tuple[str, ...] = ()  # origins allowed cross-origin; none = refuse all
    host: str = "127.0.0.1"  # the bound address (an allowed Host)
    allowed_hosts: tuple[str, ...] = ()  # more Host names answered ('*' = any)
    # --- limits
    max_body_bytes: int = 1 << 20  # 413 above
    max_sentences: int = 64  # per request, 422 above
    max_chars: int = 2000  # per sentence, 422 above
    max_queue: int = 256  # requests waiting or running, 503 + Retry-After above
    timeout_s: float = 30.0  # per request, 504 after
    max_alternatives: int = 4  # LibreTranslate ``alternatives``
    max_mc_dropout: int = 32  # /explain ``mc_dropout``
    read_timeout_s: float = 10.0  # a request's headers, then its body, must arrive within
    max_header_bytes: int = 16 * 1024  # request line + headers, 431 above
    max_file_lines: int = 2000  # /translate_file, 413 above
    file_ttl_s: float = 1800.0  # translated files are deleted after this
    # --- dynamic batching
    batching: bool = True  # off: every request is its own model call
    max_batch_tokens: int = 0  # gathered source tokens per model call; 0 = device default
    max_wait_ms: float = 5.0  # longest a request waits for others to join its batch

    def batch_tokens(self, device: str | None = None) -> int:
        """The gathering budget: as given, else Translator's default for the (resolved) device
        (small batches are fastest for beam search on CPU, large ones on GPU)."""
        if self.max_batch_tokens > 0:
            return self.max_batch_tokens
        return 1024 if str(device or self.device).startswith("cpu") else 4096

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, environ=os.environ) -> "ServeSettings":
        raw = environ.get(ENV_VAR)
        if not raw:
            from bertune_cli.core.errors import UsageError

            raise UsageError(f"{ENV_VAR} is not set", "start the server with `bertune serve`")
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**data)


def read_key_file(path: Path) -> tuple[str, ...]:
    """API keys from a file: one per line; blank lines and ``#`` comments ignored."""
    from bertune_cli.core.errors import UsageError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(
            f"cannot read the API key file {path} ({exc.__class__.__name__})",
            "pass a readable file with one key per line",
        ) from exc
    keys = tuple(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    if not keys:
        raise UsageError(f"the API key file {path} holds no key", "write one key per line")
    return keys
