"""Sentences/s of `bertune translate` vs a plain Hugging Face `generate` loop.

Reference ("plain HF loop"): the same model, the same source preprocessing and detokenization,
``model.generate(num_beams=beam, max_new_tokens=a·x+b)`` over the input in its original order,
in fixed batches of ``--plain-batch`` sentences — what one writes with transformers' docs.
bertune: ``Translator.translate`` (length-sorted batches of ``--batch-tokens`` padded source
tokens). Both run in this process, on the same lines, after one warm-up batch each. Prints both
speeds, the ratio (target >= 1.5x) and how many outputs are identical (they can only differ where
a hypothesis hits the length limit, which depends on the batch's longest source).

Usage (after `bertune train-baseline --pair demo`):
    python benchmarks/bench_translate.py runs/demo/baseline --input runs/demo/data/test.src.txt
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path


def plain_loop(translator, lines, beam, batch, a, b):
    """The reference: unsorted fixed-size batches through model.generate."""
    import numpy as np
    import torch

    outs = []
    for start in range(0, len(lines), batch):
        chunk = lines[start:start + batch]
        ids = translator.source.encode(chunk)
        longest = max(len(s) for s in ids)
        x = torch.zeros((len(ids), longest), dtype=torch.long)
        for row, s in zip(x, ids):
            row[:len(s)] = torch.as_tensor(s)
        with torch.inference_mode():
            gen = translator.model.generate(input_ids=x, attention_mask=x.ne(0).long(),
                                            num_beams=beam, max_new_tokens=int(math.floor(a * longest + b)),
                                            early_stopping=True)
        seqs = [translator._strip(r) for r in gen[:, 1:].tolist()]
        outs += translator.codec.decode([translator.vocab.to_lm(np.asarray(s)).tolist()
                                         for s in seqs])
    return outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default="runs/demo/baseline",
                        help="run directory or checkpoint (default: runs/demo/baseline)")
    parser.add_argument("--input", help="source lines (default: <data>/test.src.txt)")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--plain-batch", type=int, default=32)
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="0: bertune's default for the device")
    args = parser.parse_args()

    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.translate import Translator

    try:
        translator = Translator.load(Path(args.model), "cpu")
    except CheckpointError as exc:
        sys.exit(f"{exc}\nMake one first: bertune prepare --pair demo && "
                 "bertune train-baseline --pair demo")
    data = Path(translator_meta_data(args.model))
    src = Path(args.input) if args.input else data / "test.src.txt"
    lines = [line.rstrip("\n") for line in open(src, encoding="utf-8")][:args.lines]
    lines = [line for line in lines if line.strip()]
    a, b = 1.2, 10

    translator.translate(lines[:16], beam=args.beam)          # warm-up
    plain_loop(translator, lines[:16], args.beam, args.plain_batch, a, b)

    t = time.perf_counter()
    plain = plain_loop(translator, lines, args.beam, args.plain_batch, a, b)
    t_plain = time.perf_counter() - t
    t = time.perf_counter()
    ours = translator.translate(lines, beam=args.beam, batch_tokens=args.batch_tokens,
                                max_len_a=a, max_len_b=b)
    t_ours = time.perf_counter() - t

    same = sum(x == y for x, y in zip(plain, ours))
    print(f"{len(lines)} sentences, beam {args.beam}, model {args.model}")
    print(f"plain HF generate loop (unsorted batches of {args.plain_batch}): "
          f"{len(lines) / t_plain:8.1f} sentences/s")
    from bertune_cli.core.translate import auto_batch_tokens
    tokens = args.batch_tokens or auto_batch_tokens(translator.device)
    print(f"bertune translate (sorted, {tokens} tokens/batch):      "
          f"{len(lines) / t_ours:8.1f} sentences/s")
    print(f"ratio: {t_plain / t_ours:.2f}x (target >= 1.5x); identical outputs: "
          f"{same}/{len(lines)}")


def translator_meta_data(model: str) -> str:
    from bertune_cli.core.model.checkpoint import read_meta

    return read_meta(Path(model))["data"]["path"]


if __name__ == "__main__":
    main()
