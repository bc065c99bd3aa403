"""The training loop through train-baseline: run dir, resume, DDP, NaN, bad data."""
from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bertune_cli.core.errors import CheckpointError, TrainingError
from bertune_cli.core.loops.losses import label_smoothed_nll_loss
from bertune_cli.core.loops.train_baseline import ce_loss, setup_baseline, train_baseline
from bertune_cli.core.loops.trainer import LoopSettings, inverse_sqrt_lr, is_complete, train_loop
from bertune_cli.core.model.checkpoint import load_trainer_state

from tiny import TINY, tiny_recipe

# Tiny models gain nothing from a second thread, and spinning OpenMP threads on shared cores
# make each op 100x slower (see commands/train_baseline.py).
torch.set_num_threads(1)

@pytest.fixture(scope="module")
def data_dir(tiny_data_dir):
    """The session's prepared tiny data (read-only: copied where a test changes it)."""
    return tiny_data_dir


def recipe(*extra: str):
    return tiny_recipe(*extra)


def weights(run: Path, which: str = "checkpoint_last") -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(run / which / "model.safetensors"))


# ----------------------------------------------------------------------------- pieces


def test_inverse_sqrt_schedule_matches_fairseq():
    """fairseq inverse_sqrt: linear warm-up from warmup_init_lr, then lr·sqrt(warmup/update)."""
    assert inverse_sqrt_lr(0, 5e-4, 4000, 1e-7) == pytest.approx(1e-7)
    assert inverse_sqrt_lr(2000, 5e-4, 4000, 1e-7) == pytest.approx(1e-7 + 2000 * (5e-4 - 1e-7) / 4000)
    assert inverse_sqrt_lr(4000, 5e-4, 4000, 1e-7) == pytest.approx(5e-4)
    assert inverse_sqrt_lr(16000, 5e-4, 4000, 1e-7) == pytest.approx(2.5e-4)


def test_label_smoothed_loss_matches_the_fairseq_formula():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7, dtype=torch.float64)
    target = torch.tensor([[1, 2, 0], [3, 0, 0]])
    eps = 0.1
    loss, nll = label_smoothed_nll_loss(logits, target, eps, ignore_index=0)
    lp = logits.log_softmax(-1)
    keep = target != 0
    want_nll = -lp.gather(-1, target[..., None])[..., 0][keep].sum()
    smooth = -lp.sum(-1)[keep].sum()
    eps_i = eps / 6
    assert nll.item() == pytest.approx(want_nll.item())
    assert loss.item() == pytest.approx(((1 - eps - eps_i) * want_nll + eps_i * smooth).item())
    # = cross-entropy against 1-eps on the target and eps/(V-1) elsewhere
    q = torch.full_like(lp, eps_i).scatter(-1, target[..., None], 1 - eps)
    assert loss.item() == pytest.approx(-(q * lp).sum(-1)[keep].sum().item())


# ----------------------------------------------------------------------------- training


