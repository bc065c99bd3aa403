"""The torch engine: beam search with transformers' ``MarianMTModel.generate`` (the default,
and what validation uses, so validation BLEU is exactly what ``translate`` gives).

Scores are not the beam-search scores but an exact teacher-forced pass over the chosen
hypotheses (one extra forward, ``Translator._score``), with the suppressed ids' logits at -inf
as during decoding.
"""
from __future__ import annotations

from pathlib import Path


class TorchEngine:
    """Beam search on a MarianMTModel (see ``bertune_cli.core.engines``).

    ``score(ids, mask, seqs, n_best)`` computes the sentence log-probabilities when asked:
    ``Translator._score``, the teacher-forced pass that core/explain.py shares.
    """

    name = "torch"

    def __init__(self, model, vocab, device: str = "cpu", score=None):
        # denormals make CPU matmuls 100x slower: the entry point flushes them (core/runtime.py)
        self.model = model.to(device).eval()
        self.vocab, self.device, self.score = vocab, device, score
        self.max_positions = int(model.config.max_position_embeddings)

    @classmethod
    def load(cls, path: Path, device: str):
        from bertune_cli.core.errors import CheckpointError
        from bertune_cli.core.export import is_export
        from bertune_cli.core.model.checkpoint import load_checkpoint

        if is_export(path):
            raise CheckpointError(f"{path} is a CTranslate2 export, not a torch checkpoint",
                                  "translate it with --engine ct2, or pass the run directory")
        loaded = load_checkpoint(path, device)
        return cls(loaded.model, loaded.vocab, device), loaded.meta, loaded.vocab, loaded.source

    def signature(self) -> str:
        import torch
        import transformers

        return f"engine:torch|torch:{torch.__version__}|transformers:{transformers.__version__}"

    def generate(self, srcs: list[list[int]], *, beam: int, lenpen: float, max_new: list[int],
                 n_best: int, scores: bool) -> list[tuple[list[int], float | None]]:
        import torch
        from transformers import StoppingCriteriaList

        longest = max(len(s) for s in srcs)
        ids = torch.zeros((len(srcs), longest), dtype=torch.long)       # (B, S), pad = 0
        for row, s in zip(ids, srcs):
            row[:len(s)] = torch.as_tensor(s)
        ids = ids.to(self.device)
        mask = ids.ne(0).long()
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids, attention_mask=mask, num_beams=beam, length_penalty=lenpen,
                num_return_sequences=n_best, max_new_tokens=max(max_new), do_sample=False,
                stopping_criteria=StoppingCriteriaList([row_length_cap(max_new)]),
                early_stopping=True if beam > 1 else None)              # (B·n, 1 + L)
            # a hypothesis stopped by its cap is followed by filler ([SEP] where [PAD] is 0):
            # only its first caps[i] tokens are its own
            caps = [cap for cap in max_new for _ in range(n_best)]
            seqs = [self.strip(row[:cap]) for row, cap in zip(out[:, 1:].tolist(), caps)]
            logprobs = self.score(ids, mask, seqs, n_best) if scores else [None] * len(seqs)
        return list(zip(seqs, logprobs))

    def strip(self, row: list[int]) -> list[int]:
        """Generated model ids up to and including the first [SEP]; padding dropped."""
        eos = self.vocab.eos_id
        return row[:row.index(eos) + 1] if eos in row else [t for t in row if t != 0]


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
            per_source = input_ids.shape[0] // len(self.caps)        # K candidates per source
            generated = input_ids.shape[1] - 1                       # after the start token
            done = self.caps.to(input_ids.device) <= generated
            return done.repeat_interleave(per_source)

    return _RowLengthCap()
