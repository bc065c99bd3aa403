"""The report's build folder and its publication (core.report.build): one private folder per
build, so two reports made at once into one --out never share or delete each other's work."""
from __future__ import annotations

import os
import stat

from bertune_cli.core.report.build import _private_sibling, _publish


def test_each_build_gets_its_own_hidden_folder_with_mkdir_permissions(tmp_path):
    out = tmp_path / "report"
    a, b = _private_sibling(out, "tmp"), _private_sibling(out, "tmp")
    assert a != b and a.parent == b.parent == tmp_path
    assert a.name.startswith(".report.") and a.name.endswith(".tmp") and not any(a.iterdir())
    umask = os.umask(0)
    os.umask(umask)
    reference = tmp_path / "made-by-mkdir"
    reference.mkdir()
    assert stat.S_IMODE(a.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_publish_replaces_the_old_report_and_leaves_no_hidden_folder(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("old")
    first, second = _private_sibling(out, "tmp"), _private_sibling(out, "tmp")
    (first / "report.json").write_text("first")
    (second / "report.json").write_text("second")
    _publish(first, out)
    assert (out / "report.json").read_text() == "first" and second.is_dir()  # untouched
    _publish(second, out)
    assert (out / "report.json").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
