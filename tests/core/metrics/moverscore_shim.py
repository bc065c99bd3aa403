"""The reference MoverScore, ``moverscore_v2.py`` of the PyPI package ``moverscore`` 1.0.3,
loaded behind a shim so that it runs here — for the exactness test and the benchmark only,
never imported by the product.

The package is a test-only dependency, installed without its dependencies (it declares the
``typing`` backport, which must not be installed on Python 3)::

    pip install --no-deps moverscore==1.0.3 pyemd

Its module cannot simply be imported: at import it builds ``distilbert-base-uncased`` (a
download) on ``cuda:0`` through ``from transformers import *``, and it uses APIs that numpy 2
and transformers 5 removed. ``load_reference(model_path)`` therefore reads the module's
*source* (found with ``importlib.util.find_spec``, not imported), applies the text patches in
``PATCHES`` — each must match exactly once, so another version of the file fails loudly
instead of being half-patched — and executes it in a fresh module whose namespace provides:

* ``DistilBertConfig`` / ``DistilBertTokenizer`` / ``DistilBertModel`` stand-ins whose
  ``from_pretrained`` ignore the hard-coded name and load ``model_path`` (the bundled MiniLM
  in the tests) with ``AutoTokenizer`` / ``AutoModel``, offline;
* the tokenizer keeps the old ``max_len`` attribute (= ``model_max_length``, capped by the
  model's position embeddings, 512 for MiniLM as for distilbert);
* the model returns the old tuple ``(last_hidden_state, hidden_states, attentions)`` (the
  module unpacks three values and stacks ``hidden_states``) with ``output_hidden_states=True``
  as the module's config asks; ``attentions`` is None (the module never reads it, and asking
  for it only makes transformers 5 warn that SDPA attention cannot return it);
* ``device = 'cpu'`` instead of ``'cuda:0'`` (callers pass ``device='cpu'`` to the functions,
  whose defaults also say ``cuda:0``);
* ``np.float`` (removed in numpy 1.24) → ``np.float64``, what it aliased;
* ``multiprocessing.Pool`` (used by ``get_idf_dict``) → an in-process map with the same
  results, so the test never forks a process that holds torch and tokenizers threads;
* ``import matplotlib.pyplot`` (only ``plot_example`` uses it) is dropped;
* ``pyemd``: the installed package (1.1.0, its default backend); only when it is missing, a
  stand-in whose ``emd_with_flow`` solves the same transport problem exactly with POT's
  network simplex (``ot.emd``), which is what pyemd 1.1.0's default backend uses too.

Nothing else in the module changes: tokenization, idf, masking, normalisation, the float32
distance formula and the transport are the reference's own code.

``load_reference(path, float64_distances=True)`` additionally runs the module's own
``batched_cdist_l2`` on float64 copies of its (float32) vectors — the same formula
``sqrt(clamp(‖x‖² + ‖y‖² − 2x·y, 1e-30))``, without float32's cancellation when two vectors
nearly coincide (there the float32 original loses up to ~4e-4 and changes with its batch
size). That is the one arithmetic difference bertune makes. The float32 forward pass is another
source of last-bit noise that is not the algorithm's: it changes with a batch's padded width
(the CPU's BLAS blocking), and the reference embeds references and hypotheses in separate
batches. So the exactness test runs the LM in float64 on both sides (``model._model.double()``
on this module's ``model``) with float64 distances and asserts agreement on every pair; the
unmodified float32 reference is compared wherever its float32 arithmetic is not the issue.
"""
from __future__ import annotations

import importlib.util
import types
from pathlib import Path

PATCHES = [
    ("from transformers import *\n", "# (shim: DistilBert* provided by the test shim)\n"),
    ("device = 'cuda:0'\n", "device = 'cpu'\n"),
    ("from multiprocessing import Pool\n", "# (shim: Pool provided by the test shim)\n"),
    ("np.zeros(raw.shape[1], dtype=np.float)", "np.zeros(raw.shape[1], dtype=np.float64)"),
    ("import matplotlib.pyplot as plt\n", "# (shim: plot_example's matplotlib not imported)\n"),
]
COUNTS = {"np.zeros(raw.shape[1], dtype=np.float)": 4}   # two in word_mover_score, two in plot


