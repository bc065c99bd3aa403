"""``format: "html"``: translate the text of an HTML fragment (or document), keep its markup.

Python's own HTML tokenizer (``html.parser``) splits the input into markup and text. Every
text node with letters in it is one segment for the model (its surrounding whitespace kept);
markup is written back as it came (tags with their attributes, comments, doctype). Text is
never left to the model's discretion as markup: each translation is HTML-escaped before it is
put back, so an output like ``<b>`` is the text "<b>", and only the tags of the input can
reach the result. Not translated, as in browsers' page translation: the content of
``script``, ``style``, ``code``, ``pre`` and ``textarea``, and of any element with
``translate="no"`` or the ``notranslate`` class.

Usage: ``doc = HtmlText.parse(html)``; translate ``doc.segments``; ``doc.render(outputs)``.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

KEEP = {"script", "style", "code", "pre", "textarea"}
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
_LETTER = re.compile(r"[^\W\d_]")
_EDGES = re.compile(r"^(\s*)(.*?)(\s*)$", re.S)


def _keeps(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    values = dict(attrs)
    return (
        tag in KEEP
        or (values.get("translate") or "").lower() == "no"
        or "notranslate" in (values.get("class") or "").split()
    )


class HtmlText(HTMLParser):
    """The parsed input: ``parts`` (markup strings, or ints indexing ``segments``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str | int] = []
        self.segments: list[str] = []
        self._open: list[tuple[str, bool]] = []  # (tag, keeps its text) of open elements

    @classmethod
    def parse(cls, text: str) -> "HtmlText":
        doc = cls()
        doc.feed(text)
        doc.close()
        return doc

    # ------------------------------------------------------------------ tokenizer callbacks
    def handle_starttag(self, tag, attrs):
        self.parts.append(self.get_starttag_text())
        if tag not in VOID:
            self._open.append((tag, _keeps(tag, attrs) or self._keeping()))

    def handle_startendtag(self, tag, attrs):
        self.parts.append(self.get_starttag_text())

    def handle_endtag(self, tag):
        self.parts.append(f"</{tag}>")
        for k in range(len(self._open) - 1, -1, -1):  # close it and whatever it left open
            if self._open[k][0] == tag:
                del self._open[k:]
                break

    def handle_data(self, data):
        if self._open and self._open[-1][0] in ("script", "style"):
            self.parts.append(data)  # raw text: the tokenizer did not unescape it
            return
        if self._keeping() or not _LETTER.search(data):
            self.parts.append(html.escape(data, quote=False))
            return
        lead, core, trail = _EDGES.match(data).groups()
        self.parts.append(html.escape(lead, quote=False))
        self.parts.append(len(self.segments))
        self.segments.append(" ".join(core.split()))
        self.parts.append(html.escape(trail, quote=False))

    def handle_comment(self, data):
        self.parts.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.parts.append(f"<!{decl}>")

    def handle_pi(self, data):
        self.parts.append(f"<?{data}>")

    def unknown_decl(self, data):
        self.parts.append(f"<![{data}]>")

    # ------------------------------------------------------------------ output
    def _keeping(self) -> bool:
        return bool(self._open) and self._open[-1][1]

    def render(self, translations: list[str]) -> str:
        """The input with segment i replaced by ``translations[i]`` (escaped)."""
        return "".join(
            p if isinstance(p, str) else html.escape(translations[p], quote=False)
            for p in self.parts
        )
