/* revsim what-if page. No library, nothing fetched from elsewhere: the charts are SVG drawn here from the
   numbers the server computes (the same functions as revsim compare and the report's charts).

   Each change is debounced, then answered twice: a preview at a few hundred draws, then the full run. Every
   request carries this page's id and a sequence number; the server drops (and stops) a request that a newer
   one replaced, and the page ignores any answer that is not the latest. */
"use strict";

const C = {
  ink: "#1B2A41", muted: "#5B6B7C", faint: "#9AA6B2", grid: "#E4E8ED", primary: "#1F5AA6", total: "#2D3E50",
  gain: "#2E9B68", gainLight: "#A9DCC0", loss: "#D0485A", lossLight: "#F1B5BD", target: "#D98A00",
  bands: [["p5", "p95", "#DCE7F5"], ["p10", "p90", "#B4CCEB"], ["p25", "p75", "#7FA6DA"]],
};
const DEBOUNCE_MS = 180;
const SHORT_STEPS = { start: "Start", new: "New", expansion: "Expan.", contraction: "Contr.", churn: "Churn", end: "End" };
const MINUS = "\u2212";
const $ = (id) => document.getElementById(id);

const state = {
  meta: null,
  settings: {},        // control id -> setting (only controls moved away from "no change")
  setLines: [],        // the --set lines applied
  seq: 0,
  client: Math.random().toString(36).slice(2, 10) + Date.now().toString(36),
  timer: null,
  controller: null,
  poller: null,
  result: null,
  period: null,
};

/* ------------------------------------------------------------------------------------------------------
   Formatting (as revsim.plot.money writes amounts)
   ------------------------------------------------------------------------------------------------------ */
const PREFIX = { USD: "$", GBP: "\u00a3", JPY: "\u00a5", CNY: "CN\u00a5", INR: "\u20b9", CAD: "CA$", AUD: "A$",
  NZD: "NZ$", HKD: "HK$", SGD: "S$", MXN: "MX$", ILS: "\u20aa", KRW: "\u20a9" };
const DECIMAL_COMMA = new Set(["EUR", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "BRL", "TRY", "RUB", "UAH"]);

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function compact(magnitude, digits) {
  const scales = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
  let scaled = magnitude, suffix = "";
  for (const [limit, s] of scales) {
    if (magnitude >= limit * (1 - 0.5 * Math.pow(10, -digits))) { scaled = magnitude / limit; suffix = s; break; }
  }
  if (scaled === 0) return ["0", suffix];
  let decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(scaled)));
  if (!suffix) decimals = Math.min(decimals, scaled >= 10 ? 0 : 2);
  let text = scaled.toFixed(decimals);
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  if (parseFloat(text) >= 1000 && suffix !== "B") return compact(Math.round(magnitude / 1000) * 1000, digits);
  return [text, suffix];
}

function money(value, currency, { signed = false, digits = 3 } = {}) {
  if (value === null || value === undefined || !isFinite(value)) return "n/a";
  const [number, suffix] = compact(Math.abs(value), digits);
  let text;
  if (PREFIX[currency]) text = PREFIX[currency] + number + suffix;
  else if (DECIMAL_COMMA.has(currency)) text = number.replace(".", ",") + (suffix ? " " + suffix : "") + " " + currency;
  else text = number + suffix + " " + currency;
  const sign = value < 0 && number !== "0" ? MINUS : signed && value > 0 ? "+" : "";
  return sign + text;
}

function setting(value, unit, kind) {
  const sign = value > 0 ? "+" : value < 0 ? MINUS : "\u00b1";
  const a = Math.abs(value);
  if (unit === "percent") return sign + trim((a * 100).toPrecision(4)) + "%";
  if (unit === "points") return sign + trim((a * 100).toFixed(a * 100 < 1 && a > 0 ? 2 : 1)) + " pts";
  if (kind === "absolute") return trim(value.toPrecision(6));
  return sign + trim(a.toPrecision(4));
}
function trim(text) { return text.includes(".") && !text.includes("e") ? text.replace(/0+$/, "").replace(/\.$/, "") : text; }

function monthText(label) {
  const [y, m] = label.split("-");
  return ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][+m - 1] + " " + y;
}
const percent = (p) => (p === null || p === undefined) ? "n/a" : (p > 0 && p < 0.005 ? "<1%" : p > 0.995 && p < 1 ? ">99%" : Math.round(p * 100) + "%");

/* ------------------------------------------------------------------------------------------------------
   Controls
   ------------------------------------------------------------------------------------------------------ */
function buildControls(meta) {
  const holder = $("control-groups");
  holder.innerHTML = "";
  const narrow = window.innerWidth < 900;
  for (const group of meta.groups) {
    const details = document.createElement("details");
    details.className = "group";
    details.open = !narrow || group === meta.groups[0];
    details.dataset.group = group;
    details.innerHTML = `<summary><span>${esc(group)}<span class="count" hidden></span></span></summary>`;
    for (const control of meta.controls.filter((c) => c.group === group)) details.appendChild(controlElement(control));
    holder.appendChild(details);
  }
  const list = $("paths");
  list.innerHTML = meta.paths.map((p) => `<option value="${esc(p)}=">`).join("");
}

