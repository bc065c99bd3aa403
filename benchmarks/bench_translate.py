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
import shutil
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
        chunk = lines[start : start + batch]
        ids = translator.source.encode(chunk)
        longest = max(len(s) for s in ids)
        x = torch.zeros((len(ids), longest), dtype=torch.long)
        for row, s in zip(x, ids):
            row[: len(s)] = torch.as_tensor(s)
        with torch.inference_mode():
            gen = translator.model.generate(
                input_ids=x,
                attention_mask=x.ne(0).long(),
                num_beams=beam,
                max_new_tokens=int(math.floor(a * longest + b)),
                early_stopping=True,
            )
        seqs = [translator.engine.strip(r) for r in gen[:, 1:].tolist()]
        outs += translator.codec.decode(
            [translator.vocab.to_lm(np.asarray(s)).tolist() for s in seqs]
        )
    return outs


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def ct2_direct(engine, pieces: list[list[str]], beam, batch_tokens, a, b) -> list[list[str]]:
    """CTranslate2's ``translate_batch`` on pre-tokenized input (source BPE pieces); returns
    the best hypotheses' pieces."""
    longest = max(len(p) for p in pieces)
    results = engine.translator.translate_batch(
        pieces,
        max_batch_size=batch_tokens,
        batch_type="tokens",
        beam_size=beam,
        max_decoding_length=int(math.floor(a * longest + b)),
        min_decoding_length=0,
        suppress_sequences=engine.suppress,
        return_end_token=True,
    )
    return [r.hypotheses[0] for r in results]