def test_training_writes_the_run_directory_and_a_done_marker(data_dir, tmp_path):
    # its own run, not the shared tiny_baseline: it checks this call's events and 3 epochs
    run = tmp_path / "baseline"
    events = []
    summary = train_baseline(recipe(), data_dir, run, device="cpu", max_epochs=3,
                             on_event=events.append)
    for name in ("config.yaml", "metrics.jsonl", "DONE", "valid.hyp.txt", "test.hyp.txt",
                 "checkpoint_best/bertune.json", "checkpoint_last/trainer_state.json", "checkpoint_last/trainer_state.safetensors",
                 "checkpoint_best/model.safetensors"):
        assert (run / name).exists(), name
    assert load_trainer_state(run / "checkpoint_best")["best_only"] is True
    assert is_complete(run) and summary["reason"] == "max_epochs" and summary["epochs"] == 3
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    valid_rows = [r for r in rows if r["kind"] == "valid"]
    assert len(valid_rows) == 3 and "bleu_signature" in valid_rows[0]
    assert train_rows[-1]["loss"] < train_rows[0]["loss"]
    assert {e["event"] for e in events} == {"start", "step", "valid", "done"}
    assert "model:" in (run / "config.yaml").read_text()
    import sacrebleu  # the test BLEU is sacrebleu's on test.hyp.txt (the recipe lowercases)

    assert "nrefs:1" in summary["test"]["signature"] and "case:lc" in summary["test"]["signature"]
    ref = [(data_dir / "test.tgt.txt").read_text(encoding="utf-8").splitlines()]
    hyps = (run / "test.hyp.txt").read_text(encoding="utf-8").splitlines()
    assert summary["test"]["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, ref, lowercase=True).score)
    # a finished run is reported, not retrained
    again = train_baseline(recipe(), data_dir, run, device="cpu", max_epochs=3)
    assert again["already_complete"] and again["updates"] == summary["updates"]


def test_resume_after_a_crash_mid_epoch_gives_identical_parameters(data_dir, tmp_path):
    """Run B crashes at update 7 (last save at update 4, mid-epoch); re-running it resumes and
    ends with exactly the parameters of the uninterrupted run A (dropout on: RNG restored)."""
    r = recipe("model.dropout=0.1", "train.max_tokens=128")
    kw = dict(device="cpu", max_steps=10, save_every_steps=4)
    train_baseline(r, data_dir, tmp_path / "A", **kw)

    def crash(event):
        if event["event"] == "step" and event["update"] == 7:
            assert event["pos"] < event["batches"]  # mid-epoch
            raise Crash

    with pytest.raises(Crash):
        train_baseline(r, data_dir, tmp_path / "B", on_event=crash, **kw)
    assert not is_complete(tmp_path / "B")
    events = []
    train_baseline(r, data_dir, tmp_path / "B", on_event=events.append, **kw)
    assert events[0]["resumed"] and events[0]["updates"] == 4
    a, b = weights(tmp_path / "A"), weights(tmp_path / "B")
    assert all(torch.equal(a[k], b[k]) for k in a)
    def strip(p):
        return [{k: v for k, v in json.loads(x).items()
                 if k not in ("tokens_per_s", "updates_per_s", "elapsed")}
                for x in p.read_text().splitlines()]
    assert strip(tmp_path / "A" / "metrics.jsonl") == strip(tmp_path / "B" / "metrics.jsonl")


def test_sigterm_finishes_the_update_saves_and_stops_like_ctrl_c(data_dir, tmp_path):
    """SIGTERM (a scheduler's stop, `kill`) is handled like Ctrl-C: the update in progress
    finishes, checkpoint_last is saved, then Terminated (exit 143 in the CLI). Before: SIGTERM
    killed the process on the spot; the resume point was the last periodic save."""
    import os
    import signal

    from bertune_cli.core.errors import Terminated

    def term(event):
        if event["event"] == "step" and event["update"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        train_baseline(recipe(), data_dir, tmp_path / "T", device="cpu", max_steps=10,
                       on_event=term)
    assert load_trainer_state(tmp_path / "T" / "checkpoint_last")["updates"] == 4
    assert not is_complete(tmp_path / "T") and signal.getsignal(signal.SIGTERM) is before


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path):
    """From call 5 on every loss is NaN: five skipped updates in a row stop the run."""
    r = recipe()
    data, model, ctx = setup_baseline(r, data_dir)
    base = ce_loss(0.1)
    calls = {"n": 0}

    def poisoned(model, batch):
        calls["n"] += 1
        loss, logs = base(model, batch)
        return (loss * math.nan if calls["n"] >= 5 else loss), logs

    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="last good checkpoint") as info:
        train_loop(model, train=data.split("train", with_text=False), valid=data.split("valid"),
                   loss_fn=poisoned, settings=LoopSettings.from_config(r.train, save_every_steps=2),
                   run_dir=run, ctx=ctx)
    assert "update 4" in str(info.value) and "nan" in str(info.value)
    assert "5 updates in a row" in str(info.value)
    state = json.loads((run / "checkpoint_last" / "bertune.json").read_text())
    assert state["training"]["updates"] == 4 and not is_complete(run)


def _nan_gradient(loss, model):
    """loss + 0·sqrt(0·w): the same finite value, but d/dw is 0·inf = NaN for every w."""
    w = next(model.parameters())
    return loss + 0.0 * torch.sqrt(w.abs().sum() * 0.0)


