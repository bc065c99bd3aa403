"""Recipe input is untrusted: alias bombs, deep nesting, binary files, thousands of unknown keys
and names that are paths are each one short ConfigError (exit 2), found without expanding or
echoing the value. The CLI cases run the real executable (a traceback or a MemoryError would
show there)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bertune_cli.core.config.input import MAX_DEPTH, MAX_NODES, listed, shown
from bertune_cli.core.config.recipe import load_recipe
from bertune_cli.core.errors import ConfigError

HEAD = "description: x\nsrc: de\ntgt: en\n"


def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """YAML whose last anchor stands for width**levels strings (9**10: 3.5 billion)."""
    lines = ["l0: &l0 [" + ", ".join(["x"] * width) + "]"]
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]"
              for i in range(1, levels)]
    return "\n".join(lines)


def _bertune(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bertune_cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def _one_line(out: subprocess.CompletedProcess) -> str:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert lines[0].startswith("error:") and len(lines[0]) < 600, lines[0][:600]
    return lines[0]


def test_an_alias_bomb_in_a_recipe_is_refused_without_expanding_it(tmp_path):
    """Before: the error path formatted the expanded value with repr: MemoryError (or hours)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(HEAD + alias_bomb() + "\ndata: {demo_sizes: *l9}\n")
    out = _bertune("prepare", "--pair", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert f"expands to more than {MAX_NODES:,} items" in _one_line(out)
    assert not (tmp_path / "runs").exists()


def test_an_alias_bomb_in_a_set_value_is_refused(tmp_path):
    flow = "[&a [1,1,1,1,1,1,1,1,1,1]" + "".join(
        f", &{c} [{', '.join([f'*{p}'] * 10)}]" for p, c in zip("abcde", "bcdef")) + "]"
    out = _bertune("prepare", "--set", f"data.demo_sizes={flow}", "--runs-dir",
                   str(tmp_path / "runs"))
    assert out.returncode == 2
    line = _one_line(out)
    assert "override 'data.demo_sizes': the value expands to more than" in line
    assert "expected a mapping" not in line              # refused, not built and re-reported


def test_a_recursive_alias_is_refused():
    with pytest.raises(ConfigError, match="refers to a value that contains it"):
        load_recipe("demo", ["data.demo_sizes=&a [1, *a]"])


def test_deep_nesting_is_one_line_not_a_recursion_error(tmp_path):
    """Before: RecursionError traceback (recipe file) — 100,000 levels."""
    path = tmp_path / "deep.yaml"
    path.write_text(HEAD + "data: " + "[" * 100_000 + "]" * 100_000 + "\n")
    out = _bertune("prepare", "--pair", str(path))
    assert out.returncode == 2 and "nested too deeply" in _one_line(out)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_recipe("demo", ["data.demo_sizes=" + "[" * 5000 + "]" * 5000])
    # deep but below what the YAML parser survives: refused by the bound, not by luck
    shallow = tmp_path / "shallow.yaml"
    shallow.write_text(HEAD + "data: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n")
    with pytest.raises(ConfigError, match=f"more than {MAX_DEPTH} levels"):
        load_recipe(str(shallow))


def test_a_binary_recipe_file_is_one_line(tmp_path):
    """Before: UnicodeDecodeError traceback."""
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01binary\x80\x81")
    out = _bertune("prepare", "--pair", str(path))
    assert out.returncode == 2
    assert "not a text file (byte 0xff at offset 0 is not UTF-8)" in _one_line(out)


def test_a_huge_file_is_not_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ConfigError, match="is not a recipe"):
        load_recipe(str(path))


def test_twenty_thousand_unknown_keys_name_a_few_and_count_the_rest(tmp_path):
    """Before: one 2.3 MB error line listing every key and the known keys 20,000 times."""
    path = tmp_path / "keys.yaml"
    path.write_text(HEAD + "".join(f"k{i}: 1\n" for i in range(20_000)))
    out = _bertune("prepare", "--pair", str(path))
    line = _one_line(out)
    assert out.returncode == 2
    assert "unknown keys k0, k1, k2, k3, k4 and 19,995 more (known: name, description" in line
    with pytest.raises(ConfigError) as info:
        load_recipe(str(path))
    assert len(info.value.problems) == 1          # one problem per section, not per key


def test_many_problems_are_capped_in_the_message_and_kept_in_problems(tmp_path):
    path = tmp_path / "sizes.yaml"
    path.write_text(HEAD + "data:\n  demo_sizes:\n" +
                    "".join(f"    s{i}: many\n" for i in range(50)))
    with pytest.raises(ConfigError) as info:
        load_recipe(str(path))
    assert len(info.value.problems) == 50
    assert str(info.value).count("expected an integer") == 10
    assert "and 40 more problems" in str(info.value)


def test_a_long_value_is_shown_cut(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_recipe("demo", ["train.lr=" + "x" * 100_000])
    assert len(str(info.value)) < 400 and "..." in str(info.value)


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "a/b", ".", "..", "", "a b", "x" * 101])
def test_a_recipe_name_is_a_name_not_a_path(name, tmp_path):
    with pytest.raises(ConfigError, match="is not a recipe name") as info:
        load_recipe("demo", [f"name='{name}'"])
    assert info.value.exit_code == 2


def test_a_name_that_is_a_path_writes_nothing_outside_the_runs_dir(tmp_path):
    """Before: --set name=../../x and `name:` in a recipe file wrote the run outside
    --runs-dir (exit 0)."""
    runs = tmp_path / "a" / "b" / "runs"
    path = tmp_path / "named.yaml"
    path.write_text("name: ../../../escaped\n" + HEAD)
    for args in (["--set", "name=../../escaped"], ["--pair", str(path)]):
        out = _bertune("prepare", *args, "--runs-dir", str(runs))
        assert out.returncode == 2 and "is not a recipe name" in _one_line(out)
    assert [p.name for p in tmp_path.rglob("*")] == ["named.yaml"]


def test_a_pair_name_never_leaves_the_recipes_folder(tmp_path):
    (tmp_path / "evil.yaml").write_text(HEAD)
    traversal = "../" * 12 + str(tmp_path / "evil").lstrip("/")  # recipes/../../../tmp/.../evil
    with pytest.raises(ConfigError, match="unknown recipe or pair"):
        load_recipe(traversal)


def test_shown_and_listed():
    assert shown(list(range(10**6))) == "[0, 1, 2, 3, ...]"
    assert len(shown("é" * 10_000)) <= 80 and "\n" not in shown("a\nb")
    assert listed(range(3)) == "0, 1, 2"
    assert listed(range(10), 2, more="keys") == "0, 1 and 8 keys"
