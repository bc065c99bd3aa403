"""One document model, two renderers: ``report.md`` (images beside it) and a self-contained
``report.html`` (images inlined as base64 data URIs, no external CSS, fonts or scripts).

A document is a list of blocks: ``Heading``, ``Text`` (one paragraph; ``code`` spans in
backticks), ``Table`` (header + rows of strings), ``Image`` (a PNG in the output folder),
``Code`` (preformatted text, e.g. signatures).
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Text:
    text: str


@dataclass
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]
    align: str = ""  # per column: l or r (default: first l, others r)


@dataclass
class Image:
    file: str  # relative to the output folder
    alt: str


@dataclass
class Code:
    text: str


Block = Union[Heading, Text, Table, Image, Code]


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Text):
            out.append(b.text)
        elif isinstance(b, Table):
            align = _align(b)
            out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
            out.append("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.file})")
        elif isinstance(b, Code):
            out.append("```\n" + b.text.rstrip("\n") + "\n```")
        out.append("")
    return "\n".join(out)


def _align(t: Table) -> str:
    return t.align or "l" + "r" * (len(t.header) - 1)


def _inline(text: str) -> str:
    """Escape, then backtick spans -> <code>, **bold** -> <b>."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}table{border-collapse:collapse;
margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:3px 8px;vertical-align:top}
th{background:#f3f3f3}td.r{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;
font-size:85%}code{background:#f3f3f3;padding:0 3px}"""


def to_html(blocks: Sequence[Block], folder: Path, title: str) -> str:
    """HTML with every Image read from ``folder`` and inlined."""
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Text):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            align = _align(b)
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            rows = "".join(
                "<tr>"
                + "".join(
                    f"<td class='{a}'>{_inline(str(c)).replace(chr(10), '<br>')}</td>"
                    for a, c in zip(align, row)
                )
                + "</tr>"
                for row in b.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Image):
            data = base64.b64encode((Path(folder) / b.file).read_bytes()).decode("ascii")
            body.append(
                f"<p><img alt='{html.escape(b.alt)}' src='data:image/png;base64,{data}'></p>"
            )
        elif isinstance(b, Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