def test_a_nan_gradient_with_a_finite_loss_is_skipped_and_reported(data_dir, tmp_path, caplog):
    """Before: the finite loss passed the check, the NaN gradient was applied and every
    parameter became NaN while training "continued". Now the update is skipped."""
    r = recipe()
    data, model, ctx = setup_baseline(r, data_dir)
    base = ce_loss(0.1)
    calls, events = {"n": 0}, []

    def poisoned(model, batch):
        calls["n"] += 1
        loss, logs = base(model, batch)
        return (_nan_gradient(loss, model) if calls["n"] in (3, 4) else loss), logs

    run = tmp_path / "run"
    with caplog.at_level("WARNING", logger="bertune.train"):
        summary = train_loop(model, train=data.split("train", with_text=False),
                             valid=data.split("valid"), loss_fn=poisoned,
                             settings=LoopSettings.from_config(r.train, max_steps=6),
                             run_dir=run, ctx=ctx, on_event=events.append)
    assert summary["updates"] == 6   # two batches skipped, six real updates
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(torch.isfinite(v).all() for v in weights(run).values())
    skips = [e for e in events if e["event"] == "skip"]
    assert [(e["update"], e["bad"]) for e in skips] == [(3, 1), (3, 2)]
    assert all(not math.isfinite(e["gnorm"]) and math.isfinite(e["loss"]) for e in skips)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(row["kind"] == "skip" for row in rows) == 2
    assert "skipped" not in caplog.text            # the listener got it (the CLI prints it)


def test_consecutive_nan_gradients_stop_after_max_bad_updates(data_dir, tmp_path, caplog):
    r = recipe()
    data, model, ctx = setup_baseline(r, data_dir)
    base = ce_loss(0.1)

    def poisoned(model, batch):
        loss, logs = base(model, batch)
        return _nan_gradient(loss, model), logs

    with pytest.raises(TrainingError, match="2 updates in a row .*gradient norm nan"), \
            caplog.at_level("WARNING", logger="bertune.train"):
        train_loop(model, train=data.split("train", with_text=False), valid=data.split("valid"),
                   loss_fn=poisoned, settings=LoopSettings.from_config(r.train, max_bad_updates=2),
                   run_dir=tmp_path / "run", ctx=ctx)
    assert "update 1 (epoch 1) skipped: gradient norm nan (1 in a row" in caplog.text


DDP = ["train.warmup_updates=0", "model.dropout=0.0"]  # dropout masks differ between ranks


def _ddp_worker(rank, world, init, data_dir, run):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        train_baseline(recipe(*DDP), Path(data_dir), Path(run), device="cpu", max_steps=1)
    finally:
        dist.destroy_process_group()


def _first_moments(run: Path) -> list[torch.Tensor]:


    state = load_trainer_state(run / "checkpoint_last")
    opt = state["optimizer"]["state"]
    return [opt[i]["exp_avg"] for i in sorted(opt)]


def test_one_ddp_step_equals_one_single_process_step_on_the_same_global_batch(data_dir, tmp_path):
    """2 gloo processes (one batch each) == 1 process accumulating the same 2 batches."""
    import torch.multiprocessing as mp

    train_baseline(recipe(*DDP, "train.update_freq=2"), data_dir, tmp_path / "single",
                   device="cpu", max_steps=1)
    mp.spawn(_ddp_worker, args=(2, f"file://{tmp_path / 'rendezvous'}", str(data_dir),
                                str(tmp_path / "ddp")), nprocs=2)
    train_baseline(recipe(*DDP), data_dir, tmp_path / "half", device="cpu", max_steps=1)
    # Adam's first moment after one update is (1 - beta1) * gradient: compare gradients, not
    # parameters (Adam's first step is ~lr * sign(g), which flips on float noise where g ~ 0).
    single, ddp, half = (_first_moments(tmp_path / n) for n in ("single", "ddp", "half"))
    scale = max(m.abs().max().item() for m in single)
    diff = max((a - b).abs().max().item() for a, b in zip(single, ddp)) / scale
    other = max((a - b).abs().max().item() for a, b in zip(single, half)) / scale
    assert diff < 1e-5 and other > 1e-2  # same update; one batch alone is another update
    assert json.loads((tmp_path / "ddp" / "DONE").read_text())["updates"] == 1


# ----------------------------------------------------------------------------- bad input


def test_missing_data_dir_says_to_run_prepare(tmp_path):
    with pytest.raises(CheckpointError, match="bertune prepare --pair demo"):
        train_baseline(recipe(), tmp_path / "nowhere", tmp_path / "run", device="cpu")


def test_data_dir_built_for_another_lm_is_refused(data_dir, tmp_path):
    other = tmp_path / "data"
    shutil.copytree(data_dir, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["lm"]["name"] = "bert-base-cased"
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="bert-base-cased"):
        train_baseline(recipe(), other, tmp_path / "run", device="cpu")


