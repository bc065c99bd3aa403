"""Explanations of translations: confidence, MC-dropout uncertainty, cross-attention, attribution.

``explain(translator, lines, options, ...)`` translates ``lines`` with ``Translator.translate``
(same beam search, options and text) and adds, per line, the fields asked for. Each dict is the
JSON object ``bertune translate --json`` writes with the same flags, and what ``bertune serve``'s
/explain returns. Every field explains the *chosen* hypothesis y (the best beam output),
teacher-forced through the model (``Translator.teacher_forced``, the torch engine's pass under
the distribution beam search used: suppressed ids at -inf). One module per method:

- ``confidence``: p(y_t | y_<t, x) per output WordPiece, grouped into output words.
- ``mc_dropout``: N teacher-forced passes and N beam searches with dropout on, seeded per line.
- ``attention``: cross-attention of one decoder layer, heads averaged (and ``plots``: PNGs).
- ``attribution``: Integrated Gradients (captum) per output token over the source words.
- ``explainer``: ``explain``/``explain_stream``/``format_explained``, checks and signature;
  ``common``: padding, piece names and the model's eager twin.

Cost: nothing unless asked (captum/matplotlib are imported only for attribution/attention PNGs;
the plain ``translate`` path never imports this package). Concurrency: the caller's model is
never switched out of eval mode or to another attention implementation. MC dropout and attention
run on a *twin* (``common.twin``) under a lock, so a server can keep translating on other
threads; IG runs on the model itself without hooks.
"""

from bertune_cli.core.explain.confidence import words_of
from bertune_cli.core.explain.explainer import VERSION, explain, explain_stream, format_explained
from bertune_cli.core.explain.mc_dropout import mean_sentence_bleu

__all__ = [
    "VERSION",
    "explain",
    "explain_stream",
    "format_explained",
    "mean_sentence_bleu",
    "words_of",
]