def reference_source() -> str | None:
    """The text of the installed ``moverscore_v2.py``, or None when it is not installed."""
    spec = importlib.util.find_spec("moverscore_v2")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).read_text(encoding="utf-8")


def load_reference(model_path: str, float64_distances: bool = False) -> types.ModuleType:
    """``moverscore_v2`` running on CPU with the LM at ``model_path`` (see the module doc)."""
    source = reference_source()
    if source is None:
        raise ModuleNotFoundError("moverscore_v2 (pip install --no-deps moverscore==1.0.3)")
    for old, new in PATCHES:
        found = source.count(old)
        if found != COUNTS.get(old, 1):
            raise RuntimeError(f"moverscore_v2.py is not the 1.0.3 file the shim knows: "
                               f"{old!r} occurs {found} times")
        source = source.replace(old, new)
    module = types.ModuleType("moverscore_v2_shimmed")
    module.__dict__.update(_stand_ins(model_path))
    exec(compile(source, "moverscore_v2.py (shimmed)", "exec"), module.__dict__)
    if float64_distances:
        cdist32 = module.batched_cdist_l2
        module.batched_cdist_l2 = lambda x1, x2: cdist32(x1.double(), x2.double())
    return module


def _stand_ins(model_path: str) -> dict:
    from transformers import AutoModel, AutoTokenizer

    class DistilBertConfig:
        @staticmethod
        def from_pretrained(name, **kwargs):
            return kwargs                           # output_hidden_states / output_attentions

    class DistilBertTokenizer:
        @staticmethod
        def from_pretrained(name, **kwargs):
            tok = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
            return _OldTokenizer(tok, model_path)

    class DistilBertModel:
        @staticmethod
        def from_pretrained(name, config=None, **kwargs):
            return _TupleModel(AutoModel.from_pretrained(model_path, local_files_only=True))

    return {"DistilBertConfig": DistilBertConfig, "DistilBertTokenizer": DistilBertTokenizer,
            "DistilBertModel": DistilBertModel, "Pool": _SerialPool, **_pyemd_names()}


class _OldTokenizer:
    """The HF tokenizer plus the ``max_len`` attribute transformers 3 had."""

    def __init__(self, tok, model_path: str):
        from transformers import AutoConfig

        self._tok = tok
        positions = AutoConfig.from_pretrained(model_path).max_position_embeddings
        self.max_len = min(tok.model_max_length, positions)

    def __getattr__(self, name):
        return getattr(self._tok, name)


class _TupleModel:
    """Returns ``(last_hidden_state, hidden_states, None)`` like DistilBertModel's tuple
    output with ``output_hidden_states=True`` (attentions are never read)."""

    def __init__(self, model):
        self._model = model

    def eval(self):
        self._model.eval()
        return self

    def to(self, device):
        self._model.to(device)
        return self

    def __call__(self, input_ids=None, attention_mask=None):
        out = self._model(input_ids=input_ids, attention_mask=attention_mask,
                          output_hidden_states=True, return_dict=True)
        return out.last_hidden_state, out.hidden_states, None


class _SerialPool:
    """``multiprocessing.Pool`` for ``get_idf_dict``: the same map, in this process."""

    def __init__(self, processes=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, items):
        return [fn(x) for x in items]


def _pyemd_names() -> dict:
    """``emd`` / ``emd_with_flow`` for the module's ``from pyemd import ...`` line, which runs
    inside the module: nothing to provide when pyemd is installed. Otherwise a stand-in
    module is put in front of the import (see ``pyemd_stand_in``)."""
    import sys

    if importlib.util.find_spec("pyemd") is None and "pyemd" not in sys.modules:
        sys.modules["pyemd"] = pyemd_stand_in()
    return {}


def pyemd_stand_in() -> types.ModuleType:
    """pyemd's ``emd`` / ``emd_with_flow`` (equal total masses, as MoverScore passes them)
    computed exactly by POT's network simplex."""
    import numpy as np
    import ot

    def emd_with_flow(first, second, distance):
        flow = ot.emd(np.asarray(first, np.float64), np.asarray(second, np.float64),
                      np.asarray(distance, np.float64))
        return float(np.sum(flow * distance)), flow.tolist()

    def emd(first, second, distance):
        return emd_with_flow(first, second, distance)[0]

    module = types.ModuleType("pyemd")
    module.emd, module.emd_with_flow = emd, emd_with_flow
    return module