function controlElement(control) {
  const box = document.createElement("div");
  box.className = "control";
  box.dataset.id = control.id;
  const id = "c-" + control.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const title = control.hint ? ` title="${esc(control.hint)}"` : "";
  if (control.kind === "switch") {
    box.innerHTML = `<label class="switch"${title}><input type="checkbox" id="${id}"><span>${esc(control.label)}</span></label>
      <div class="control-foot"><span class="values">${esc(control.hint || "")}</span></div><div class="error" hidden></div>`;
    box.querySelector("input").addEventListener("change", (e) => changeSetting(control, e.target.checked));
    return box;
  }
  const span = control.max - control.min;
  const where = (v) => ((v - control.min) / span) * 100;
  const ticks = [`<span style="left:${where(control.neutral)}%"></span>`];
  if (control.default !== null) ticks.push(`<span class="lever" style="left:${where(control.default)}%"></span>`);
  const chip = control.default !== null
    ? `<button type="button" class="chip" title="The lever as written in the scenario">${esc(control.default_text)}</button>` : "";
  box.innerHTML = `
    <div class="control-head"><label for="${id}"${title}>${esc(control.label)}</label><output for="${id}">no change</output></div>
    <input type="range" id="${id}" min="${control.min}" max="${control.max}" step="${control.step}" value="${control.neutral}">
    <div class="ticks" aria-hidden="true">${ticks.join("")}</div>
    <div class="control-foot"><span class="values">${control.base_value ? "now <b>" + esc(control.base_value) + "</b>" : ""}</span>
      ${chip}<button type="button" class="reset-one" title="Back to the base">Reset</button></div>
    <div class="error" hidden></div>`;
  const input = box.querySelector("input");
  input.addEventListener("input", () => changeSetting(control, parseFloat(input.value)));
  input.addEventListener("change", () => schedule(0));
  box.querySelector(".reset-one").addEventListener("click", () => { changeSetting(control, control.neutral); schedule(0); });
  if (chip) box.querySelector(".chip").addEventListener("click", () => { changeSetting(control, control.default); schedule(0); });
  return box;
}

function changeSetting(control, value) {
  if (control.kind === "switch" ? !value : Math.abs(value - control.neutral) < control.step / 2) delete state.settings[control.id];
  else state.settings[control.id] = value;
  showControl(control);
  schedule();
}

function showControl(control) {
  const box = document.querySelector(`.control[data-id="${CSS.escape(control.id)}"]`);
  if (!box) return;
  const moved = control.id in state.settings;
  box.classList.toggle("moved", moved);
  if (control.kind === "switch") { box.querySelector("input").checked = moved; return; }
  const value = moved ? state.settings[control.id] : control.neutral;
  const input = box.querySelector("input");
  if (parseFloat(input.value) !== value) input.value = value;
  box.querySelector("output").textContent = moved ? setting(value, control.unit, control.change_kind) : "no change";
  const span = control.max - control.min;
  const a = ((control.neutral - control.min) / span) * 100, b = ((value - control.min) / span) * 100;
  input.style.setProperty("--from", Math.min(a, b) + "%");
  input.style.setProperty("--to", Math.max(a, b) + "%");
  if (!moved) box.querySelector(".values").innerHTML = control.base_value ? "now <b>" + esc(control.base_value) + "</b>" : "";
  updateGroupCounts();
}

function updateGroupCounts() {
  for (const details of document.querySelectorAll("details.group")) {
    const n = details.querySelectorAll(".control.moved").length;
    const badge = details.querySelector(".count");
    badge.hidden = n === 0;
    badge.textContent = n;
  }
}

function showAllControls() { for (const control of state.meta.controls) showControl(control); }

/* ------------------------------------------------------------------------------------------------------
   Requests
   ------------------------------------------------------------------------------------------------------ */
function schedule(delay = DEBOUNCE_MS) {
  clearTimeout(state.timer);
  saveToAddress();
  state.timer = setTimeout(run, delay);
}

async function run() {
  const seq = ++state.seq;
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  const signal = state.controller.signal;
  const body = { settings: state.settings, set: state.setLines, client: state.client, seq };
  const preview = state.meta.preview_draws < state.meta.draws;
  busy(preview ? `Preview, ${state.meta.preview_draws.toLocaleString("en")} draws\u2026`
               : `Running ${state.meta.draws.toLocaleString("en")} paired draws\u2026`);
  for (const phase of preview ? ["preview", "full"] : ["full"]) {
    let response;
    try {
      response = await fetch("/api/evaluate", {
        method: "POST", headers: { "Content-Type": "application/json" }, signal,
        body: JSON.stringify({ ...body, phase }),
      });
    } catch (error) {
      if (signal.aborted) return;
      return failed("The server does not answer: is revsim serve still running?");
    }
    if (seq !== state.seq) return;
    const answer = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
    if (seq !== state.seq) return;
    if (response.status === 409 && answer.superseded) return;
    if (!response.ok) return refused(answer, response.status);
    clearErrors();
    render(answer);
    if (answer.final) { done(answer); return; }
    busy(`Preview shown; refining to ${state.meta.draws.toLocaleString("en")} draws\u2026`, true);
  }
}

function busy(text, preview = false) {
  $("status-dot").className = "dot busy";
  $("status-text").textContent = text;
  $("results").classList.toggle("preview", preview);
  clearInterval(state.poller);
  $("progress").style.width = "0";
  state.poller = setInterval(pollProgress, 250);
}

