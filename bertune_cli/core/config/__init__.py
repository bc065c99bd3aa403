"""Recipes: YAML in, frozen dataclasses out.

``recipe`` (the config dataclasses, the one set of defaults, and ``load_recipe``), ``build``
(recipe files, ``base:`` inheritance, ``--set`` overrides), ``input`` (untrusted YAML read
within bounds), ``ranges`` (the allowed range of every numeric field).
"""

__all__ = ["recipe", "build", "input", "ranges"]