def test_resuming_with_another_model_is_refused(data_dir, tmp_path):
    with pytest.raises(Crash):
        train_baseline(recipe(), data_dir, tmp_path / "run", device="cpu", max_steps=3,
                       save_every_steps=1, on_event=_stop_at(2))
    with pytest.raises(CheckpointError, match="different model"):
        train_baseline(recipe("model.dropout=0.2"), data_dir, tmp_path / "run", device="cpu",
                       max_steps=2)


class Crash(Exception):
    pass


def _stop_at(update):
    def hook(event):
        if event["event"] == "step" and event["update"] == update:
            raise Crash
    return hook


@pytest.mark.slow
@pytest.mark.integration
def test_sigkill_mid_epoch_then_the_same_command_resumes(data_dir, tmp_path):
    """A real `bertune train-baseline` killed with SIGKILL resumes from checkpoint_last."""
    cmd = [sys.executable, "-m", "bertune_cli.main", "train-baseline", "--pair", "demo",
           "--data", str(data_dir), "--out", str(tmp_path / "run"), "--device", "cpu",
           "--max-epochs", "3", *[a for s in TINY + ["train.max_tokens=64"] for a in ("--set", s)]]
    env = {**os.environ, "BERTUNE_RUNS": str(tmp_path)}
    proc = subprocess.Popen(cmd + ["--set", "train.log_every=1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = tmp_path / "run" / "metrics.jsonl"
    # wait until a checkpoint exists and a few more updates were logged, then kill -9
    import time
    deadline = time.time() + 120
    while time.time() < deadline:
        if (tmp_path / "run" / "checkpoint_last").exists() and metrics.exists() and \
                len(metrics.read_text().splitlines()) > 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming at update" in done.stderr
    assert json.loads(done.stdout)["reason"] in ("max_epochs", "early_stopping")


def test_a_run_directory_held_by_another_process_is_refused(data_dir, tmp_path):
    """A second training process on a run directory someone holds is refused with the holder's
    pid, before it writes anything (two writers would write every metrics.jsonl row twice)."""
    from bertune_cli.core.errors import RunLocked

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from bertune_cli.core.io.locks import RunLock; "
        "RunLock(sys.argv[1], 'bertune train-baseline').acquire(); print('locked', flush=True); "
        "time.sleep(60)"), str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = recipe()
        data, model, ctx = setup_baseline(r, data_dir)
        with pytest.raises(RunLocked, match=f"pid {holder.pid}, bertune train-baseline"):
            train_loop(model, train=data.split("train", with_text=False),
                       valid=data.split("valid"), loss_fn=ce_loss(0.1),
                       settings=LoopSettings.from_config(r.train, max_steps=1),
                       run_dir=tmp_path / "run", ctx=ctx)
        assert not (tmp_path / "run").exists()
    finally:
        holder.kill()
        holder.wait()


def test_the_test_report_is_written_under_the_run_lock(tmp_path):
    """The test translation after training runs under the run lock again: a second process is
    refused instead of translating the same test set at the same time, a result already in DONE
    is reused, and DONE is replaced atomically (no temporary file is left)."""
    from bertune_cli.core.errors import RunLocked
    from bertune_cli.core.loops.services import add_test_report

    run = tmp_path / "run"
    run.mkdir()
    (run / "DONE").write_text(json.dumps({"reason": "max_steps"}))
    calls = []
    out = add_test_report(run, {"reason": "max_steps"}, lambda: calls.append(1) or {"bleu": 7.5})
    assert out["test"] == {"bleu": 7.5} and calls == [1]
    assert json.loads((run / "DONE").read_text())["test"] == {"bleu": 7.5}
    again = add_test_report(run, {"reason": "max_steps"}, lambda: calls.append(2) or {})
    assert again["test"] == {"bleu": 7.5} and calls == [1]          # reused, not recomputed
    assert sorted(p.name for p in run.iterdir()) == ["DONE"]
    (run / "DONE").write_text(json.dumps({"reason": "max_steps"}))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from bertune_cli.core.io.locks import RunLock; "
        "RunLock(sys.argv[1], 'bertune finetune').acquire(); print('locked', flush=True); "
        "time.sleep(60)"), str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}, bertune finetune"):
            add_test_report(run, {"reason": "max_steps"}, lambda: calls.append(3) or {})
        assert calls == [1] and "test" not in json.loads((run / "DONE").read_text())
    finally:
        holder.kill()
        holder.wait()
