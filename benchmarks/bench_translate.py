"""Sentences/s and BLEU of `bertune translate`: torch engine, CTranslate2 float32 and int8.

Same model, same input, same beam, one run, all in this process after one warm-up batch each:

- plain HF loop: the same model, source preprocessing and detokenization,
  ``model.generate(num_beams=beam, max_new_tokens=a·x+b)`` over the input in its original
  order, in fixed batches of ``--plain-batch`` sentences — what one writes with transformers'
  docs (target: bertune's torch engine >= 1.5x this);
- bertune, torch engine: ``Translator.translate`` (length-sorted batches of ``--batch-tokens``);
- bertune, ct2 float32 / int8: the same call on ``bertune export`` folders (written to a
  temporary folder first; export time printed, not counted). Target: int8 >= 3x the torch
  engine at BLEU within 0.5;
- CTranslate2 alone: ``translate_batch`` on the pre-tokenized input (BPE pieces, batches of the
  same number of tokens) vs bertune's whole path with the same int8 model: read the file,
  preprocess, batch, decode, detokenize, write (``Translator.stream`` into a file, as
  ``bertune translate -i -o`` does). Target: within 1.1x — bertune's overhead is not the limit.

BLEU is sacrebleu's with the checkpoint recipe's eval settings (lowercase, tokenizer), against
``--ref`` (default: the data directory's test.tgt.txt). ``--threads`` sets torch's threads and
CTranslate2's intra_threads (default: the cores this process may use).

Usage (after `bertune train-baseline --pair demo`):
    nice python benchmarks/bench_translate.py runs/demo/baseline
    nice python benchmarks/bench_translate.py runs/multi30k/baseline --lines 1000 --skip-plain
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

# As the CLI does (commands/train_baseline.py): OpenMP threads that spin while waiting make
# every op 100x slower when the cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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
            gen = translator.model.generate(
                input_ids=x, attention_mask=x.ne(0).long(), num_beams=beam,
                max_new_tokens=int(math.floor(a * longest + b)), early_stopping=True)
        seqs = [translator.engine.strip(r) for r in gen[:, 1:].tolist()]
        outs += translator.codec.decode([translator.vocab.to_lm(np.asarray(s)).tolist()
                                         for s in seqs])
    return outs


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def ct2_direct(translator, lines, beam, batch_tokens, a, b):
    """CTranslate2's ``translate_batch`` on pre-tokenized input: returns (pieces, seconds)."""
    engine = translator.engine
    pieces = engine.pieces([ids for ids in translator.source.encode(lines)])
    longest = max(len(p) for p in pieces)

    def run():
        return engine.translator.translate_batch(
            pieces, max_batch_size=batch_tokens, batch_type="tokens", beam_size=beam,
            max_decoding_length=int(math.floor(a * longest + b)), min_decoding_length=0,
            suppress_sequences=engine.suppress, return_end_token=True)

    engine.translator.translate_batch(pieces[:16], beam_size=beam)  # warm-up
    results, seconds = timed(run)
    return [r.hypotheses[0] for r in results], seconds


