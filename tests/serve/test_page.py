"""The web page in a real browser (headless Chromium via chromedriver) against a live server."""
from __future__ import annotations

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
    want = explain(tiny_translator, [line], attention=True, **tiny_translator.options())[0]
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
        # offline by construction: every resource the page loaded came from this server
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert resources and all(r.startswith(server.url) for r in resources)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors


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
