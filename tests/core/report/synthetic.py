"""Synthetic run directories for report tests: real tiny checkpoints (untrained
``transformer_tiny`` weights, perturbed per fine-tune) on a real tiny prepared data directory,
with hand-written ``metrics.jsonl`` rows and test outputs made from the references, so every
number the report shows is known in advance. The recipe is the suite's tiny one
(tests/tiny.py), the data a copy of the session's prepared tiny data (``tiny_data_dir``)."""
from __future__ import annotations

import json
from pathlib import Path


def recipe():
    from tiny import tiny_recipe

    return tiny_recipe()


def baseline_hyps(refs: list[str]) -> list[str]:
    """The 'baseline': every third reference loses its last word, every fifth is repeated
    with an extra word."""
    out = []
    for i, r in enumerate(refs):
        words = r.split()
        if i % 3 == 0 and len(words) > 2:
            words = words[:-1]
        elif i % 5 == 1:
            words = words + ["again"]
        out.append(" ".join(words))
    return out


def finetune_hyps(refs: list[str]) -> list[str]:
    """The 'fine-tune': fixes the baseline on lines 0, 3, 6 (= the reference), breaks line 2."""
    out = baseline_hyps(refs)
    for i in (0, 3, 6):
        out[i] = refs[i]
    out[2] = "the the the"
    return out


def _rows(kind: str) -> list[dict]:
    """metrics.jsonl rows; update 20 is logged twice (a resume): the second row must win."""
    if kind == "baseline":
        train = [(1, u, 6.0 - u / 20) for u in (10, 20, 30)] + [(2, u, 5.0 - u / 30)
                                                               for u in (40, 50, 60)]
        valid = [{"kind": "valid", "epoch": 1, "update": 30, "valid_loss": 5.0, "bleu": 20.0,
                  "is_best": True}, {"kind": "valid", "epoch": 2, "update": 60,
                                     "valid_loss": 4.0, "bleu": 30.0, "is_best": True}]
        dup = {"kind": "train", "epoch": 1, "update": 20, "loss": 99.0}
    else:
        train = [(1, u, -0.80 - u / 100) for u in (2, 4, 6, 8)]
        valid = [{"kind": "valid", "epoch": 1, "update": 4, "valid_loss": -0.85, "bleu": 31.0,
                  "bertscore": 91.0, "is_best": True},
                 {"kind": "valid", "epoch": 1, "update": 8, "valid_loss": -0.86, "bleu": 30.5,
                  "bertscore": 91.5, "is_best": False}]
        dup = {"kind": "train", "epoch": 1, "update": 4, "loss": 99.0}
    rows = [{"kind": "train", "epoch": e, "update": u, "loss": loss} for e, u, loss in train]
    rows.insert(1, dup)      # the stale row of the interrupted session comes first
    return sorted(rows, key=lambda r: r["update"]) + valid


def write_run(run: Path, model, ctx, stage: str, refs: list[str], valid_refs: list[str],
              hyps: list[str] | None, soft: str | None = None, done: bool = True) -> Path:
    from bertune_cli.core.model.checkpoint import BEST, save_checkpoint

    meta = {**ctx.meta, "training": {"stage": stage, "epoch": 1, "updates": 8}}
    if soft:
        meta["finetune"] = {"soft": soft, "tau": 0.1, "hard": False, "ce_weight": 0.0,
                            "reduction": "sentence",
                            "init_from": str(run.parent / "baseline" / BEST)}
    save_checkpoint(run / BEST, model, vocab=ctx.vocab, source=ctx.source, meta=meta)
    rows = _rows("finetune" if soft else "baseline")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "valid.hyp.txt").write_text("".join(h + "\n" for h in baseline_hyps(valid_refs)))
    if hyps is not None:
        (run / "test.hyp.txt").write_text("".join(h + "\n" for h in hyps))
    if done:
        (run / "DONE").write_text(json.dumps({"reason": "max_epochs", "updates": rows[-1][
            "update"], "epochs": 2 if soft is None else 1}))
    return run


def make_runs(root: Path, prepared: Path, untranslated: str | None = None) -> Path:
    """``root/demo/{data, baseline, finetune-gumbel, finetune-dense}``, the data a copy of
    ``prepared``; the run named ``untranslated`` has no test.hyp.txt and no DONE (a run still
    going)."""
    import shutil

    import torch

    from bertune_cli.core.data.store import DataDir
    from bertune_cli.core.loops.train_baseline import setup_baseline

    rec = recipe()
    data_dir = root / "demo" / "data"
    shutil.copytree(prepared, data_dir)
    data = DataDir(data_dir)
    refs, valid_refs = data.split("test").tgt_text, data.split("valid").tgt_text
    _, model, ctx = setup_baseline(rec, data_dir)
    write_run(root / "demo" / "baseline", model, ctx, "baseline", refs, valid_refs,
              baseline_hyps(refs))
    for k, soft in enumerate(("gumbel", "dense")):
        torch.manual_seed(k)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        name = f"finetune-{soft}"
        bias = model.final_logits_bias.clone()
        if name == untranslated:  # decodes to [SEP] at once: a fast translation in tests
            model.final_logits_bias[0, ctx.vocab.eos_id] = 30.0
        write_run(root / "demo" / name, model, ctx, name, refs, valid_refs,
                  None if name == untranslated else finetune_hyps(refs), soft,
                  done=name != untranslated)
        model.final_logits_bias.copy_(bias)
    return root


def shared_runs(tmp_path_factory, prepared: Path) -> Path:
    """``runs/demo`` of ``make_runs(untranslated="finetune-dense")``, built once per test
    session (under the session's base temp folder, so the report tests in tests/core/report
    and tests/commands share it) on a copy of ``prepared`` (the session's ``tiny_data_dir``).
    Tests treat it as read-only and copy what they damage."""
    root = tmp_path_factory.getbasetemp() / "report-synthetic"
    if not (root / "complete").is_file():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        make_runs(root / "runs", prepared, untranslated="finetune-dense")
        (root / "complete").write_text("")
    return root / "runs" / "demo"
