"""WIT3 / IWSLT14 archives (method.md §8), read the way fairseq's prepare-iwslt14.sh reads them.

Layout (``de-en.tgz``, WIT3 2014-01)::

    de-en/train.tags.de-en.de   de-en/train.tags.de-en.en        one sentence per line + tag lines
    de-en/IWSLT14.TED.dev2010.de-en.de.xml  ...en.xml           <seg id="N"> sentence </seg>
    de-en/IWSLT14.TED.tst201{0,1,2}.de-en.{de,en}.xml
    de-en/IWSLT14.TEDX.dev2012.de-en.{de,en}.xml

- Training lines: drop lines containing ``<url>``, ``<talkid>`` or ``<keywords>``; delete the
  ``<title>``/``<description>`` tags but keep their text (exactly fairseq's grep/sed).
- XML files: keep lines containing ``<seg id``, strip the seg tags and surrounding blanks, map
  ``’`` to ``'`` (as fairseq does). bertune also unescapes XML entities (``&amp;`` -> ``&``),
  which fairseq leaves in the text; segment counts are unchanged.
- Split (fairseq): valid = every 23rd line of the cleaned training data (done by prepare after
  cleaning), test = TED.dev2010 + TEDX.dev2012 + TED.tst2010 + tst2011 + tst2012 in that
  order (6750 pairs for de-en); other pairs use the four TED sets unless data.test_sets says.

The archive may be a ``.tgz``/``.tar`` file or an extracted folder; members are found by file
name anywhere inside, and a folder may hold them gzipped (``name.gz``).
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

from bertune_cli.core.data.raw import decode_lines, iter_raw_lines, sha256_file
from bertune_cli.core.errors import DataError

DROP_TAGS = ("<url>", "<talkid>", "<keywords>")
STRIP_TAGS = ("<title>", "</title>", "<description>", "</description>")
_SEG_OPEN = re.compile(r'<seg id="[0-9]*">\s*')
_SEG_CLOSE = re.compile(r"\s*</seg>\s*")
TED_SETS = (
    "IWSLT14.TED.dev2010",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
)
# fairseq's `cat` order for the de-en test set
FAIRSEQ_DE_EN = (
    "IWSLT14.TED.dev2010",
    "IWSLT14.TEDX.dev2012",
    "IWSLT14.TED.tst2010",
    "IWSLT14.TED.tst2011",
    "IWSLT14.TED.tst2012",
)


def train_lines(lines: list[str]) -> list[str]:
    """fairseq's tag filtering of ``train.tags.*`` lines."""
    out = []
    for line in lines:
        if any(tag in line for tag in DROP_TAGS):
            continue
        for tag in STRIP_TAGS:
            line = line.replace(tag, "")
        out.append(line)
    return out


def xml_segments(lines: list[str]) -> list[str]:
    """The text of every ``<seg id="N">`` line of a WIT3 XML file, in file order."""
    return [
        unescape(_SEG_CLOSE.sub("", _SEG_OPEN.sub("", line))).replace("\u2019", "'")
        for line in lines
        if "<seg id" in line
    ]


def default_test_sets(src: str, tgt: str) -> tuple[str, ...]:
    return FAIRSEQ_DE_EN if {src, tgt} == {"de", "en"} else TED_SETS