async function pollProgress() {
  try {
    const answer = await (await fetch("/api/progress?client=" + encodeURIComponent(state.client))).json();
    if (answer.total > 0) $("progress").style.width = Math.min(100, (100 * answer.done) / answer.total) + "%";
  } catch (error) { /* the next answer says more */ }
}

function stopPolling() { clearInterval(state.poller); state.poller = null; }

function done(answer) {
  stopPolling();
  $("progress").style.width = "0";
  $("status-dot").className = "dot done";
  $("status-text").textContent = `${answer.draws.toLocaleString("en")} paired draws \u00b7 seed ${answer.seed}`;
  $("results").classList.remove("preview", "stale");
}

function failed(message) {
  stopPolling();
  $("status-dot").className = "dot error";
  $("status-text").textContent = message;
  $("results").classList.add("stale");
}

function refused(answer, status) {
  const message = answer.detail || `HTTP ${status}`;
  const source = answer.source || "";
  const box = source && document.querySelector(`.control[data-id="${CSS.escape(source)}"] .error`);
  if (box) { box.textContent = message; box.hidden = false; }
  else if (source === "set" || source === "file") { $("set-error").textContent = message; $("set-error").hidden = false; }
  failed(status >= 500 ? message : box || source === "set" || source === "file"
    ? "Not updated: a change is refused (see the message in the panel)" : message);
}

function clearErrors() {
  for (const box of document.querySelectorAll(".controls .error")) { box.hidden = true; box.textContent = ""; }
}

/* ------------------------------------------------------------------------------------------------------
   Rendering
   ------------------------------------------------------------------------------------------------------ */
function render(p) {
  state.result = p;
  const meta = state.meta;
  const changed = !p.unchanged;
  $("results").classList.remove("stale");
  renderArrCard(p, changed);
  renderTargets(p, changed);
  $("fan-title").textContent = changed ? "ARR forecast: the variant over the base" : "ARR forecast";
  drawFan($("fan"), p, changed);
  renderPeriods(p);
  drawBridge($("bridge"), p.bridges[state.period], p.currency, changed);
  renderKpis(p, changed);
  renderMetrics(p, changed);
  renderInputs(p);
  const notes = [...p.notes.map((n) => `<div>Note: ${esc(n)}</div>`), ...p.warnings.map((w) => `<div class="warning">Warning: ${esc(w)}</div>`)];
  notes.push(`<div>${esc(meta.file)} \u00b7 ${p.draws.toLocaleString("en")} draws, seed ${p.seed}, the same random numbers in both runs \u00b7 revsim serve</div>`);
  $("notes").innerHTML = notes.join("");
}

function renderArrCard(p, changed) {
  const m = p.metrics[0];
  const fan = p.fan;
  const last = fan.months.length - 1;
  const baseMedian = fan.base.p50[last], variantMedian = fan.variant.p50[last];
  const when = monthText(fan.months[last]);
  const cur = p.currency;
  let html = `<div class="eyebrow">ARR in ${esc(when)}, median</div>`;
  if (!changed) {
    html += `<div class="levels"><span class="figure">${esc(money(baseMedian, cur))}</span></div>
      <div class="sentence">8 in 10 draws end between <b>${esc(money(fan.base.p10[last], cur))}</b> and
      <b>${esc(money(fan.base.p90[last], cur))}</b>. Move a slider to compare a variant with this base, draw by draw.</div>`;
    $("arr-card").innerHTML = html;
    return;
  }
  const direction = m.diff_p50 > 0 ? "better" : m.diff_p50 < 0 ? "worse" : "same";
  html += `<div class="levels"><span class="level-base" title="Base">${esc(money(baseMedian, cur))}</span>
      <span class="arrow">\u2192</span><span class="figure" title="Variant">${esc(money(variantMedian, cur))}</span>
      <span class="delta ${direction}" title="Median of the paired difference">${esc(m.median_text)}</span></div>
    <div class="sentence">Difference, draw by draw: median <b>${esc(m.median_text)}</b>; 8 in 10 draws from
      <b>${esc(m.interval_text)}</b>; the variant is ahead in <b>${esc(m.p_better_text)}</b> of draws.
      <span class="muted">Mean ${esc(m.mean_text)} ${esc(m.se_text)} (95%).</span></div>
    <div class="diff-chart" id="diff-chart"></div>`;
  $("arr-card").innerHTML = html;
  drawDifference($("diff-chart"), p.difference, cur);
}

function renderTargets(p, changed) {
  const box = $("targets");
  if (!p.targets.length) {
    box.innerHTML = `<div class="target empty-targets">The scenario has no targets: add a <code>targets:</code> block to see
      the chance of reaching each one.</div>`;
    return;
  }
  box.innerHTML = p.targets.map((t) => {
    const direction = Math.round(t.diff * 100) === 0 ? "same" : t.diff > 0 ? "better" : "worse";
    const probs = changed
      ? `<span class="was" title="Base">${esc(t.p_base_text)}</span><span class="arrow">\u2192</span>
         <span class="now" title="Variant">${esc(t.p_variant_text)}</span><span class="delta ${direction}">${esc(t.diff_text)}</span>`
      : `<span class="now">${esc(t.p_base_text)}</span>`;
    const se = changed ? `<div class="se">Chance of reaching it (the change \u00b1${Math.round(196 * t.diff_se)} pts, 95%)</div>`
      : `<div class="se">Chance of reaching it</div>`;
    const what = t.what === t.name ? "" : `<div class="what">${esc(t.what)}</div>`;
    return `<div class="target"><div class="name">${esc(t.name)}</div>${what}
      <div class="probs">${probs}</div>${se}</div>`;
  }).join("");
}

