"""The torch engine: beam search with transformers' ``MarianMTModel.generate`` (the default,
and what validation uses, so validation BLEU is exactly what ``translate`` gives).

Scores are not the beam-search scores but an exact teacher-forced pass over the chosen
hypotheses (one extra forward, ``TorchEngine.score``), with the suppressed ids' logits at -inf
as during decoding. The same pass (``teacher_forced``) is what core/explain reads its
per-token probabilities, attention and attributions from.
"""

from __future__ import annotations

import math
from pathlib import Path


class TorchEngine:
    """Beam search on a MarianMTModel (see ``bertune_cli.core.engines``), and its own
    scoring: ``score`` sums the ``teacher_forced`` log-probabilities of the chosen outputs."""

    name = "torch"

    def __init__(self, model, vocab, device: str = "cpu"):
        # denormals make CPU matmuls 100x slower: the entry point flushes them
        # (core/system/runtime.py)
        self.model = model.to(device).eval()
        self.vocab, self.device = vocab, device
        self.max_positions = int(model.config.max_position_embeddings)

    @classmethod
    def load(cls, path: Path, device: str):
        from bertune_cli.core.engines.export import is_export
        from bertune_cli.core.errors import CheckpointError
        from bertune_cli.core.model.checkpoint import load_checkpoint

        if is_export(path):
            raise CheckpointError(
                f"{path} is a CTranslate2 export, not a torch checkpoint",
                "translate it with --engine ct2, or pass the run directory",
            )
        loaded = load_checkpoint(path, device)
        return cls(loaded.model, loaded.vocab, device), loaded.meta, loaded.vocab, loaded.source

    def signature(self) -> str:
        import torch
        import transformers

        return f"engine:torch|torch:{torch.__version__}|transformers:{transformers.__version__}"

    def generate(
        self,
        srcs: list[list[int]],
        *,
        beam: int,
        lenpen: float,
        max_new: list[int],
        n_best: int,
        scores: bool,
    ) -> list[tuple[list[int], float | None]]:
        import torch
        from transformers import StoppingCriteriaList

        longest = max(len(s) for s in srcs)
        ids = torch.zeros((len(srcs), longest), dtype=torch.long)  # (B, S), pad = 0
        for row, s in zip(ids, srcs):
            row[: len(s)] = torch.as_tensor(s)
        ids = ids.to(self.device)
        mask = ids.ne(0).long()
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                num_beams=beam,
                length_penalty=lenpen,
                num_return_sequences=n_best,
                max_new_tokens=max(max_new),
                do_sample=False,
                stopping_criteria=StoppingCriteriaList([row_length_cap(max_new)]),
                early_stopping=True if beam > 1 else None,
            )  # (B·n, 1 + L)
            # a hypothesis stopped by its cap is followed by filler ([SEP] where [PAD] is 0):
            # only its first caps[i] tokens are its own
            caps = [cap for cap in max_new for _ in range(n_best)]
            seqs = [self.strip(row[:cap]) for row, cap in zip(out[:, 1:].tolist(), caps)]
            logprobs = self.score(ids, mask, seqs, n_best) if scores else [None] * len(seqs)
        return list(zip(seqs, logprobs))

    def strip(self, row: list[int]) -> list[int]:
        """Generated model ids up to and including the first [SEP]; padding dropped."""
        eos = self.vocab.eos_id
        return row[: row.index(eos) + 1] if eos in row else [t for t in row if t != 0]

    def score(self, ids, mask, seqs: list[list[int]], n_best: int) -> list[float]:
        """Sentence log-probabilities of ``seqs`` (``n_best`` per source row of ``ids``) by
        teacher forcing: exact, unnormalised."""
        import torch

        rows = torch.arange(len(seqs), device=ids.device) // n_best
        lp, _ = self.teacher_forced(seqs, rows, input_ids=ids, attention_mask=mask)
        return lp.sum(-1).tolist()

    def teacher_forced(self, seqs: list[list[int]], rows=None, **inputs):
        """Teacher forcing on N output sequences (model ids, [SEP] included, no [CLS]).

        ``inputs``: the model's keyword inputs for B sources — ``input_ids``/``attention_mask``
        (B, S) or ``inputs_embeds`` (B, S, d) — plus any flag such as ``output_attentions``;
        ``rows`` (N,) picks each sequence's source row (default: sequence i reads source i).
        Returns ``(lp, out)``: lp (N, T) float32, each token's log-probability under the
        distribution beam search samples from (suppressed ids at -inf), 0 at padding; ``out``
        the model output. Differentiable (no in-place ops) when grad is enabled.
        """
        import torch

        first = next(v for v in inputs.values() if torch.is_tensor(v))
        if rows is not None:
            inputs = {k: v[rows] if torch.is_tensor(v) else v for k, v in inputs.items()}
        width = max(len(s) for s in seqs)
        tgt = torch.zeros((len(seqs), width), dtype=torch.long, device=first.device)  # (N, T)
        for r, s in zip(tgt, seqs):
            r[: len(s)] = torch.as_tensor(s)
        dec_in = torch.cat([torch.full_like(tgt[:, :1], self.vocab.bos_id), tgt[:, :-1]], 1)
        out = self.model(decoder_input_ids=dec_in, **inputs)
        logits = out.logits.float()  # (N, T, V)
        suppressed = self.model.generation_config.suppress_tokens or []
        if suppressed:  # the distribution decoding samples from
            logits = logits.index_fill(
                -1, torch.as_tensor(suppressed, device=first.device), -math.inf
            )
        lp = logits.log_softmax(-1).gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
        return lp.masked_fill(tgt.eq(0), 0.0), out


def row_length_cap(caps: list[int]):
    """A stopping criterion that ends source i's hypotheses after ``caps[i]`` new tokens: the
    per-row form of ``max_new_tokens``. transformers applies stopping criteria per sequence
    (greedy: one row per source; beam search: the candidates of source i are rows
    ``i·K .. i·K + K - 1`` of the flattened (B, K) candidates), and a candidate that hits one
    is finished exactly as at ``max_new_tokens`` (kept, without [SEP], scored at its length).
    So with ``max_new_tokens = max(caps)`` source i is decoded as alone with
    ``max_new_tokens = caps[i]``: nothing about it depends on its batch neighbours."""
    import torch
    from transformers import StoppingCriteria

    class _RowLengthCap(StoppingCriteria):
        def __init__(self) -> None:
            self.caps = torch.as_tensor(caps, dtype=torch.long)

        def __call__(self, input_ids, scores, **kwargs):
            per_source = input_ids.shape[0] // len(self.caps)  # K candidates per source
            generated = input_ids.shape[1] - 1  # after the start token
            done = self.caps.to(input_ids.device) <= generated
            return done.repeat_interleave(per_source)

    return _RowLengthCap()
