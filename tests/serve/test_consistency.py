"""A sentence's translation never depends on what else is decoded with it: alone, in a list,
next to a long sentence, through `bertune translate`, or in a server's dynamic batch, with
both engines. The models are barely trained, so most outputs run on until their length cap
(a·source length + b) with near-ties everywhere: exactly where a cap taken from the batch's
longest sentence, or padding, would change an output."""
from __future__ import annotations

import concurrent.futures
from dataclasses import replace

import httpx
import pytest
import torch
from typer.testing import CliRunner

from bertune_cli.core.translation import Translator
from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def ct2_one_thread():
    """CTranslate2 on one thread (two spinning threads crawl on a shared 2-core machine)."""
    pytest.importorskip("ctranslate2")
    import bertune_cli.core.engines.ct2_engine as ct2_engine

    before = ct2_engine.cpu_cores
    ct2_engine.cpu_cores = lambda: 1
    yield
    ct2_engine.cpu_cores = before


@pytest.fixture(scope="module")
def ct2_home(tmp_path_factory):
    """$BERTUNE_HOME for the on-the-fly CTranslate2 exports."""
    import os

    home = tmp_path_factory.mktemp("ct2-home")
    before = os.environ.get("BERTUNE_HOME")
    os.environ["BERTUNE_HOME"] = str(home)
    yield home
    if before is None:
        os.environ.pop("BERTUNE_HOME", None)
    else:
        os.environ["BERTUNE_HOME"] = before


def _check(translator: Translator, lines: list[str]) -> int:
    """Each line's output alone, in the list, in the reversed list and next to the longest
    line is the same (ids; scores to float rounding of the padded teacher-forced pass).
    Returns how many lines decode up to their own length cap (so that the cap decides them)."""
    opts = translator.options()
    alone = [translator.translate([line], opts, return_scores=True)[0][0] for line in lines]
    listed = [h[0] for h in translator.translate(lines, opts, return_scores=True)]
    assert [h.ids for h in listed] == [h.ids for h in alone]
    assert [h.score for h in listed] == pytest.approx([h.score for h in alone], abs=1e-3)
    texts = [h.text for h in alone]
    longest = max(lines, key=len)
    others = {"reversed list": translator.translate(lines[::-1], opts)[::-1],
              "next to the longest": [translator.translate([line, longest], opts)[0]
                                      for line in lines]}
    for mode, got in others.items():
        differ = [i for i, (a, b) in enumerate(zip(got, texts)) if a != b]
        assert not differ, f"{mode}: {len(differ)} lines differ from alone, e.g. line " \
                           f"{differ[0] + 1}: {got[differ[0]]!r} vs {texts[differ[0]]!r}"
    caps = [translator.length_cap(len(s), opts.max_len_a, opts.max_len_b)
            for s in translator.encode(lines, 1, warn=False)]
    assert all(h.tokens <= cap for h, cap in zip(alone, caps))
    return sum(h.tokens == cap for h, cap in zip(alone, caps))


@pytest.mark.parametrize("model", ["runaway_tiny_run", "demo_arch_run"])
def test_torch_engine_alone_list_and_neighbours_give_the_same_output(model, request,
                                                                     test_lines):
    translator = Translator.load(request.getfixturevalue(model), "cpu")
    lines = test_lines if model == "runaway_tiny_run" else test_lines[:10]
    assert _check(translator, lines) >= len(lines) // 2  # most are decided by their cap


def test_ct2_engine_alone_list_and_neighbours_give_the_same_output(runaway_tiny_run, test_lines,
                                                                   ct2_one_thread, ct2_home):
    translator = Translator.load(runaway_tiny_run, "cpu", engine="ct2")
    assert _check(translator, test_lines) >= len(test_lines) // 2


@pytest.mark.slow
def test_ct2_engine_on_the_demo_model(demo_arch_run, test_lines, ct2_one_thread, ct2_home):
    translator = Translator.load(demo_arch_run, "cpu", engine="ct2")
    assert _check(translator, test_lines) >= len(test_lines) // 2


def test_the_cli_writes_what_each_sentence_gets_alone(runaway_tiny_run, test_lines, tmp_path):
    from bertune_cli.main import app

    src = tmp_path / "in.de"
    src.write_text("\n".join(test_lines) + "\n", encoding="utf-8")
    out = tmp_path / "out.en"
    result = CliRunner().invoke(app, ["translate", "-m", str(runaway_tiny_run), "-i", str(src),
                                      "-o", str(out), "--device", "cpu", "--batch-tokens", "64"])
    assert result.exit_code == 0, result.output
    translator = Translator.load(runaway_tiny_run, "cpu")
    alone = [translator.translate([line], options=translator.options())[0] for line in test_lines]
    assert out.read_text(encoding="utf-8").splitlines() == alone


def test_the_server_answers_what_each_sentence_gets_alone(live, demo_arch_run, test_lines):
    """One-sentence requests from 10 concurrent clients (batched together by the server), and
    one request with the whole list, give each sentence its solo translation."""
    translator = Translator.load(demo_arch_run, "cpu")
    alone = [translator.translate([line], options=translator.options())[0] for line in test_lines]
    settings = replace(describe_model(demo_arch_run, ServeSettings()), max_wait_ms=200,
                       max_queue=1024)
    app = create_app(translator, settings)
    with live(app) as server, httpx.Client(base_url=server.url, timeout=120,
                                           limits=httpx.Limits(max_connections=10)) as http:
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            answers = list(pool.map(lambda line: http.post(
                "/translate", json={"sentence": line}).json()["translated_sentence"],
                test_lines))
        listed = http.post("/translate", json={"q": test_lines}).json()["translatedText"]
        metrics = http.get("/metrics").text
    assert answers == alone
    assert listed == alone
    calls = float(next(line.split()[-1] for line in metrics.splitlines()
                       if line.startswith("bertune_batch_sentences_count")))
    assert calls < len(test_lines) + 1  # some requests did share a model call
