"""The reference-embedding cache (``score --cache``): a hit gives bit-identical scores, other
layers/LMs never collide, two writer processes do not corrupt it, eviction keeps the bound."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bertune_cli.core.errors import DataError
from bertune_cli.core.metrics.bertscore import score_systems
from bertune_cli.core.metrics.cache import EmbeddingCache

REPO = Path(__file__).resolve().parents[3]


def test_a_hit_gives_identical_scores_and_embeds_no_reference(minilm, sample, tmp_path):
    refs, a, b = (sample[k][:8] for k in ("ref", "sys_a", "sys_b"))
    plain = score_systems([a, b], [refs], minilm)
    cache = EmbeddingCache(tmp_path / "c")
    cold, warm = {}, {}
    first = score_systems([a, b], [refs], minilm, cache=cache, stats=cold)
    second = score_systems([a, b], [refs], minilm, cache=EmbeddingCache(tmp_path / "c"),
                           stats=warm)
    assert cold["cached_sentences"] == 0 and warm["cached_sentences"] == len(set(refs))
    assert warm["tokens"] < cold["tokens"]              # only the hypotheses were embedded
    for x, y, z in zip(plain, first, second):
        for k in ("P", "R", "F"):
            np.testing.assert_array_equal(getattr(x, k), getattr(y, k))
            np.testing.assert_array_equal(getattr(y, k), getattr(z, k))


def test_other_layer_or_lm_never_collides(minilm, sample, tmp_path):
    from bertune_cli.core.lm.model import load_lm

    refs, hyps = sample["ref"][:4], sample["sys_a"][:4]
    cache = EmbeddingCache(tmp_path)
    score_systems([hyps], [refs], minilm, cache=cache)
    layer4 = load_lm("minilm", 4)
    stats = {}
    got = score_systems([hyps], [refs], layer4, cache=cache, stats=stats)[0]
    assert stats["cached_sentences"] == 0
    np.testing.assert_array_equal(got.F, score_systems([hyps], [refs], layer4)[0].F)
    other = dataclasses.replace(minilm, name="another-lm", path=str(tmp_path / "other"))
    texts = ["a dog runs ."]
    keys = {cache.key(m, texts) for m in (minilm, layer4, other)}
    keys.add(cache.key(minilm, texts, bf16=True))
    keys.add(cache.key(minilm, ["a dog runs"]))
    assert len(keys) == 5 and cache.key(minilm, texts) == EmbeddingCache(tmp_path).key(
        minilm, texts)


def _entry(n: int, seed: int):
    rnd = np.random.default_rng(seed)
    ids = [list(range(seed, seed + 3 + i % 4)) for i in range(n)]
    return ids, [rnd.standard_normal((len(s), 16)).astype(np.float32) for s in ids]


def test_eviction_keeps_the_bound_and_drops_the_least_recently_used(tmp_path):
    ids, arrays = _entry(40, 0)
    cache = EmbeddingCache(tmp_path)
    cache.put("a", ids, arrays)
    cache.max_bytes = int(3.5 * cache.size_bytes())      # room for 3 entries
    for key in "abcd":
        cache.put(key, ids, arrays)
        os.utime(tmp_path / f"{key}.npz", (1e9 + ord(key), 1e9 + ord(key)))
    cache.get("b", ids)                                   # b becomes the most recent
    cache.put("e", ids, arrays)
    assert cache.size_bytes() <= cache.max_bytes
    present = {p.stem for p in tmp_path.glob("*.npz")}
    assert {"b", "e"} <= present and "a" not in present
    got = cache.get("e", ids)
    assert all(np.array_equal(x, y) for x, y in zip(got, arrays))
    assert cache.get("e", [s[:-1] for s in ids]) is None  # other token ids: a miss
    assert not cache.put("huge", *_entry(3000, 1)) and "exceed the cache bound" in \
        cache.warnings[-1]


def test_a_damaged_entry_is_a_miss_not_an_error(tmp_path):
    ids, arrays = _entry(5, 2)
    cache = EmbeddingCache(tmp_path)
    cache.put("k", ids, arrays)
    (tmp_path / "k.npz").write_bytes(b"PK\x03\x04 truncated")
    assert cache.get("k", ids) is None and "unreadable" in cache.warnings[-1]
    assert not (tmp_path / "k.npz").exists()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(DataError, match="cannot create the cache folder"):
        EmbeddingCache(tmp_path / "a-file" / "sub")


WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from bertune_cli.core.metrics.cache import EmbeddingCache
    root = sys.argv[1]
    cache = EmbeddingCache(root, max_mb=0.25)
    for i in range(60):
        key = f"k{i % 12}"                       # both processes write the same keys
        rnd = np.random.default_rng(i % 12)
        ids = [list(range(i % 12, i % 12 + 5 + j % 7)) for j in range(50)]
        arrays = [rnd.standard_normal((len(s), 32)).astype(np.float32) for s in ids]
        cache.put(key, ids, arrays)
        cache.get(key, ids)                      # reads race with the other's evictions
    print("ok")
""")


def test_two_concurrent_writer_processes_do_not_corrupt_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(seed)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
             for seed in (0, 1)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "ok", err
    cache = EmbeddingCache(tmp_path, max_mb=0.25)
    assert cache.size_bytes() <= cache.max_bytes
    assert not list(tmp_path.glob(".tmp-*"))            # no temporary file left behind
    entries = sorted(tmp_path.glob("*.npz"))
    assert entries
    for path in entries:                                 # every entry whole and the right one
        k = int(path.stem[1:])
        rnd = np.random.default_rng(k)
        ids = [list(range(k, k + 5 + j % 7)) for j in range(50)]
        want = [rnd.standard_normal((len(s), 32)).astype(np.float32) for s in ids]
        got = cache.get(path.stem, ids)
        assert got is not None and all(np.array_equal(x, y) for x, y in zip(got, want))


def test_score_cli_with_cache_reports_the_same_scores(tmp_path, sample):
    from bertune_cli.main import app

    hyp, ref = tmp_path / "hyp.en", tmp_path / "ref.en"
    hyp.write_text("".join(s + "\n" for s in sample["sys_a"][:8]), encoding="utf-8")
    ref.write_text("".join(s + "\n" for s in sample["ref"][:8]), encoding="utf-8")
    args = ["score", str(hyp), str(ref), "-m", "bertscore", "--json", "--device", "cpu"]
    outs = []
    for extra in ([], ["--cache", str(tmp_path / "c")], ["--cache", str(tmp_path / "c")]):
        result = CliRunner().invoke(app, args + extra)
        assert result.exit_code == 0, result.output
        outs.append(json.loads(result.stdout)["metrics"][0]["score"])
    assert outs[0] == outs[1] == outs[2]
    assert len(list((tmp_path / "c").glob("*.npz"))) == 1
    (tmp_path / "file").write_text("x")
    bad = CliRunner().invoke(app, args + ["--cache", str(tmp_path / "file" / "c")])
    assert bad.exit_code != 0 and "cache folder" in str(bad.exception or bad.output)