function renderPeriods(p) {
  if (state.period === null || state.period >= p.bridges.length) state.period = p.bridges.length - 1;
  const box = $("period");
  box.innerHTML = p.bridges.map((b, i) =>
    `<button type="button" data-i="${i}" aria-pressed="${i === state.period}">${esc(b.label)}</button>`).join("");
  for (const button of box.querySelectorAll("button")) {
    button.addEventListener("click", () => { state.period = +button.dataset.i; render(state.result); });
  }
}

function renderKpis(p, changed) {
  const period = p.bridges[state.period];
  const rows = p.kpis.filter((k) => k.month === period.last);
  $("kpi-title").textContent = `KPIs in ${monthText(period.last)}`;
  const head = changed ? "<tr><th>KPI, median</th><th>Base</th><th>Variant</th><th>Change</th></tr>"
    : "<tr><th>KPI</th><th>Median</th><th>8 in 10 draws</th></tr>";
  const body = rows.map((k) => changed
    ? `<tr><td class="name">${esc(k.kpi)}</td><td>${esc(k.base)}</td><td class="variant">${esc(k.variant)}</td>
        <td class="${k.direction}">${esc(k.change)}</td></tr>`
    : `<tr><td class="name">${esc(k.kpi)}</td><td class="variant">${esc(k.base)}</td><td class="muted">${esc(k.base_range)}</td></tr>`);
  $("kpis").innerHTML = `<thead>${head}</thead><tbody>${body.join("")}</tbody>`;
}

function renderMetrics(p, changed) {
  $("metrics-note").textContent = changed
    ? "Variant \u2212 base in each draw, as revsim compare prints it"
    : "No change yet: every difference is zero";
  const rows = p.metrics.map((m) => `<tr><td class="name">${esc(m.label)} <span class="muted small">${esc(monthText(m.month_label))}</span></td>
      <td class="opt">${esc(m.base_mean_text)}</td><td class="opt variant">${esc(m.variant_mean_text)}</td>
      <td class="${changed ? m.direction : "same"}">${esc(m.median_text)}</td>
      <td class="interval">${esc(m.interval_text)}</td><td>${esc(m.p_better_text)}</td></tr>`);
  $("metrics").innerHTML = `<thead><tr><th>Metric</th><th class="opt">Base mean</th><th class="opt">Variant mean</th><th>Median difference</th>
    <th>8 in 10 draws</th><th>Variant ahead</th></tr></thead><tbody>${rows.join("")}</tbody>`;
  $("cli").innerHTML = p.cli ? `The same numbers from the command line: <code>${esc(p.cli)}</code>` : "";
}

function renderInputs(p) {
  for (const row of p.inputs) {
    const box = document.querySelector(`.control[data-id="${CSS.escape(row.control)}"] .values`);
    if (!box || !(row.control in state.settings)) continue;
    const values = row.values.slice(0, 2).map((v) => `${esc(v.base)} \u2192 <b>${esc(v.variant)}</b>`);
    box.innerHTML = values.join("; ") + (row.values.length > 2 ? "\u2026" : "");
    box.title = row.values.map((v) => `${v.label}: ${v.base} \u2192 ${v.variant}`).join("\n");
  }
}

/* ------------------------------------------------------------------------------------------------------
   Charts
   ------------------------------------------------------------------------------------------------------ */
/* The top of an axis from zero: the smallest round value above ``top`` with 4 to 6 round ticks. */
function niceScale(top) {
  let best = null;
  for (const count of [4, 5, 6]) {
    const step = niceStep(top, count);
    const max = Math.ceil(top / step - 1e-9) * step;
    if (!best || max < best.max - 1e-9) best = { max, step };
  }
  return best;
}

/* Room for the money labels of an axis from 0 to ``max``. */
function axisRoom(max, step, currency, fontSize) {
  let longest = 0;
  for (let v = 0; v <= max + 1e-9; v += step) longest = Math.max(longest, money(v, currency).length);
  return Math.ceil(longest * fontSize * 0.62) + 14;
}

function niceStep(range, count) {
  const raw = range / Math.max(1, count);
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const f of [1, 2, 2.5, 5, 10]) if (raw <= f * magnitude) return f * magnitude;
  return 10 * magnitude;
}

function spread(values, gap, low, high) {
  const order = values.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
  const out = order.map(([v]) => v);
  for (let i = 1; i < out.length; i++) out[i] = Math.max(out[i], out[i - 1] + gap);
  if (high !== undefined && out.length && out[out.length - 1] > high) {
    out[out.length - 1] = high;
    for (let i = out.length - 2; i >= 0; i--) out[i] = Math.min(out[i], out[i + 1] - gap);
  }
  if (low !== undefined && out.length && out[0] < low) {
    const shift = low - out[0];
    for (let i = 0; i < out.length; i++) out[i] += shift;
  }
  const result = new Array(values.length);
  order.forEach(([, i], k) => { result[i] = out[k]; });
  return result;
}