def whole_path(translator, src: Path, out: Path, **options) -> float:
    """What ``bertune translate -i src -o out`` does after loading the model."""
    from bertune_cli.core.translate import AtomicOutput, format_result

    start = time.perf_counter()
    with open(src, "rb") as f, AtomicOutput(out) as o:
        for result in translator.stream(f, **options):
            o.write(format_result(result))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", nargs="?", default="runs/demo/baseline",
                        help="run directory or checkpoint (default: runs/demo/baseline)")
    parser.add_argument("--input", help="source lines (default: <data>/test.src.txt)")
    parser.add_argument("--ref", help="references (default: <data>/test.tgt.txt)")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--plain-batch", type=int, default=32)
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="0: bertune's default for the device")
    parser.add_argument("--threads", type=int, default=0, help="0: the cores available")
    parser.add_argument("--skip-plain", action="store_true", help="no plain HF loop row")
    args = parser.parse_args()

    import torch

    from bertune_cli.core.engines.ct2_engine import cpu_cores
    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.export import export_ctranslate2
    from bertune_cli.core.metrics.sacre import corpus_metric
    from bertune_cli.core.model.checkpoint import read_meta
    from bertune_cli.core.translate import Translator, auto_batch_tokens

    threads = args.threads or cpu_cores()
    torch.set_num_threads(threads)
    try:
        meta = read_meta(Path(args.model))
    except CheckpointError as exc:
        sys.exit(f"{exc}\nMake one first: bertune prepare --pair demo && "
                 "bertune train-baseline --pair demo")
    data = Path(meta["data"]["path"])
    src = Path(args.input) if args.input else data / "test.src.txt"
    ref = Path(args.ref) if args.ref else (None if args.input else data / "test.tgt.txt")
    sources = src.read_text(encoding="utf-8").splitlines()[:args.lines]
    targets = ref.read_text(encoding="utf-8").splitlines() if ref else [""] * len(sources)
    pairs = list(zip(sources, targets))
    pairs = [(s, r) for s, r in pairs if s.strip()]
    lines, refs = [s for s, _ in pairs], [r for _, r in pairs]
    evaluation = meta["config"]["eval"]
    a, b = evaluation.get("max_len_a", 1.2), evaluation.get("max_len_b", 10)
    tokens = args.batch_tokens or auto_batch_tokens("cpu")
    options = dict(beam=args.beam, batch_tokens=tokens, max_len_a=a, max_len_b=b)

    def bleu(hyps):
        if not ref:
            return float("nan"), "no references"
        result = corpus_metric("bleu", hyps, [refs], lowercase=evaluation.get("lowercase", False),
                               tokenize=evaluation.get("bleu_tokenize", "13a"))
        return result.score, result.signature

    work = Path(tempfile.mkdtemp(prefix="bench-translate-"))
    exports = {}
    for quant in ("float32", "int8"):
        _, seconds = timed(lambda: export_ctranslate2(args.model, work / quant, quant))
        exports[quant] = seconds
    engines = {"torch": Translator.load(Path(args.model), "cpu")}
    for quant in ("float32", "int8"):
        engines[f"ct2 {quant}"] = Translator.load(work / quant, "cpu", engine="ct2")
    rows = []
    if not args.skip_plain:
        plain_loop(engines["torch"], lines[:16], args.beam, args.plain_batch, a, b)
        hyps, seconds = timed(lambda: plain_loop(engines["torch"], lines, args.beam,
                                                 args.plain_batch, a, b))
        rows.append((f"plain HF generate loop (batches of {args.plain_batch})", hyps, seconds))
    for name, translator in engines.items():
        translator.translate(lines[:16], beam=args.beam)  # warm-up
        hyps, seconds = timed(lambda: translator.translate(lines, **options))
        rows.append((f"bertune, {name} engine", hyps, seconds))

    print(f"{len(lines)} sentences of {src}, beam {args.beam}, {tokens} source tokens/batch, "
          f"{threads} threads, model {args.model}")
    print(f"{'':46s} {'sent/s':>8s} {'BLEU':>7s} {'same as torch':>14s}")
    by_name = {name: (hyps, seconds) for name, hyps, seconds in rows}
    torch_hyps, torch_s = by_name["bertune, torch engine"]
    signature = ""
    for name, hyps, seconds in rows:
        score, signature = bleu(hyps)
        same = sum(x == y for x, y in zip(hyps, torch_hyps))
        print(f"{name:46s} {len(lines) / seconds:8.1f} {score:7.2f} {same:8d}/{len(lines)}")
    print(f"BLEU signature: {signature}")
    for name, translator in engines.items():
        print(f"{name}: {translator.engine.signature()}")
    print("export seconds: " + ", ".join(f"{q} {s:.1f}" for q, s in exports.items()))
    if "plain HF generate loop" in rows[0][0]:
        print(f"torch engine vs plain HF loop: {rows[0][2] / torch_s:.2f}x (target >= 1.5x)")
    int8_hyps, int8_s = by_name["bertune, ct2 int8 engine"]
    f32_hyps, f32_s = by_name["bertune, ct2 float32 engine"]
    print(f"ct2 float32 vs torch engine: {torch_s / f32_s:.2f}x")
    print(f"ct2 int8 vs torch engine: {torch_s / int8_s:.2f}x (target >= 3x); BLEU int8 - "
          f"torch {bleu(int8_hyps)[0] - bleu(torch_hyps)[0]:+.2f}, int8 - float32 "
          f"{bleu(int8_hyps)[0] - bleu(f32_hyps)[0]:+.2f} (target within 0.5)")

    # The engine is the limit: bertune's whole path vs translate_batch on pre-tokenized input.
    int8 = engines["ct2 int8"]
    src_file = work / "input.txt"
    src_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, direct_s = ct2_direct(int8, lines, args.beam, tokens, a, b)
    whole_s = whole_path(int8, src_file, work / "output.txt", **options)
    out_lines = (work / "output.txt").read_text(encoding="utf-8").splitlines()
    print(f"CTranslate2 translate_batch on pre-tokenized input (int8): "
          f"{len(lines) / direct_s:8.1f} sentences/s")
    print(f"bertune whole path, file -> file (int8):                  "
          f"{len(lines) / whole_s:8.1f} sentences/s; identical to translate(): "
          f"{sum(x == y for x, y in zip(out_lines, int8_hyps))}/{len(lines)}")
    print(f"whole path / translate_batch time: {whole_s / direct_s:.2f}x (target <= 1.1x)")


if __name__ == "__main__":
    main()
