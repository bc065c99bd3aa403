"""Recipe input is untrusted: read it within bounds, and never echo a whole value back.

A recipe (a file from someone else, a ``--set`` value) can be crafted to hurt the loader:

* YAML aliases make a small file stand for an enormous value (``a: &a [x, x]``,
  ``b: &b [*a, *a]``, ... doubles per line: 30 lines are a billion items). PyYAML builds such
  a value with shared references, so loading is cheap; what explodes is whatever walks it
  (a ``repr`` in an error message, ``json.dumps``, a copy). ``check_value`` measures the size
  the value *stands for* without expanding it (each shared node counted once per reference,
  memoised) and refuses it past ``MAX_NODES``, and refuses a value that contains itself.
* Deep nesting (``[[[[...]]]]`` 100,000 levels) overflows the YAML composer's recursion:
  a ConfigError, not a RecursionError; ``MAX_DEPTH`` bounds what is accepted.
* Bytes that are not UTF-8 text, or a file far larger than any recipe (``MAX_BYTES``), are
  refused with one line.

Messages show a value through ``shown`` (reprlib: a few items, short strings, one line) and
long problem lists through ``listed`` (the first few, then a count), so an error is always one
short line whatever the input.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any, Iterable

from bertune_cli.core.errors import ConfigError

MAX_BYTES = 1 << 20  # a recipe is a few KB; 1 MiB is far beyond any real one
MAX_NODES = 100_000  # values (expanded) in one recipe or one --set value
MAX_DEPTH = 64  # nesting levels of one recipe or one --set value
SHOWN_CHARS = 80  # longest value shown in a message
SHOWN_ITEMS = 5  # names listed before "and N more"
NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")

_repr = reprlib.Repr()
_repr.maxlevel, _repr.maxlist, _repr.maxtuple, _repr.maxdict = 2, 4, 4, 4
_repr.maxset = _repr.maxfrozenset = 4
_repr.maxstring, _repr.maxother, _repr.maxlong = 60, 60, 40


def shown(value: Any, limit: int = SHOWN_CHARS) -> str:
    """A short one-line ``repr`` of ``value``: a few items of a collection, a cut string."""
    text = _repr.repr(value).replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def listed(
    items: Iterable[Any], limit: int = SHOWN_ITEMS, sep: str = ", ", more: str = "more"
) -> str:
    """``a, b, c, d, e and 19,995 more``: the first ``limit`` items, then how many are left."""
    items = list(items)
    head = sep.join(str(i) for i in items[:limit])
    rest = len(items) - limit
    return head if rest <= 0 else f"{head} and {rest:,} {more}"


def is_name(name: Any) -> bool:
    """A recipe name: letters, digits, ``.``, ``_``, ``-`` (1-100 of them), not ``.``/``..``
    (it names a folder under the runs directory, never a path)."""
    return isinstance(name, str) and bool(NAME.fullmatch(name)) and name not in (".", "..")


def read_yaml_text(path: Path) -> str:
    """The text of a recipe file: bounded size, strict UTF-8; ConfigError otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"{path}: {size:,} bytes is not a recipe (at most {MAX_BYTES:,})",
                "pass a recipe .yaml file",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read recipe {path} ({exc.strerror or exc.__class__.__name__})",
            "check the path and its permissions",
        ) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a text file (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start} is not UTF-8)",
            "a recipe is a UTF-8 YAML file",
        ) from exc


def parse_yaml(text: str, where: str) -> Any:
    """``yaml.safe_load(text)``, bounded (``check_value``); ConfigError naming ``where``."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(
            f"{where}: nested too deeply (more than {MAX_DEPTH} levels)",
            "a recipe is a few levels of mappings",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(
            f"{where}: not valid YAML{at} ({exc.__class__.__name__})",
            "check indentation and quoting",
        ) from exc
    check_value(value, where)
    return value


def check_value(value: Any, where: str) -> None:
    """Refuse a value that nests deeper than ``MAX_DEPTH``, stands for more than
    ``MAX_NODES`` values once its aliases are expanded, or contains itself."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int, open_: set[int]) -> int:
        if not isinstance(node, (dict, list)):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise ConfigError(
                f"{where}: a YAML alias refers to a value that contains it",
                "remove the recursive anchor/alias",
            )
        if depth >= MAX_DEPTH:
            raise ConfigError(
                f"{where}: nested too deeply (more than {MAX_DEPTH} levels)",
                "a recipe is a few levels of mappings",
            )
        open_.add(key)
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        total = 1
        for child in children:
            total += size(child, depth + 1, open_)
            if total > MAX_NODES:
                raise ConfigError(
                    f"{where}: the value expands to more than {MAX_NODES:,} items (YAML aliases?)",
                    "a recipe is a few hundred values; "
                    "remove the anchors and aliases that repeat it",
                )
        open_.discard(key)
        sizes[key] = total
        return total

    size(value, 0, set())