def whole_path(translator, src: Path, out: Path, options) -> None:
    """What ``bertune translate -i src -o out`` does after loading the model."""
    from bertune_cli.core.translation import AtomicOutput, format_result

    with open(src, "rb") as f, AtomicOutput(out) as o:
        for result in translator.stream(f, options):
            o.write(format_result(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "model",
        nargs="?",
        default="runs/demo/baseline",
        help="run directory or checkpoint (default: runs/demo/baseline)",
    )
    parser.add_argument("--input", help="source lines (default: <data>/test.src.txt)")
    parser.add_argument("--ref", help="references (default: <data>/test.tgt.txt)")
    parser.add_argument("--lines", type=int, default=500)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--plain-batch", type=int, default=32)
    parser.add_argument(
        "--batch-tokens", type=int, default=0, help="0: bertune's default for the device"
    )
    parser.add_argument("--threads", type=int, default=0, help="0: the cores available")
    parser.add_argument("--skip-plain", action="store_true", help="no plain HF loop row")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (best time kept)")
    args = parser.parse_args()

    import torch

    from bertune_cli.core.engines.ct2_engine import cpu_cores
    from bertune_cli.core.engines.export import export_ctranslate2
    from bertune_cli.core.errors import CheckpointError
    from bertune_cli.core.metrics.sacre import corpus_metric
    from bertune_cli.core.model.checkpoint import read_meta
    from bertune_cli.core.translation import DecodeOptions, Translator, auto_batch_tokens

    threads = args.threads or cpu_cores()
    torch.set_num_threads(threads)
    try:
        meta = read_meta(Path(args.model))
    except CheckpointError as exc:
        sys.exit(
            f"{exc}\nMake one first: bertune prepare --pair demo && "
            "bertune train-baseline --pair demo"
        )
    data = Path(meta["data"]["path"])
    src = Path(args.input) if args.input else data / "test.src.txt"
    ref = Path(args.ref) if args.ref else (None if args.input else data / "test.tgt.txt")
    sources = src.read_text(encoding="utf-8").splitlines()[: args.lines]
    targets = ref.read_text(encoding="utf-8").splitlines() if ref else [""] * len(sources)
    pairs = list(zip(sources, targets))
    pairs = [(s, r) for s, r in pairs if s.strip()]
    lines, refs = [s for s, _ in pairs], [r for _, r in pairs]
    evaluation = meta["config"]["eval"]
    a, b = evaluation.get("max_len_a", 1.2), evaluation.get("max_len_b", 10)
    tokens = args.batch_tokens or auto_batch_tokens("cpu")
    options = DecodeOptions(beam=args.beam, batch_tokens=tokens, max_len_a=a, max_len_b=b)

    def bleu(hyps):
        if not ref:
            return float("nan"), "no references"
        result = corpus_metric(
            "bleu",
            hyps,
            [refs],
            lowercase=evaluation.get("lowercase", False),
            tokenize=evaluation.get("bleu_tokenize", "13a"),
        )
        return result.score, result.signature

    work = Path(tempfile.mkdtemp(prefix="bench-translate-"))
    exports = {}
    for quant in ("float32", "int8"):
        _, seconds = timed(lambda: export_ctranslate2(args.model, work / quant, quant))
        exports[quant] = seconds
    engines = {"torch": Translator.load(Path(args.model), "cpu")}
    for quant in ("float32", "int8"):
        engines[f"ct2 {quant}"] = Translator.load(work / quant, "cpu", engine="ct2")
    int8 = engines["ct2 int8"]
    src_file = work / "input.txt"
    src_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # name -> a call returning the outputs; every call is warmed up once, then the rows run
    # --repeat times in turn and each keeps its fastest time (the machine is shared).
    calls = {}
    if not args.skip_plain:
        calls[f"plain HF generate loop (batches of {args.plain_batch})"] = lambda: plain_loop(
            engines["torch"], lines, args.beam, args.plain_batch, a, b
        )
    for name, translator in engines.items():
        calls[f"bertune, {name} engine"] = lambda t=translator: t.translate(lines, options)
    pieces = int8.engine.pieces(int8.source.encode(lines))  # pre-tokenized, not timed
    calls["CTranslate2 translate_batch, pre-tokenized (int8)"] = lambda: ct2_direct(
        int8.engine, pieces, args.beam, tokens, a, b
    )
    calls["bertune whole path, file -> file (ct2 int8)"] = lambda: whole_path(
        int8, src_file, work / "output.txt", options
    )
    engines["torch"].translate(lines[:16], beam=args.beam)
    for name, call in calls.items():
        if "plain" in name:
            plain_loop(engines["torch"], lines[:16], args.beam, args.plain_batch, a, b)
        elif name.startswith("bertune, "):
            engines[name[len("bertune, ") : -len(" engine")]].translate(lines[:16], beam=args.beam)
    best: dict[str, float] = {}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeat):
        for name, call in calls.items():
            outputs[name], seconds = timed(call)
            best[name] = min(best.get(name, math.inf), seconds)
    outputs["bertune whole path, file -> file (ct2 int8)"] = (
        (work / "output.txt").read_text(encoding="utf-8").splitlines()
    )
    direct_pieces = outputs.pop("CTranslate2 translate_batch, pre-tokenized (int8)")
    outputs["CTranslate2 translate_batch, pre-tokenized (int8)"] = int8.codec.decode(
        [int8.vocab.to_lm([int8.engine.target_ids[t] for t in h]).tolist() for h in direct_pieces]
    )

    print(
        f"{len(lines)} sentences of {src}, beam {args.beam}, {tokens} source tokens/batch, "
        f"{threads} threads, best of {args.repeat}, model {args.model}"
    )
    print(f"{'':52s} {'sent/s':>8s} {'BLEU':>7s} {'same as torch':>14s}")
    torch_name = "bertune, torch engine"
    for name in calls:
        score, signature = bleu(outputs[name])
        same = sum(x == y for x, y in zip(outputs[name], outputs[torch_name]))
        print(f"{name:52s} {len(lines) / best[name]:8.1f} {score:7.2f} {same:8d}/{len(lines)}")
    print(f"BLEU signature: {signature}")
    for name, translator in engines.items():
        print(f"{name}: {translator.engine.signature()}")
    print("export seconds: " + ", ".join(f"{q} {s:.1f}" for q, s in exports.items()))
    t_torch = best[torch_name]
    if not args.skip_plain:
        plain = next(n for n in calls if n.startswith("plain"))
        print(f"torch engine vs plain HF loop: {best[plain] / t_torch:.2f}x (target >= 1.5x)")
    f32, i8 = "bertune, ct2 float32 engine", "bertune, ct2 int8 engine"
    print(f"ct2 float32 vs torch engine: {t_torch / best[f32]:.2f}x")
    print(
        f"ct2 int8 vs torch engine: {t_torch / best[i8]:.2f}x (target >= 3x); BLEU int8 - "
        f"torch {bleu(outputs[i8])[0] - bleu(outputs[torch_name])[0]:+.2f}, int8 - float32 "
        f"{bleu(outputs[i8])[0] - bleu(outputs[f32])[0]:+.2f} (target within 0.5)"
    )
    whole = best["bertune whole path, file -> file (ct2 int8)"]
    direct = best["CTranslate2 translate_batch, pre-tokenized (int8)"]
    print(
        f"bertune whole path / translate_batch on pre-tokenized input: {whole / direct:.2f}x "
        f"time (target <= 1.1x)"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
