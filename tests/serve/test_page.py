"""The web page in a real browser (headless Chromium via chromedriver) against a live server."""
from __future__ import annotations

import httpx
import pytest

from bertune_cli.serve.app import create_app
from bertune_cli.serve.loading import describe_model
from bertune_cli.serve.settings import ServeSettings

EVIL = '<img src=x onerror="window.__pwned=1"><b>bold</b>'


def _translate_in_page(browser, url: str, text: str, details: bool):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url + "/")
    if details:
        browser.find_element(By.ID, "details").click()
    box = browser.find_element(By.ID, "source")
    box.send_keys(text)
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#output .sentence"))
    if details:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#panel .detail"))
    return By


def test_ctrl_enter_translates_and_shows_confidence_and_the_heatmap(browser, live, tiny_run,
                                                                    tiny_translator,
                                                                    test_lines):
    from bertune_cli.core.explain import explain

    line = test_lines[0]
    want = explain(tiny_translator, [line], attention=True, options=tiny_translator.options())[0]
    app = create_app(tiny_translator, describe_model(tiny_run, ServeSettings()))
    with live(app) as server:
        By = _translate_in_page(browser, server.url, line, details=True)
        words = browser.find_elements(By.CSS_SELECTOR, "#output .word")
        assert [w.text for w in words] == [w["text"] for w in want["confidence"]["words"]]
        probs = [float(w.get_attribute("data-prob")) for w in words]
        assert probs == pytest.approx([w["prob"] for w in want["confidence"]["words"]])
        matrix = want["attention"]["matrix"]
        cells = browser.find_elements(By.CSS_SELECTOR, "table.attention tbody td")
        assert len(cells) == len(matrix) * len(matrix[0])
        assert float(cells[0].get_attribute("data-weight")) == pytest.approx(matrix[0][0])
        assert "MC-dropout" in browser.find_element(By.ID, "panel").text
        assert "German" in browser.find_element(By.ID, "pair").text
        # what the model was trained on, and a sentence of its corpus to start from
        model = browser.find_element(By.ID, "model").text
        assert "Trained on: recipe demo: Embedded German->English demo corpus" in model
        assert browser.find_element(By.ID, "source").get_attribute("placeholder") == \
            f"e.g. {line}  (Ctrl+Enter)"
        assert not browser.find_element(By.ID, "engine-note").is_displayed()
        # offline by construction: every resource the page loaded came from this server
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(r.startswith(server.url) for r in resources)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors


def test_under_the_ct2_engine_the_page_translates_and_says_why_it_cannot_explain(
        browser, live, tiny_run, test_lines, tmp_path, monkeypatch):
    pytest.importorskip("ctranslate2")
    from bertune_cli.core.translation import Translator

    monkeypatch.setenv("BERTUNE_HOME", str(tmp_path))  # the on-the-fly export goes here
    translator = Translator.load(tiny_run, "cpu", engine="ct2")
    want = translator.translate(test_lines[:2], options=translator.options())
    app = create_app(translator, describe_model(tiny_run, ServeSettings(engine="ct2")))
    with live(app) as server:
        By = _translate_in_page(browser, server.url, "\n".join(test_lines[:2]), details=False)
        assert [p.text for p in browser.find_elements(By.CSS_SELECTOR, "#output .sentence")] \
            == want
        assert not browser.find_element(By.ID, "details").is_enabled()
        note = browser.find_element(By.ID, "engine-note")
        assert note.is_displayed() and "need the torch engine" in note.text
        assert "Trained on: recipe demo" in browser.find_element(By.ID, "model").text
        assert "error" not in browser.find_element(By.ID, "status").get_attribute("class")
        metrics = httpx.get(server.url + "/metrics").text
    assert 'route="/explain"' not in metrics  # the page never asked for explanations
    assert 'bertune_requests_total{route="/translate",status="200"} 1.0' in metrics


def test_model_output_is_shown_as_text_never_as_markup(browser, live, fake, monkeypatch):
    import bertune_cli.core.explain as core_explain

    def evil_explain(translator, lines, **options):
        return [{"translation": EVIL,
                 "confidence": {"words": [{"text": EVIL, "prob": 0.4, "min_prob": 0.3,
                                           "tokens": [0]}],
                                "mean_prob": 0.4, "min_prob": 0.3, "logprob": -1.0,
                                "logprob_per_token": -1.0},
                 "attention": {"layer": 0, "heads": 1, "source": [EVIL], "target": [EVIL],
                               "alignment": [0], "matrix": [[1.0]]},
                 "mc_dropout": {"passes": 2, "seed": 0, "logprob_mean": -1.0,
                                "logprob_var": 0.0, "bleu_mean": 0.0, "exact_match": 0.0,
                                "outputs": [EVIL + "2"]}} for _ in lines]

    monkeypatch.setattr(core_explain, "explain", evil_explain)
    with live(create_app(fake, ServeSettings())) as server:
        By = _translate_in_page(browser, server.url, "harmlos", details=True)
        assert browser.execute_script("return document.querySelectorAll('img, b').length") == 0
        assert browser.execute_script("return window.__pwned === undefined")
        assert EVIL in browser.find_element(By.ID, "output").text
        assert EVIL + "2" in browser.find_element(By.ID, "panel").text


def test_docs_render_swagger_ui_from_this_server(browser, live, fake):
    """/docs is Swagger UI from the swagger-ui-bundle package: it renders the API's operations
    with every resource from this server (FastAPI's default loads it from a CDN)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with live(create_app(fake, ServeSettings())) as server:
        browser.get(server.url + "/docs")
        WebDriverWait(browser, 60).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        paths = {e.text.strip() for e in
                 browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert {"/translate", "/explain", "/languages", "/health"} <= paths
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(r.startswith(server.url) for r in resources), resources
