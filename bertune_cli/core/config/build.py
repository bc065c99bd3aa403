"""Typed dataclasses from a recipe's YAML values (core/config/recipe.py): every problem collected,
none raised on the first."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from bertune_cli.core.config.input import (
    listed,
    shown,
)


def _build(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{prefix.rstrip('.') or 'recipe'}: expected a mapping, got {shown(raw)}")
        return None
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [
        f"{prefix}{shown(k, 40) if not isinstance(k, str) else k[:40]}"
        for k in raw
        if k not in fields
    ]
    if unknown:
        problems.append(
            f"unknown key{'s' if len(unknown) > 1 else ''} {listed(unknown)} "
            f"(known: {', '.join(fields)})"
        )
    kwargs = {}
    missing = False
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _coerce(hints[name], raw[name], f"{prefix}{name}", problems)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append(f"missing key {prefix}{name}")
            missing = True
    return None if missing else cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str, problems: list[str]) -> Any:
    """Check ``value`` against annotation ``tp``; return the converted value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where + ".", problems)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where, problems)
    if origin is Literal:
        if value not in args:
            problems.append(f"{where}: {shown(value)} is not one of {', '.join(map(str, args))}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping, got {shown(value)}")
            return {}
        return {
            str(k): _coerce(args[1], v, f"{where}.{str(k)[:40]}", problems)
            for k, v in value.items()
        }
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            problems.append(f"{where}: expected a list, got {shown(value)}")
            return ()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where, problems) for v in value)
        if len(value) != len(args):
            problems.append(f"{where}: expected {len(args)} values, got {len(value)}")
            return tuple(value)
        return tuple(_coerce(a, v, where, problems) for a, v in zip(args, value))
    if tp is bool:
        if not isinstance(value, bool):
            problems.append(f"{where}: expected true/false, got {shown(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {shown(value)}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {shown(value)}")
            return value
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {shown(value)}")
        return value
    return value
