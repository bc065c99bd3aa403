"""Attention heatmaps (matplotlib, Agg) for core/explain: one PNG per input line.

The figure draws the data ``explain`` computed (it never recomputes attention): rows are the
output WordPieces, columns the source BPE pieces, colour the cross-attention weight (each row
sums to 1). Labels of any script: ``pick_fonts`` puts DejaVu Sans first and adds, for the
characters it lacks, installed fonts that have them (matplotlib falls back glyph by glyph
through a family list); characters no installed font has are returned (and logged) rather than
drawn as empty boxes silently. Matplotlib does not shape complex scripts: Devanagari conjuncts
and Arabic joining show as separate glyphs. Uses the object API (no pyplot state), so it is
safe to call from a server's worker threads.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from pathlib import Path

from bertune_cli.core.io.outputs import AtomicFile

log = logging.getLogger("bertune.explain")
PRIMARY = "DejaVu Sans"
_lock = threading.Lock()  # font_manager's caches are not documented as thread-safe


def save_attention(att: dict, path: Path, source: str, translation: str) -> tuple[Path, str]:
    """Write the heatmap of ``att`` (explain's attention dict, with ``matrix``) to ``path``
    atomically. Returns the path and the characters no installed font can draw ('' if none)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    src, tgt, matrix = att["source"], att["target"], att["matrix"]
    with _lock:
        families, missing = pick_fonts("".join(src + tgt) + source + translation)
    if missing:
        log.warning("no installed font has %s; they show as boxes in %s", missing, path)
    fig = Figure(
        figsize=(min(5.5 + 0.38 * len(src), 40), min(3.2 + 0.3 * len(tgt), 40)),
        dpi=110,
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(
        matrix, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest"
    )
    ax.set_xticks(
        range(len(src)),
        src,
        rotation=60,
        ha="left",
        rotation_mode="anchor",
        fontfamily=families,
        fontsize=10,
    )
    ax.set_yticks(range(len(tgt)), tgt, fontfamily=families, fontsize=10)
    ax.xaxis.tick_top()
    ax.set_xlabel("source BPE tokens", fontfamily=families)
    ax.set_ylabel("output WordPieces", fontfamily=families)
    ax.set_title(
        f"source: {_short(source)}\noutput: {_short(translation)}\n"
        f"decoder layer {att['layer']} (0-based) of {att['layers']}, "
        f"{att['heads']} heads averaged",
        fontfamily=families,
        fontsize=9,
        loc="left",
        y=-0.02,
        pad=-14,
        verticalalignment="top",
    )
    fig.colorbar(image, ax=ax, shrink=0.8, label="attention weight")
    path = Path(path)
    with AtomicFile(path, "attention plot", mode="wb") as f:
        fig.savefig(f, format="png")
    return path, missing


def pick_fonts(text: str) -> tuple[list[str], str]:
    """Font families that together draw ``text`` (DejaVu Sans first) and the characters that
    no installed font has."""
    needed = sorted({c for c in text if not c.isspace() and c.isprintable()})
    missing = [c for c in needed if ord(c) not in _charmap(_path(PRIMARY))]
    families = [PRIMARY]
    for name, fname in _candidates():
        if not missing:
            break
        have = _charmap(fname)
        covered = [c for c in missing if ord(c) in have]
        if covered:
            families.append(name)
            missing = [c for c in missing if ord(c) not in have]
    return families, "".join(missing)


@lru_cache(maxsize=None)
def _candidates() -> tuple[tuple[str, str], ...]:
    """Regular-weight installed fonts, sans-serif Noto first (consistent look)."""
    from matplotlib import font_manager

    # "Last Resort" (installed with Chromium) maps every code point to a placeholder box:
    # it would hide missing glyphs instead of drawing them, so it never counts as coverage.
    fonts = {
        (f.name, f.fname)
        for f in font_manager.fontManager.ttflist
        if f.style == "normal"
        and f.weight in (400, "normal", "regular")
        and not f.name.startswith("Last Resort")
    }
    return tuple(sorted(fonts, key=lambda f: (not f[0].startswith("Noto Sans"), f[0], f[1])))


def _path(family: str) -> str:
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties(family=family))


@lru_cache(maxsize=512)
def _charmap(fname: str) -> frozenset[int]:
    from matplotlib.ft2font import FT2Font

    try:
        return frozenset(FT2Font(fname).get_charmap())
    except (OSError, RuntimeError):  # an unreadable font file: skip it
        return frozenset()


def _short(text: str, limit: int = 110) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
