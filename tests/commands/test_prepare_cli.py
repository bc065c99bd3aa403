"""`bertune prepare` on the command line: sources, output, cache hits, errors and exit codes."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bertune_cli.main import app, main

DE = ["Ein Mann fährt Fahrrad .", "Zwei Hunde spielen im Schnee .", "Ein Kind isst einen Apfel ."]
EN = ["A man rides a bike .", "Two dogs play in the snow .", "A child eats an apple ."]
# not tiny.TINY_DATA: test_demo_json_then_cache_hit checks this smaller demo (10 test pairs)
TINY_DEMO = ["--set", "data.demo_sizes={train: 200, valid: 10, test: 10}",
             "--set", "data.bpe_vocab=120"]


def write(path: Path, lines: list[str]) -> Path:
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def corpus(folder: Path, n: int = 46, stem: str = "c") -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (write(folder / f"{stem}.de.gz", [f"{DE[i % 3]} {i}" for i in range(n)]),
            write(folder / f"{stem}.en", [f"{EN[i % 3]} {i}" for i in range(n)]))


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """Through ``main()``, which maps errors to messages and exit codes."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_demo_json_then_cache_hit(runs_dir):
    runner = CliRunner()
    first = runner.invoke(app, ["prepare", "--pair", "demo", *TINY_DEMO, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["cached"] is False and Path(report["out_dir"]) == runs_dir / "demo" / "data"
    assert report["manifest"]["splits"]["test"]["pairs"] == 10
    second = runner.invoke(app, ["prepare", "--pair", "demo", *TINY_DEMO])
    assert second.exit_code == 0 and "up to date" in second.stdout


def test_src_and_tgt_files_per_split(runs_dir, tmp_path):
    src, tgt = corpus(tmp_path / "raw")
    tsrc, ttgt = corpus(tmp_path / "raw", 5, "t")
    out = tmp_path / "prepared"
    result = CliRunner().invoke(app, [
        "prepare", "--pair", "demo", "--src-file", f"train={src}", "--tgt-file", f"train={tgt}",
        "--src-file", f"test={tsrc}", "--tgt-file", f"test={ttgt}", "--set", "data.bpe_vocab=100",
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    for word in ("train", "valid", "test", "from train", "source BPE vocab"):
        assert word in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s: v["pairs"] for s, v in manifest["splits"].items()} == {"train": 44, "valid": 2,
                                                                      "test": 5}


def test_data_dir_replaces_the_recipe_root(runs_dir, tmp_path):
    raw = tmp_path / "m30k"
    raw.mkdir()
    for split in ("train", "val", "test_2016_flickr"):
        for lang, lines in (("de", DE), ("en", EN)):
            write(raw / f"{split}.{lang}.gz", [f"{lines[i % 3]} {split} {i}" for i in range(30)])
    result = CliRunner().invoke(app, ["prepare", "-p", "multi30k-de-en", "--data-dir", str(raw),
                                      "-s", "data.bpe_vocab=100", "--json"])
    assert result.exit_code == 0, result.output
    splits = json.loads(result.stdout)["manifest"]["splits"]
    assert {s: v["pairs"] for s, v in splits.items()} == {"train": 30, "valid": 30, "test": 30}


@pytest.mark.parametrize("case", ["missing", "counts", "utf8", "csv_columns", "empty_after_clean"])
def test_bad_input_is_one_line_exit_1_and_no_data_dir(case, runs_dir, tmp_path, capsys):
    src, tgt = corpus(tmp_path / "raw")
    if case == "missing":
        tgt = tmp_path / "raw" / "nope.en"
    if case == "counts":
        write(tgt, [f"{EN[0]} {i}" for i in range(45)])
    if case == "utf8":
        tgt.write_bytes(tgt.read_bytes().replace(b"snow", b"sn\xf6w", 1))
    if case == "empty_after_clean":
        write(tgt, ["word " * 30] * 46)
    args = ["prepare", "-p", "demo", "--src-file", f"train={src}", "--tgt-file", f"train={tgt}"]
    if case == "csv_columns":
        csv = tmp_path / "c.csv"
        csv.write_text("source,en,hi\nx,a,b\n", encoding="utf-8")
        args = ["prepare", "-p", "hi-en", "--set", f"data.csv={csv}", "--set", "lm.name=minilm"]
    code, _, err = run_main(args, capsys)
    expected = {"missing": "nope.en", "counts": "has 46 lines but", "utf8": "c.en:2:24: invalid UTF-8 (byte 0xf6)",
                "csv_columns": "c.csv:1: no column", "empty_after_clean": "no training pairs left"}
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error:"), err
    assert expected[case] in lines[0]
    assert not runs_dir.exists()  # not even runs/<recipe>/


def test_bad_file_option_is_a_usage_error(runs_dir, capsys):
    code, _, err = run_main(["prepare", "-p", "demo", "--src-file", "train"], capsys)
    assert code == 2 and "expected SPLIT=PATH" in err
    code, _, err = run_main(["prepare", "-p", "demo", "--data-dir", "/tmp"], capsys)
    assert code == 2 and "does not apply to the demo" in err