const text = (x, y, content, attrs = "") => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(content)}</text>`;
const halo = 'paint-order="stroke" stroke="#fff" stroke-width="4" stroke-linejoin="round"';

function drawFan(el, p, changed) {
  const width = Math.max(320, el.clientWidth || 900);
  const narrow = width < 640;
  const height = narrow ? 300 : Math.round(Math.min(460, Math.max(340, width * 0.36)));
  const fan = p.fan, cur = p.currency, months = fan.months, n = months.length - 1;
  const fs = narrow ? 11.5 : 13;
  const ends = (q) => [q.p90[n], q.p50[n], q.p10[n]];
  const endTexts = narrow
    ? [money(fan.variant.p90[n], cur, { digits: 2 }), money(fan.variant.p50[n], cur), money(fan.variant.p10[n], cur, { digits: 2 })]
    : [`P90 ${money(fan.variant.p90[n], cur)}`, `Median ${money(fan.variant.p50[n], cur)}`, `P10 ${money(fan.variant.p10[n], cur)}`];
  if (changed) endTexts.push(narrow ? money(fan.base.p50[n], cur) : `Base ${money(fan.base.p50[n], cur)}`);
  const right = Math.max(...endTexts.map((t) => t.length)) * fs * 0.6 + 18;
  const moneyTargets = p.targets.filter((t) => (t.metric === "arr" || t.metric === "mrr") && t.value !== null);
  const targetValue = (t) => t.value * (t.metric === "mrr" ? 12 : 1);
  const top = Math.max(...fan.variant.p95, ...fan.base.p95, ...moneyTargets.map(targetValue)) * 1.04;
  const { max: ymax, step } = niceScale(top);
  const m = { left: axisRoom(ymax, step, cur, fs), right, top: 14, bottom: 30 };
  const W = width - m.left - m.right, H = height - m.top - m.bottom;
  const x = (i) => m.left + (i / n) * W;
  const y = (v) => m.top + H - (v / ymax) * H;
  const line = (values) => values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const band = (low, high) => line(high) + low.map((v, i) => [i, v]).reverse().map(([i, v]) => `L${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("") + "Z";
  const parts = [];
  for (let v = 0; v <= ymax + 1e-9; v += step) {
    parts.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${y(v)}" y2="${y(v)}" stroke="${C.grid}"/>`);
    parts.push(text(m.left - 8, y(v) + 4, money(v, cur), `text-anchor="end" font-size="${fs}" fill="${C.muted}"`));
  }
  months.forEach((label, i) => {
    if (label.endsWith("-12") && i < n) {
      parts.push(`<line x1="${x(i)}" x2="${x(i)}" y1="${m.top}" y2="${m.top + H}" stroke="${C.grid}" stroke-dasharray="2 4"/>`);
    }
    if (label.endsWith("-01") || (i === 0 && !label.endsWith("-12"))) {
      parts.push(text(x(i), m.top + H + 19, label.endsWith("-01") ? label.slice(0, 4) : monthText(label), `text-anchor="${i === 0 ? "start" : "middle"}" font-size="${fs}" fill="${C.ink}"`));
    }
  });
  for (const [low, high, colour] of C.bands) parts.push(`<path d="${band(fan.variant[low], fan.variant[high])}" fill="${colour}"/>`);
  parts.push(`<path d="${line(fan.variant.p50)}" fill="none" stroke="${C.primary}" stroke-width="3.2" stroke-linejoin="round"/>`);
  if (changed) {
    for (const q of ["p10", "p90"]) parts.push(`<path d="${line(fan.base[q])}" fill="none" stroke="${C.muted}" stroke-width="1.6" stroke-dasharray="2 3"/>`);
    parts.push(`<path d="${line(fan.base.p50)}" fill="none" stroke="${C.total}" stroke-width="2.4" stroke-dasharray="7 5"/>`);
  }
  parts.push(`<circle cx="${x(0)}" cy="${y(fan.base.p50[0])}" r="4.5" fill="${C.total}"/>`);
  // targets: a dashed line to the month, a diamond, the label with the chances
  const targetYs = moneyTargets.map((t) => y(targetValue(t)));
  const labelYs = spread(targetYs.map((v) => v - 7), fs + 6);
  moneyTargets.forEach((t, k) => {
    const i = months.indexOf(t.at);
    if (i < 0) return;
    const ty = targetYs[k];
    parts.push(`<line x1="${x(0)}" x2="${x(i)}" y1="${ty}" y2="${ty}" stroke="${C.target}" stroke-width="1.8" stroke-dasharray="6 4"/>`);
    parts.push(`<path d="M${x(i)},${ty - 7}L${x(i) + 7},${ty}L${x(i)},${ty + 7}L${x(i) - 7},${ty}Z" fill="${C.target}" stroke="#fff" stroke-width="1.5"/>`);
    const chance = changed ? `${t.p_base_text} \u2192 ${t.p_variant_text}` : t.p_base_text;
    parts.push(text(m.left + 8, labelYs[k], narrow ? `${t.value_text}: ${chance}` : `${t.value_text} by ${t.at_text}: ${chance}`,
      `font-size="${fs + 0.5}" font-weight="700" fill="${C.target}" ${halo}`));
  });
  // end labels, moved apart when close
  const endValues = ends(fan.variant);
  const colours = [C.muted, C.primary, C.muted];
  if (changed) { endValues.push(fan.base.p50[n]); colours.push(C.total); }
  const ys = spread(endValues.map(y), fs + 4, m.top + 6, m.top + H);
  ys.forEach((yy, k) => parts.push(text(m.left + W + 10, yy + 4, endTexts[k],
    `font-size="${fs}" font-weight="${k === 1 ? 700 : 500}" fill="${colours[k]}"`)));
  parts.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${m.top + H}" y2="${m.top + H}" stroke="${C.faint}"/>`);
  parts.push(`<line class="cross" x1="0" x2="0" y1="${m.top}" y2="${m.top + H}" stroke="${C.ink}" stroke-width="1" visibility="hidden"/>`);
  parts.push(`<rect class="hover" x="${m.left}" y="${m.top}" width="${W}" height="${H}" fill="transparent"/>`);
  el.innerHTML = `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${parts.join("")}</svg><div class="tooltip" hidden></div>`;
  legendFan(changed);
  hoverFan(el, p, changed, { x, n, m, W });
}

