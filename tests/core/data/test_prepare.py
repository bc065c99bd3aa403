"""`prepare` end to end, for every source kind and every bad input (small fixtures, no network)."""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from bertune_cli.core.config.recipe import load_recipe
from bertune_cli.core.data.prepare import prepare
from bertune_cli.core.data.source import SourceEncoder
from bertune_cli.core.data.store import DataDir
from bertune_cli.core.data.target import TargetCodec
from bertune_cli.core.errors import DataError, DownloadError, LMUnavailable

SMALL = ["data.bpe_vocab=200"]
DE = ["Ein Mann fährt Fahrrad .", "Zwei Hunde spielen im Schnee .", "Ein Kind isst einen Apfel .",
      "Die Frau liest ein Buch .", "Ein Junge springt ins Wasser .", "Drei Leute gehen spazieren ."]
EN = ["A man rides a bike .", "Two dogs play in the snow .", "A child eats an apple .",
      "The woman reads a book .", "A boy jumps into the water .", "Three people go for a walk ."]


def corpus(n: int, offset: int = 0) -> tuple[list[str], list[str]]:
    return ([f"{DE[i % 6]} {i + offset}" for i in range(n)],
            [f"{EN[i % 6]} {i + offset}" for i in range(n)])


def write(path: Path, lines: list[str]) -> Path:
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def multi30k_dir(folder: Path, n_train: int = 60) -> Path:
    """The Multi30k file names (recipe multi30k-de-en) with a small corpus."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, off in (("train", n_train, 0), ("val", 8, 1000), ("test_2016_flickr", 7, 2000)):
        de, en = corpus(n, off)
        write(folder / f"{split}.de.gz", de)
        write(folder / f"{split}.en.gz", en)
    return folder


def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert not out.parent.exists() or not list(out.parent.iterdir())


# ----------------------------------------------------------------------------- files


@pytest.fixture()
def m30k(tmp_path):
    return multi30k_dir(tmp_path / "raw")


def test_files_source_writes_the_data_dir_contract(m30k, tmp_path, minilm_tokenizer):
    out = tmp_path / "runs" / "data"
    result = prepare(load_recipe("multi30k-de-en", SMALL), out, data_dir=m30k)
    assert not result.cached and out.is_dir()
    m = result.manifest
    assert {s: v["pairs"] for s, v in m["splits"].items()} == {"train": 60, "valid": 8, "test": 7}
    assert m["cleaning"]["train"]["read"] == 60 and m["lm"]["name"] == "minilm"
    assert m["vocab"]["target"] == 30522 and 100 < m["vocab"]["source"] <= 200
    shas = {s["role"]: s["sha256"] for s in m["sources"]}
    assert shas["train.src"] == hashlib.sha256((m30k / "train.de.gz").read_bytes()).hexdigest()
    data = DataDir(out)
    assert data.splits == ["train", "valid", "test"] and data.fingerprint == m["settings_hash"]
    test = data.split("test")
    assert test.src_text[0] == "Ein Mann fährt Fahrrad . 2000"  # untokenized, cased
    source = SourceEncoder.load(out)
    assert [list(test.src[i]) for i in range(len(test))] == source.encode(test.src_text)
    codec = TargetCodec(minilm_tokenizer, "en")
    assert [list(test.tgt[i]) for i in range(len(test))] == codec.encode(test.tgt_text)
    shortlist = data.shortlist()
    assert set(np.asarray(data.split("train").tgt.ids)) <= set(shortlist)
    assert {0, 100, 101, 102, 103} <= set(shortlist) and (np.diff(shortlist) > 0).all()


def test_same_inputs_are_a_cache_hit_and_changes_rebuild(m30k, tmp_path):
    out = tmp_path / "data"
    recipe = load_recipe("multi30k-de-en", SMALL)
    first = prepare(recipe, out, data_dir=m30k)
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert prepare(recipe, out, data_dir=m30k).cached
    moved = shutil.copytree(m30k, tmp_path / "elsewhere")  # same bytes, other place: still a hit
    assert prepare(recipe, out, data_dir=moved).cached
    assert (out / "manifest.json").stat().st_mtime_ns == stamp
    assert not prepare(load_recipe("multi30k-de-en", SMALL + ["data.max_len=50"]), out,
                       data_dir=m30k).cached
    write(m30k / "test_2016_flickr.en.gz", corpus(7, 3000)[1])
    rebuilt = prepare(recipe, out, data_dir=m30k)
    assert not rebuilt.cached and rebuilt.manifest["settings_hash"] != first.manifest["settings_hash"]
    assert prepare(recipe, out, data_dir=m30k, force=True).cached is False
    assert sorted(p.name for p in out.parent.iterdir()) == ["data", "elsewhere", "raw"]


def test_without_a_valid_split_valid_is_every_23rd_training_pair(tmp_path):
    de, en = corpus(50)
    write(tmp_path / "c.de", de)
    write(tmp_path / "c.en.gz", en)
    recipe = load_recipe("demo", SMALL + ["data.source=files", f"data.root={tmp_path}",
                                          "data.files={train: {src: c.de, tgt: c.en.gz}}"])
    m = prepare(recipe, tmp_path / "data").manifest
    assert {s: v["pairs"] for s, v in m["splits"].items()} == {"train": 48, "valid": 2}
    assert DataDir(tmp_path / "data").split("valid").src_text == [de[22], de[45]]


def test_progress_is_reported(m30k, tmp_path):
    steps = set()
    prepare(load_recipe("multi30k-de-en", SMALL), tmp_path / "data", data_dir=m30k,
            progress=lambda step, done, total: steps.add(step))
    assert {"read train", "moses train.de", "learn source BPE", "encode", "write"} <= steps


# ----------------------------------------------------------------------------- csv / demo / wit3


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def test_csv_source_drops_empty_rows_and_splits_90_10_seed_42(tmp_path):
    rows = [["source", "english_sentence", "hindi_sentence"]]
    rows += [["ted", f"this is sentence {i} .", f"यह वाक्य {i} है ।"] for i in range(60)]
    rows += [["ted", "", "खाली"], ["ted", "empty hindi", "  "]]
    path = write_csv(tmp_path / "hi.csv", rows)
    recipe = load_recipe("hi-en", SMALL + [f"data.csv={path}", "lm.name=minilm"])
    m = prepare(recipe, tmp_path / "data").manifest
    assert m["source_info"]["rows"] == 62 and m["source_info"]["empty_rows_dropped"] == 2
    # sklearn.train_test_split(test_size=0.1, random_state=42) on 60 rows: 6 test, 54 train;
    # valid = every 23rd training pair (2)
    assert {s: v["pairs"] for s, v in m["splits"].items()} == {"train": 52, "valid": 2, "test": 6}
    perm = np.random.RandomState(42).permutation(60)
    test = DataDir(tmp_path / "data").split("test")
    assert test.tgt_text == [f"this is sentence {i} ." for i in perm[:6]]
    assert test.src_text[0] == f"यह वाक्य {perm[0]} है ।"


def test_tsv_with_a_split_column(tmp_path):
    rows = [["split", "de", "en"]]
    for i, split in enumerate(["train"] * 40 + ["dev"] * 4 + ["test"] * 3):
        rows.append([split, corpus(47)[0][i], corpus(47)[1][i]])
    path = write_csv(tmp_path / "c.tsv", rows, "\t")
    recipe = load_recipe("demo", SMALL + ["data.source=csv", f"data.csv={path}",
                                          "data.src_column=de", "data.tgt_column=en"])
    m = prepare(recipe, tmp_path / "data").manifest
    assert {s: v["pairs"] for s, v in m["splits"].items()} == {"train": 40, "valid": 4, "test": 3}


def test_demo_source(tmp_path):
    recipe = load_recipe("demo", ["data.demo_sizes={train: 300, valid: 12, test: 10}",
                                  "data.bpe_vocab=150"])
    m = prepare(recipe, tmp_path / "data").manifest
    assert m["splits"]["valid"]["pairs"] == 12 and m["splits"]["test"]["pairs"] == 10
    assert m["cleaning"]["train"]["read"] == 300 and m["sources"][0]["role"] == "demo"


def test_wit3_local_archive_folder_and_data_dir(wit3_tgz, tmp_path):
    archive = wit3_tgz(n_train=70)
    recipe = load_recipe("iwslt14-de-en", SMALL + ["lm.name=minilm", f"data.archive={archive}"])
    m = prepare(recipe, tmp_path / "a").manifest
    # 72 training lines (title + description lines are kept, as fairseq does); valid every 23rd
    assert {s: v["pairs"] for s, v in m["splits"].items()} == {"train": 69, "valid": 3,
                                                               "test": 3 + 4 + 5 + 6 + 7}
    assert m["source_info"]["test_sets"]["IWSLT14.TEDX.dev2012"] == 4
    via_dir = prepare(load_recipe("iwslt14-de-en", SMALL + ["lm.name=minilm"]), tmp_path / "b",
                      data_dir=archive.parent).manifest  # finds de-en.tgz by the URL's name
    assert via_dir["settings_hash"] == m["settings_hash"]


def test_wit3_over_http_with_checksum_and_resume(wit3_tgz, http_server, data_home, tmp_path):
    blob = wit3_tgz(n_train=3000).read_bytes()
    http_server.files["/iwslt14/de-en.tgz"] = blob
    http_server.truncate_next = True
    sha = hashlib.sha256(blob).hexdigest()
    recipe = load_recipe("iwslt14-de-en", SMALL + [
        "lm.name=minilm", f"data.archive={http_server.url('/iwslt14/de-en.tgz')}",
        f"data.sha256={sha}"])
    out = tmp_path / "runs" / "data"
    with pytest.raises(DownloadError, match="truncated.*re-run the same command to resume"):
        prepare(recipe, out)
    assert_nothing_written(out)
    m = prepare(recipe, out).manifest  # resumes the partial download
    assert http_server.requests[-1][1] is not None and m["sources"][0]["sha256"] == sha
    assert m["splits"]["test"]["pairs"] == 25 and m["cleaning"]["train"]["read"] == 3002
    assert prepare(recipe, out).cached and len(http_server.requests) == 2


# ----------------------------------------------------------------------------- bad input


def files_recipe(root: Path, *extra: str):
    return load_recipe("demo", SMALL + ["data.source=files", f"data.root={root}",
                                        "data.files={train: {src: c.de, tgt: c.en}}", *extra])


@pytest.mark.parametrize("case", ["missing", "counts", "utf8", "cleaned_away", "few_for_valid"])
def test_bad_files_leave_nothing_behind(case, tmp_path):
    de, en = corpus(40)
    if case == "counts":
        en = en[:-1]
    if case == "cleaned_away":
        en = [line + " and many more words to break the ratio" for line in en]
    if case == "few_for_valid":
        de, en = de[:20], en[:20]
    write(tmp_path / "c.de", de)
    if case != "missing":
        write(tmp_path / "c.en", en)
    if case == "utf8":
        (tmp_path / "c.en").write_bytes((tmp_path / "c.en").read_bytes().replace(b"dogs", b"d\xf6gs", 1))
    expected = {"missing": r"file not found: .*c\.en",
                "counts": r"train: .*c\.de has 40 lines but .*c\.en has 39",
                "utf8": r"c\.en:2:6: invalid UTF-8 \(byte 0xf6\)",
                "cleaned_away": r"no training pairs left after cleaning \(40 read, 40 ratio\)",
                "few_for_valid": r"the valid split is empty"}[case]
    out = tmp_path / "runs" / "data"
    with pytest.raises(DataError, match=expected):
        prepare(files_recipe(tmp_path), out)
    assert_nothing_written(out)


def test_csv_without_the_named_columns(tmp_path):
    path = write_csv(tmp_path / "c.csv", [["source", "english", "hindi"], ["x", "a b", "c d"]])
    out = tmp_path / "runs" / "data"
    with pytest.raises(DataError, match=r"c\.csv:1: no column 'hindi_sentence' or "
                                        r"'english_sentence' \(columns: source, english, hindi\)"):
        prepare(load_recipe("hi-en", [f"data.csv={path}", "lm.name=minilm"]), out)
    assert_nothing_written(out)


def test_archive_without_expected_members(tmp_path, wit3_kit):
    members = wit3_kit.members()
    del members["de-en/train.tags.de-en.en"]
    path = wit3_kit.write_tgz(tmp_path / "de-en.tgz", members)
    out = tmp_path / "runs" / "data"
    with pytest.raises(DataError, match=r"de-en\.tgz: no train\.tags\.de-en\.en"):
        prepare(load_recipe("iwslt14-de-en", ["lm.name=minilm", f"data.archive={path}"]), out)
    assert_nothing_written(out)


def test_lm_that_is_not_wordpiece_compatible(tmp_path, m30k):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    lm = tmp_path / "lm"
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1}, unk_token="[UNK]"))
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                            pad_token="[PAD]").save_pretrained(lm)
    (lm / "config.json").write_text(json.dumps({"model_type": "bert"}))
    out = tmp_path / "runs" / "data"
    with pytest.raises(LMUnavailable, match="not WordPiece-compatible"):
        prepare(load_recipe("multi30k-de-en", [f"lm.name={lm}"]), out, data_dir=m30k)
    assert_nothing_written(out)


def test_a_folder_that_is_not_a_data_dir_is_never_replaced(tmp_path, m30k):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not a prepared data directory; not replacing it"):
        prepare(load_recipe("multi30k-de-en", SMALL), out, data_dir=m30k)
    assert os.listdir(out) == ["notes.txt"]


@pytest.mark.slow
def test_full_demo_recipe(tmp_path):
    """`bertune prepare --pair demo` as shipped: 20,000/500/500 generated pairs (≈10 s)."""
    m = prepare(load_recipe("demo"), tmp_path / "data").manifest
    assert m["cleaning"]["train"]["read"] == 20000
    assert m["splits"]["valid"]["pairs"] == 500 and m["splits"]["test"]["pairs"] == 500
    assert m["splits"]["train"]["pairs"] > 19500 and m["vocab"]["source"] <= 2000