class Archive:
    """Read access to a WIT3 archive file or extracted folder, members found by file name."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(
                f"WIT3 archive not found: {self.path}",
                "pass a .tgz, an extracted folder or a URL (data.archive / --data-dir)",
            )
        self._members: dict[str, str] = {}
        if self.path.is_dir():
            for p in sorted(self.path.rglob("*")):
                if p.is_file():
                    self._members.setdefault(
                        p.name.removesuffix(".gz") if p.suffix == ".gz" else p.name, str(p)
                    )
        else:
            try:
                with tarfile.open(self.path, "r:*") as tar:
                    for m in tar.getmembers():
                        if m.isfile():
                            self._members.setdefault(Path(m.name).name, m.name)
            except (tarfile.TarError, OSError, EOFError) as exc:
                raise DataError(
                    f"{self.path}: not a readable tar archive ({exc})",
                    "the download may be truncated: delete it and re-run, or pass "
                    "an extracted folder",
                ) from exc

    def names(self) -> list[str]:
        return sorted(self._members)

    def has(self, name: str) -> bool:
        return name in self._members

    def where(self, name: str) -> str:
        return f"{self.path}:{name}" if not self.path.is_dir() else self._members[name]

    def require(self, names: list[str], what: str) -> None:
        missing = [n for n in names if n not in self._members]
        if missing:
            raise DataError(
                f"{self.path}: no {', '.join(missing)} ({what})",
                "expected the WIT3 2014-01 layout (train.tags.<pair>.<lang> and "
                "IWSLT14.TED*.<pair>.<lang>.xml); see data.test_sets",
            )

    def read(self, names: list[str]) -> dict[str, list[str]]:
        """The decoded lines of each named member (one pass over a compressed archive)."""
        self.require(names, "needed member")
        if self.path.is_dir():
            return {
                n: list(decode_lines(iter_raw_lines(Path(self._members[n])), self._members[n]))
                for n in names
            }
        wanted = {self._members[n]: n for n in names}
        raw: dict[str, bytes] = {}
        try:
            with tarfile.open(self.path, "r|*") as tar:  # streaming: one decompression pass
                for member in tar:
                    if member.name in wanted and member.isfile():
                        raw[wanted[member.name]] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(
                f"{self.path}: cannot be read ({exc})",
                "the archive is damaged or truncated; get it again",
            ) from exc
        missing = [n for n in names if n not in raw]
        if missing:
            raise DataError(
                f"{self.path}: ends before {', '.join(missing)} (truncated archive?)",
                "the archive is damaged or truncated; get it again",
            )
        return {
            n: list(decode_lines(raw[n].splitlines(keepends=True), self.where(n))) for n in names
        }

    def checksum(self, names: list[str]) -> str:
        """sha256 of the archive file, or of the named members of an extracted folder."""
        if not self.path.is_dir():
            return sha256_file(self.path)
        import hashlib

        digest = hashlib.sha256()
        for name in sorted(names):
            digest.update(name.encode() + b"\0" + sha256_file(Path(self._members[name])).encode())
        return digest.hexdigest()


@dataclass
class Wit3Corpus:
    """Training lines (tags removed, not yet cleaned) and the concatenated test sets."""

    pair: str
    train_src: list[str]
    train_tgt: list[str]
    test_src: list[str]
    test_tgt: list[str]
    test_counts: dict[str, int] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)


def find_pair(archive: Archive, src: str, tgt: str) -> str:
    """``de-en`` or ``en-de``: whichever order the archive's train.tags files use."""
    for pair in (f"{src}-{tgt}", f"{tgt}-{src}"):
        if archive.has(f"train.tags.{pair}.{src}"):
            return pair
    raise DataError(
        f"{archive.path}: no train.tags.{src}-{tgt}.{src} or "
        f"train.tags.{tgt}-{src}.{src} (found: {', '.join(archive.names()[:8]) or 'nothing'})",
        "expected the WIT3 2014-01 layout, e.g. de-en.tgz from fairseq's prepare-iwslt14.sh",
    )


def member_names(
    archive: Archive, src: str, tgt: str, test_sets: tuple[str, ...] = ()
) -> tuple[str, list[str]]:
    """(pair, every member the corpus needs); raises DataError naming the missing ones."""
    pair = find_pair(archive, src, tgt)
    names = [f"train.tags.{pair}.{src}", f"train.tags.{pair}.{tgt}"]
    for name in test_sets or default_test_sets(src, tgt):
        names += [f"{name}.{pair}.{src}.xml", f"{name}.{pair}.{tgt}.xml"]
    archive.require(names, "needed for the fairseq split")
    return pair, names


def load_wit3(archive: Archive, src: str, tgt: str, test_sets: tuple[str, ...] = ()) -> Wit3Corpus:
    """Read training and test text; line/segment counts must agree between the languages."""
    pair, names = member_names(archive, src, tgt, test_sets)
    text = archive.read(names)
    train = {lang: train_lines(text[f"train.tags.{pair}.{lang}"]) for lang in (src, tgt)}
    _same_length(archive, f"train.tags.{pair}", train[src], train[tgt], src, tgt, "lines")
    corpus = Wit3Corpus(pair, train[src], train[tgt], [], [], members=names)
    for name in test_sets or default_test_sets(src, tgt):
        seg = {lang: xml_segments(text[f"{name}.{pair}.{lang}.xml"]) for lang in (src, tgt)}
        _same_length(archive, f"{name}.{pair}", seg[src], seg[tgt], src, tgt, "segments", ".xml")
        corpus.test_src += seg[src]
        corpus.test_tgt += seg[tgt]
        corpus.test_counts[name] = len(seg[src])
    return corpus


def _same_length(
    archive: Archive,
    stem: str,
    a: list[str],
    b: list[str],
    src: str,
    tgt: str,
    unit: str,
    ext: str = "",
) -> None:
    if len(a) != len(b):
        raise DataError(
            f"{archive.where(f'{stem}.{src}{ext}')} has {len(a)} {unit} but "
            f"{stem}.{tgt}{ext} has {len(b)}",
            "the two sides must be aligned line by line",
        )