function legendFan(changed) {
  const items = [`<span><i class="swatch line"></i>Median${changed ? " (variant)" : ""}</span>`,
    `<span><i class="swatch" style="background:#7FA6DA"></i>50%</span>`, `<span><i class="swatch" style="background:#B4CCEB"></i>80%</span>`,
    `<span><i class="swatch" style="background:#DCE7F5"></i>90% of draws</span>`];
  if (changed) items.push(`<span><i class="swatch dash"></i>Base median</span>`, `<span><i class="swatch dot"></i>Base P10\u2013P90</span>`);
  items.push(`<span><i class="swatch goal"></i>Target</span>`);
  $("fan-legend").innerHTML = items.join("");
}

function hoverFan(el, p, changed, g) {
  const svg = el.querySelector("svg"), rect = svg.querySelector(".hover"), cross = svg.querySelector(".cross");
  const tip = el.querySelector(".tooltip"), cur = p.currency, fan = p.fan;
  rect.addEventListener("mousemove", (event) => {
    const box = svg.getBoundingClientRect();
    const scale = box.width / svg.viewBox.baseVal.width;
    const px = (event.clientX - box.left) / scale;
    const i = Math.max(0, Math.min(g.n, Math.round(((px - g.m.left) / g.W) * g.n)));
    cross.setAttribute("x1", g.x(i)); cross.setAttribute("x2", g.x(i)); cross.setAttribute("visibility", "visible");
    const v = fan.variant;
    let html = `<b>${esc(monthText(fan.months[i]))}</b><br>${changed ? "Variant" : "Median"} ${esc(money(v.p50[i], cur))}
      <span style="opacity:.75">(8 in 10: ${esc(money(v.p10[i], cur))}\u2013${esc(money(v.p90[i], cur))})</span>`;
    if (changed) html += `<br>Base ${esc(money(fan.base.p50[i], cur))}`;
    tip.innerHTML = html;
    tip.hidden = false;
    tip.style.left = g.x(i) * scale + "px";
    tip.style.top = (event.clientY - box.top) + "px";
  });
  rect.addEventListener("mouseleave", () => { tip.hidden = true; cross.setAttribute("visibility", "hidden"); });
}

