// The bertune page. With an engine that can explain (torch): POST /explain, then draw the
// words (shaded by confidence), the MC-dropout uncertainty and the attention heatmap. With one
// that cannot (ct2, as GET /health says): POST /translate, plain sentences, and a note saying
// why there are no explanations. Model output is untrusted text: it only ever goes into the
// page through textContent / createTextNode, never as markup.
"use strict";

const MC_PASSES = 8;
const $ = (id) => document.getElementById(id);
const server = { explain: true };  // filled from GET /health
let serverKnown = Promise.resolve();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fmt(x, digits = 3) {
  return typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "–";
}

function setStatus(text, isError = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// ------------------------------------------------------------------ translation
function renderSentence(result) {
  const p = el("p", "sentence");
  const conf = result.confidence;
  const words = conf && conf.words && conf.words.length ? conf.words : null;
  if (!words) {
    p.appendChild(document.createTextNode(result.translation || ""));
    return p;
  }
  words.forEach((w, i) => {
    if (i) p.appendChild(document.createTextNode(" "));
    const span = el("span", "word", w.text);
    const prob = typeof w.prob === "number" ? w.prob : 1;
    // Shade = how unsure the model was: a confident word stays unshaded.
    span.style.backgroundColor = `rgba(var(--warn), ${(0.85 * (1 - prob)).toFixed(3)})`;
    span.title = `p = ${fmt(prob)}  (weakest piece ${fmt(w.min_prob)})`;
    span.dataset.prob = String(prob);
    p.appendChild(span);
  });
  p.appendChild(el("span", "stats", `mean p ${fmt(conf.mean_prob)} · min p ${fmt(conf.min_prob)}`
    + ` · log p / token ${fmt(conf.logprob_per_token)}`));
  return p;
}

function renderUncertainty(result) {
  const mc = result.mc_dropout;
  if (!mc || mc.logprob_mean === null || mc.logprob_mean === undefined) return null;
  const box = el("div", "uncertainty");
  box.appendChild(el("h4", null, `MC-dropout uncertainty (${mc.passes} passes, seed ${mc.seed})`));
  const dl = el("dl");
  const rows = [
    ["log p of the output", `${fmt(mc.logprob_mean)} ± ${fmt(Math.sqrt(mc.logprob_var))}`],
    ["variance of log p", fmt(mc.logprob_var)],
    ["agreement (BLEU)", fmt(mc.bleu_mean, 1)],
    ["same output", `${fmt(100 * mc.exact_match, 0)} %`],
  ];
  rows.forEach(([name, value]) => { dl.appendChild(el("dt", null, name)); dl.appendChild(el("dd", null, value)); });
  box.appendChild(dl);
  const distinct = [...new Set(mc.outputs || [])].filter((o) => o !== result.translation).slice(0, 4);
  if (distinct.length) {
    box.appendChild(el("h4", null, "other outputs under dropout"));
    const ul = el("ul", "samples");
    distinct.forEach((o) => ul.appendChild(el("li", null, o)));
    box.appendChild(ul);
  }
  return box;
}

// Source BPE pieces start words with U+2581; show words bare and continuations with a dot.
function sourceLabel(piece) {
  if (piece === "</s>") return piece;
  return piece.startsWith("\u2581") ? piece.slice(1) : `\u00b7${piece}`;
}

function renderHeatmap(result) {
  const att = result.attention;
  if (!att || !att.matrix || !att.matrix.length) return null;
  const wrap = el("div", "heatmap");
  wrap.appendChild(el("h4", null, `Cross-attention, layer ${att.layer} (${att.heads} heads averaged)`));
  const table = el("table", "attention");
  table.setAttribute("aria-label", "attention heatmap: output pieces by source pieces");
  const head = table.createTHead().insertRow();
  head.appendChild(el("th"));
  att.source.forEach((s) => head.appendChild(el("th", null, sourceLabel(s))));
  const body = table.createTBody();
  att.matrix.forEach((row, t) => {
    const tr = body.insertRow();
    tr.appendChild(el("th", null, att.target[t]));
    row.forEach((weight, s) => {
      const td = tr.insertCell();
      td.style.backgroundColor = `rgba(var(--heat), ${Math.min(1, weight).toFixed(3)})`;
      td.title = `${att.target[t]} \u2192 ${sourceLabel(att.source[s])}: ${fmt(weight)}`;
      td.dataset.weight = String(weight);
    });
  });
  wrap.appendChild(table);
  return wrap;
}

function render(results, withDetails) {
  $("output").replaceChildren(...results.map(renderSentence));
  const panel = $("panel");
  panel.hidden = !withDetails;
  panel.replaceChildren();
  if (!withDetails) return;
  results.forEach((r, k) => {
    const card = el("article", "detail");
    card.appendChild(el("h3", null, results.length > 1 ? `${k + 1}. ${r.translation}` : r.translation));
    const row = el("div", "detail-row");
    [renderUncertainty(r), renderHeatmap(r)].forEach((part) => { if (part) row.appendChild(part); });
    card.appendChild(row);
    panel.appendChild(card);
  });
}

// ------------------------------------------------------------------ requests
let busy = false;

async function translate() {
  const lines = $("source").value.split("\n").map((l) => l.trim()).filter((l) => l);
  if (!lines.length || busy) return;
  await serverKnown;  // which endpoint to call depends on the engine
  const withDetails = $("details").checked;
  busy = true;
  $("go").disabled = true;
  setStatus("translating…");
  const started = performance.now();
  const headers = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) headers["Authorization"] = `Bearer ${key}`;
  try {
    // POST /explain where the engine can explain, else LibreTranslate's POST /translate
    const request = server.explain
      ? { url: "/explain", body: { q: lines, confidence: true, attention: withDetails,
                                   mc_dropout: withDetails ? MC_PASSES : 0 } }
      : { url: "/translate", body: { q: lines } };
    const response = await fetch(request.url, {
      method: "POST", headers, body: JSON.stringify(request.body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      throw new Error(`${response.status} ${data.error || ""}: ${data.detail || response.statusText}`
        + (retry ? ` (retry in ${retry} s)` : ""));
    }
    const results = server.explain ? data.results
      : data.translatedText.map((text) => ({ translation: text }));
    render(results, withDetails && server.explain);
    setStatus(`${lines.length} sentence${lines.length > 1 ? "s" : ""} in `
      + `${((performance.now() - started) / 1000).toFixed(2)} s`);
  } catch (err) {
    setStatus(String(err.message || err), true);
  } finally {
    busy = false;
    $("go").disabled = false;
  }
}

async function showPair() {
  try {
    const langs = await (await fetch("/languages")).json();
    const src = langs.find((l) => l.targets && l.targets.length);
    if (src) $("pair").textContent = `${src.name} → ${langs.find((l) => l.code === src.targets[0])?.name || src.targets[0]}`;
  } catch (err) { /* the pair label is decoration */ }
}

// What the server can do and what its model knows: GET /health.
async function showModel() {
  let health;
  try {
    health = await (await fetch("/health")).json();
  } catch (err) { return; }  // keep the defaults: /explain
  server.explain = health.explain !== false;
  if (health.corpus) {
    const info = $("model");
    info.replaceChildren(el("b", null, "Trained on: "), document.createTextNode(
      `${health.corpus} It translates text like its training corpus; other text comes out `
      + "as nonsense."));
    info.hidden = false;
  }
  if (health.example) $("source").placeholder = `e.g. ${health.example}  (Ctrl+Enter)`;
  if (!server.explain) {
    $("details").checked = false;
    $("details").disabled = true;
    $("details-label").classList.add("off");
    $("legend").hidden = true;
    $("output-hint").textContent = "plain translation";
    $("about").hidden = true;  // it explains numbers this engine does not give
    const note = $("engine-note");
    note.textContent = `This server decodes with the ${health.engine} engine, which cannot `
      + "explain its output: confidence, attention and uncertainty need the torch engine "
      + "(bertune serve --engine torch).";
    note.hidden = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("go").addEventListener("click", translate);
  $("source").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      translate();
    }
  });
  $("details").addEventListener("change", () => { if ($("output").childElementCount) translate(); });
  showPair();
  serverKnown = showModel();
});
