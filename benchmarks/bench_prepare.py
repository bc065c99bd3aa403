"""`bertune prepare` speed on the Multi30k training set (29,000 pairs), same process.

Two measurements:

1. End to end: ``prepare()`` of the ``multi30k-de-en`` recipe (8k source BPE, the bundled
   MiniLM's WordPiece for the target) reading the raw ``.gz`` files from ``--data`` into a
   temporary folder, ``force=True`` — everything a user waits for except Python start-up and
   the one-off import of transformers (reported separately). Target: under 30 s on 2 cores.
2. The same processing of the 29k training pairs, bertune's code vs a naive per-sentence loop
   over the same libraries: Moses tokenization of both sides (bertune: chunks on a process
   pool; naive: ``MosesTokenizer.tokenize`` line by line), BPE training (identical), source BPE
   encoding (bertune: each distinct word once through ``encode_batch``; naive:
   ``Tokenizer.encode`` per line) and target WordPiece encoding (bertune: the same word cache
   on the LM's Rust tokenizer; naive: the usual ``tok(line)["input_ids"]`` per line). Outputs
   are checked to be identical. Best of ``--repeat``; then the same comparison per stage.

    python benchmarks/bench_prepare.py [--data ../shared/data/multi30k] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def read(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def best(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "multi30k"),
        help="raw Multi30k folder (default: ../shared/data/multi30k from the "
        "repository root, whatever the current directory)",
    )
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = Path(args.data)

    start = time.perf_counter()
    from bertune_cli.core.lm.model import load_tokenizer

    lm_tok = load_tokenizer("minilm")
    import_s = time.perf_counter() - start

    from sacremoses import MosesTokenizer

    from bertune_cli.core.config.recipe import load_recipe
    from bertune_cli.core.data.prepare import prepare
    from bertune_cli.core.data.source import SourceEncoder
    from bertune_cli.core.data.target import TargetCodec
    from bertune_cli.core.data.tokenization import moses_tokenize, moses_tokenize_many

    moses_de, moses_en = MosesTokenizer("de"), MosesTokenizer("en")

    recipe = load_recipe("multi30k-de-en")
    with tempfile.TemporaryDirectory() as tmp:
        e2e, result = best(
            lambda: prepare(recipe, Path(tmp) / "data", data_dir=data, force=True), args.repeat
        )
    pairs = sum(v["pairs"] for v in result.manifest["splits"].values())
    read_pairs = result.manifest["cleaning"]["train"]["read"] + sum(
        v["pairs"] for k, v in result.manifest["splits"].items() if k != "train"
    )
    print(
        f"end to end: prepare multi30k-de-en ({read_pairs:,} pairs read, {pairs:,} written) "
        f"in {e2e:.2f} s = {read_pairs / e2e:,.0f} pairs/s  [target: < 30 s]  "
        f"(+ {import_s:.1f} s one-off import of transformers/torch + tokenizer load)"
    )

    de, en = read(data / "train.de.gz"), read(data / "train.en.gz")
    codec = TargetCodec(lm_tok, "en", "minilm")

    def batched():  # what prepare does: one Moses pool for both sides, word-cached encoding
        src_tok, _ = moses_tokenize_many([("de", de, "de"), ("en", en, "en")])
        enc = SourceEncoder.train(src_tok, "de", True, recipe.data.bpe_vocab, pretokenized=True)
        return enc.encode_tokenized(src_tok), codec.encode(en)

    def naive():  # the same libraries, one sentence at a time
        src_tok = [moses_de.tokenize(s, return_str=True, escape=False) for s in de]
        [moses_en.tokenize(s, return_str=True, escape=False) for s in en]  # for cleaning counts
        enc = SourceEncoder.train(src_tok, "de", True, recipe.data.bpe_vocab, pretokenized=True)
        return (
            [enc.tokenizer.encode(s).ids for s in src_tok],
            [lm_tok(s)["input_ids"] for s in en],
        )

    t_batched, out_b = best(batched, args.repeat)
    t_naive, out_n = best(naive, args.repeat)
    assert out_b == out_n, "batched and per-sentence encodings differ"
    n = len(de)
    print(f"batched (bertune):      {t_batched:6.2f} s  {n / t_batched:8,.0f} sentence pairs/s")
    print(f"per-sentence loop:      {t_naive:6.2f} s  {n / t_naive:8,.0f} sentence pairs/s")
    print(
        f"ratio (per-sentence time / bertune time): {t_naive / t_batched:.2f}x on {n:,} pairs "
        f"(same libraries, identical outputs; {os.cpu_count()} CPUs)"
    )
    print("per stage (bertune vs per-sentence):")
    src_tok = moses_tokenize(de, "de")
    enc = SourceEncoder.train(src_tok, "de", True, recipe.data.bpe_vocab, pretokenized=True)
    stages = {
        "Moses (both sides)": (
            lambda: moses_tokenize_many([("de", de, "de"), ("en", en, "en")]),
            lambda: (
                [moses_de.tokenize(s, return_str=True, escape=False) for s in de],
                [moses_en.tokenize(s, return_str=True, escape=False) for s in en],
            ),
        ),
        "source BPE encode": (
            lambda: enc.encode_tokenized(src_tok),
            lambda: [enc.tokenizer.encode(s).ids for s in src_tok],
        ),
        "target WordPiece encode": (
            lambda: codec.encode(en),
            lambda: [lm_tok(s)["input_ids"] for s in en],
        ),
    }
    for name, (fast, slow) in stages.items():
        t_fast, a = best(fast, args.repeat)
        t_slow, b = best(slow, args.repeat)
        assert list(a) == list(b), name
        print(f"  {name:24s} {t_fast:5.2f} s vs {t_slow:5.2f} s  ({t_slow / t_fast:.1f}x)")


if __name__ == "__main__":
    main()