function drawDifference(el, d, cur) {
  const width = Math.max(260, el.clientWidth || 500), height = 92;
  const n = d.months.length - 1;
  const m = { left: 4, right: width < 480 ? 84 : 118, top: 10, bottom: 18 };
  const W = width - m.left - m.right, H = height - m.top - m.bottom;
  const values = [...d.p10, ...d.p90, 0].filter((v) => v !== null);
  const lo = Math.min(...values), hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || 1;
  const y = (v) => m.top + H - ((v - (lo - pad)) / (hi - lo + 2 * pad)) * H;
  const x = (i) => m.left + (i / Math.max(1, n)) * W;
  const line = (arr) => arr.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v ?? 0).toFixed(1)}`).join("");
  const band = line(d.p90) + d.p10.map((v, i) => [i, v]).reverse().map(([i, v]) => `L${x(i).toFixed(1)},${y(v ?? 0).toFixed(1)}`).join("") + "Z";
  const end = d.p50[n] ?? 0;
  const colour = end >= 0 ? C.gain : C.loss;
  el.innerHTML = `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
    <line x1="${m.left}" x2="${m.left + W}" y1="${y(0)}" y2="${y(0)}" stroke="${C.faint}" stroke-dasharray="3 3"/>
    <path d="${band}" fill="${end >= 0 ? C.gainLight : C.lossLight}" opacity="0.7"/>
    <path d="${line(d.p50)}" fill="none" stroke="${colour}" stroke-width="2.4"/>
    ${text(m.left + W + 8, y(end) + 4, money(end, cur, { signed: true }), `font-size="13" font-weight="700" fill="${colour}"`)}
    ${text(m.left, height - 3, width < 480 ? "Difference by month: median, 8 in 10 draws" : "Difference month by month: median and 8 in 10 draws", `font-size="11.5" fill="${C.muted}"`)}
    ${width < 480 ? "" : text(m.left + W, height - 3, monthText(d.months[n]), `font-size="11.5" text-anchor="end" fill="${C.muted}"`)}
  </svg>`;
}

function drawBridge(el, bridge, cur, changed) {
  const width = Math.max(320, el.clientWidth || 600);
  const narrow = width < 560;
  const height = narrow ? 290 : 330;
  const fs = narrow ? 10.5 : 12.5;
  const steps = bridge.steps;
  const highs = steps.flatMap((s) => [s.base.top, s.base.base, s.variant.top, s.variant.base]);
  const { max: ymax, step } = niceScale(Math.max(...highs) * 1.1);
  const m = { left: axisRoom(ymax, step, cur, fs), right: 4, top: 26, bottom: 44 };
  const W = width - m.left - m.right, H = height - m.top - m.bottom;
  const y = (v) => m.top + H - (v / ymax) * H;
  const slot = W / steps.length;
  const tight = slot < 80;
  const barW = changed ? Math.min(34, slot * 0.3) : Math.min(56, slot * 0.5);
  const parts = [];
  for (let v = 0; v <= ymax + 1e-9; v += step) {
    parts.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${y(v)}" y2="${y(v)}" stroke="${C.grid}"/>`);
    parts.push(text(m.left - 8, y(v) + 4, money(v, cur), `text-anchor="end" font-size="${fs}" fill="${C.muted}"`));
  }
  const colour = (s, light) => s.sign === 0 ? (light ? "#A7B3C0" : C.total) : s.sign > 0 ? (light ? C.gainLight : C.gain) : (light ? C.lossLight : C.loss);
  steps.forEach((s, k) => {
    const centre = m.left + slot * (k + 0.5);
    const runs = changed ? [["base", centre - barW / 2 - 2, true], ["variant", centre + barW / 2 + 2, false]] : [["variant", centre, false]];
    for (const [key, cx, light] of runs) {
      const b = s[key];
      const a = Math.min(b.base, b.top), z = Math.max(b.base, b.top);
      parts.push(`<rect x="${(cx - barW / 2).toFixed(1)}" y="${y(z).toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(1, y(a) - y(z)).toFixed(1)}" fill="${colour(s, light)}" rx="2"/>`);
      if (k < steps.length - 1) {
        const next = steps[k + 1][key];
        const level = s.sign === 0 ? b.top : b.top;
        const nx = m.left + slot * (k + 1.5) + (cx - centre);
        if (next && steps[k + 1].sign !== 0) parts.push(`<line x1="${(cx + barW / 2).toFixed(1)}" x2="${(nx - barW / 2).toFixed(1)}" y1="${y(level)}" y2="${y(level)}" stroke="${C.faint}" stroke-dasharray="2 2"/>`);
      }
    }
    const v = s.variant;
    const labelY = y(Math.max(v.base, v.top)) - 7;
    const digits = tight ? 2 : 3;
    const amount = money(v.mean, cur, { digits });
    const shown = (/[1-9]/.test(amount) ? (s.sign > 0 ? "+" : s.sign < 0 ? MINUS : "") : "") + amount;
    const tiny = Math.abs(v.mean) < 0.03 * ymax && s.sign !== 0;
    if (!(tight && tiny)) parts.push(text(changed && !tight ? centre + barW / 2 + 2 : centre, labelY, shown, `text-anchor="middle" font-size="${fs}" font-weight="700" fill="${C.ink}" ${halo}`));
    parts.push(text(centre, m.top + H + 17, tight ? SHORT_STEPS[s.step] || s.label : s.label, `text-anchor="middle" font-size="${fs}" fill="${C.ink}"`));
    const moved = s.variant.mean - s.base.mean;
    if (changed && Math.abs(moved) >= 0.0005 * Math.max(1, Math.abs(s.base.mean))) {
      const better = moved * (s.sign < 0 ? -1 : 1) > 0;
      parts.push(text(centre, m.top + H + 34, money(moved, cur, { signed: true, digits }), `text-anchor="middle" font-size="${fs - 0.5}" font-weight="650" fill="${better ? C.gain : C.loss}"`));
    }
  });
  parts.push(`<line x1="${m.left}" x2="${m.left + W}" y1="${y(0)}" y2="${y(0)}" stroke="${C.faint}"/>`);
  el.innerHTML = `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${parts.join("")}</svg>`;
  $("bridge-legend").innerHTML = changed
    ? `<span>Lighter bars: base; darker: variant; under each step, the variant's change from the base.</span><span>Bars are means over the draws, which add up from start to end.</span>`
    : `<span>Bars are means over the draws, which add up from start to end.</span>`;
}

/* ------------------------------------------------------------------------------------------------------
   The --set field, reset, the address (a reload keeps the changes)
   ------------------------------------------------------------------------------------------------------ */
function applySet() {
  state.setLines = $("set-lines").value.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  $("set-error").hidden = true;
  schedule(0);
}

function reset() {
  state.settings = {};
  state.setLines = [];
  $("set-lines").value = "";
  $("set-error").hidden = true;
  clearErrors();
  showAllControls();
  schedule(0);
}

function saveToAddress() {
  const empty = !Object.keys(state.settings).length && !state.setLines.length;
  const hash = empty ? "" : "#" + encodeURIComponent(JSON.stringify({ s: state.settings, set: state.setLines }));
  history.replaceState(null, "", location.pathname + hash);
}

function loadFromAddress() {
  if (!location.hash) return;
  try {
    const saved = JSON.parse(decodeURIComponent(location.hash.slice(1)));
    const known = new Set(state.meta.controls.map((c) => c.id));
    for (const [id, value] of Object.entries(saved.s || {})) if (known.has(id)) state.settings[id] = value;
    state.setLines = Array.isArray(saved.set) ? saved.set.map(String) : [];
    $("set-lines").value = state.setLines.join("\n");
  } catch (error) { /* an address from elsewhere: start from the base */ }
}

/* ------------------------------------------------------------------------------------------------------
   Saving the variant, exporting its report
   ------------------------------------------------------------------------------------------------------ */
function changesText() {
  const p = state.result;
  if (!p || p.unchanged) return "No change yet: the file will be the base as it is.";
  return "Changes: " + p.changes.map((c) => c.text).join("; ") + ".";
}

function openSave() {
  const meta = state.meta;
  $("save-changes").textContent = changesText();
  $("save-folder").textContent = `(in ${meta.folder}/)`;
  if (!$("save-file").value) $("save-file").value = meta.file_name.replace(/\.ya?ml$/, "") + "-whatif.yaml";
  if (!$("save-name").value) $("save-name").value = `${meta.name} (what-if)`;
  $("save-result").hidden = true;
  $("save-dialog").showModal();
}

async function submitSave(event, overwrite = false) {
  if (event) event.preventDefault();
  const mode = document.querySelector("#save-form input[name=mode]:checked").value;
  const body = { settings: state.settings, set: state.setLines, file_name: $("save-file").value.trim(), mode,
    name: mode === "values" ? $("save-name").value : null, overwrite };
  const result = $("save-result");
  $("save-confirm").disabled = true;
  try {
    const response = await fetch("/api/save", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const answer = await response.json();
    if (response.status === 409 && answer.exists && !overwrite) {
      if (confirm(`${answer.detail}. Replace it?`)) return submitSave(null, true);
      return;
    }
    result.hidden = false;
    result.classList.toggle("error", !response.ok);
    result.innerHTML = response.ok
      ? `Saved <b>${esc(answer.file)}</b>${answer.comments_kept ? "" : " (written out in full: the base's comments could not be kept)"}.<br>
         Run it: <code>${esc(answer.command)}</code>`
      : esc(answer.detail);
  } catch (error) {
    result.hidden = false; result.classList.add("error"); result.textContent = "The server does not answer.";
  } finally { $("save-confirm").disabled = false; }
}

function openReport() {
  $("report-about").textContent = `${changesText()} The report runs the variant at ${state.meta.draws.toLocaleString("en")} draws and draws every chart, which takes a little while.`;
  if (!$("report-name").value) $("report-name").value = state.result && !state.result.unchanged ? `${state.meta.name} (what-if)` : state.meta.name;
  $("report-result").hidden = true;
  $("report-dialog").showModal();
}

async function submitReport(event) {
  event.preventDefault();
  const format = document.querySelector("#report-form input[name=format]:checked").value;
  const result = $("report-result");
  const button = $("report-confirm");
  button.disabled = true;
  button.textContent = "Preparing\u2026";
  result.hidden = true;
  try {
    const response = await fetch("/api/report", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ settings: state.settings, set: state.setLines, format, name: $("report-name").value }) });
    result.hidden = false;
    if (!response.ok) {
      const answer = await response.json().catch(() => ({ detail: `HTTP ${response.status}` }));
      result.classList.add("error"); result.textContent = answer.detail; return;
    }
    const blob = await response.blob();
    const name = (/filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "") || [])[1] || "report." + format;
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    result.classList.remove("error");
    result.textContent = `Downloaded ${name}.`;
  } catch (error) {
    result.hidden = false; result.classList.add("error"); result.textContent = "The server does not answer.";
  } finally { button.disabled = false; button.textContent = "Export"; }
}

/* ------------------------------------------------------------------------------------------------------
   Start
   ------------------------------------------------------------------------------------------------------ */
async function start() {
  let meta;
  try {
    const response = await fetch("/api/scenario");
    meta = await response.json();
    if (!response.ok) throw new Error(meta.detail || `HTTP ${response.status}`);
  } catch (error) {
    failed(`Could not load the scenario: ${error.message}`);
    return;
  }
  state.meta = meta;
  document.title = `${meta.name} \u2014 revsim what-if`;
  $("scenario-name").textContent = meta.name;
  $("scenario-name").title = meta.name;
  $("scenario-meta").textContent = `${meta.file} \u00b7 ${monthText(meta.start)} to ${monthText(meta.horizon)} \u00b7 ${meta.draws.toLocaleString("en")} draws, seed ${meta.seed}`;
  buildControls(meta);
  loadFromAddress();
  showAllControls();
  $("set-apply").addEventListener("click", applySet);
  $("set-lines").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); applySet(); } });
  $("reset").addEventListener("click", reset);
  $("save-open").addEventListener("click", openSave);
  $("save-form").addEventListener("submit", submitSave);
  $("save-cancel").addEventListener("click", () => $("save-dialog").close());
  for (const radio of document.querySelectorAll("#save-form input[name=mode]")) {
    radio.addEventListener("change", () => { $("save-name-row").hidden = radio.value === "levers" && radio.checked; });
  }
  $("report-open").addEventListener("click", openReport);
  $("report-form").addEventListener("submit", submitReport);
  $("report-cancel").addEventListener("click", () => $("report-dialog").close());
  let resized = null;
  window.addEventListener("resize", () => { clearTimeout(resized); resized = setTimeout(() => state.result && render(state.result), 120); });
  schedule(0);
}

document.addEventListener("DOMContentLoaded", start);
