/* evflex explorer: sliders → POST /api/run → Plotly.react.
 *
 * The page state (scenario, region, funnel year, overrides) lives in the URL's query
 * string, so a view can be shared: ?scenario=base&region=Europe&v2g_enrolled.end=0.6.
 * An override key is "parameter.target" (every region; set while the region picker shows
 * World) or "parameter/Region.target" (one region; set while that region is shown).
 *
 * Only the latest state is ever requested: moves made while a request is in flight are
 * folded into one follow-up request. window.evflex exposes the revision drawn and the
 * time from each input to its redrawn charts (for the tests and the benchmark).
 */
"use strict";

const DEFAULT_YEAR = 2050;
const WORLD = "World";
const evflex = (window.evflex = { revision: 0, timings: [], last: null, checksRevision: 0,
                                   busy: false, errors: 0 });

let meta = null;            // GET /api/scenarios
let state = { scenario: "base", region: WORLD, year: DEFAULT_YEAR, overrides: {} };
let statesUnit = "share";
let pendingSince = null;    // time of the latest input not yet drawn
let inflight = false;
let keepError = false;      // the error of a refused view stays while its recovery is drawn

const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ URL state
function readUrl() {
  const q = new URLSearchParams(window.location.search);
  const out = { scenario: "base", region: WORLD, year: DEFAULT_YEAR, overrides: {} };
  for (const [key, value] of q.entries()) {
    if (key === "scenario") out.scenario = value;
    else if (key === "region") out.region = value;
    else if (key === "year") out.year = Number(value);
    else out.overrides[key] = Number(value);
  }
  return out;
}

function queryString() {
  const q = new URLSearchParams();
  q.set("scenario", state.scenario);
  if (state.region !== WORLD) q.set("region", state.region);
  if (state.year !== DEFAULT_YEAR) q.set("year", String(state.year));
  for (const key of Object.keys(state.overrides).sort()) {
    q.set(key, String(state.overrides[key]));
  }
  return q.toString();
}

function writeUrl() {
  const qs = queryString();
  window.history.replaceState(null, "", qs ? `?${qs}` : window.location.pathname);
  for (const [id, file] of [["dl-workbook", "workbook.xlsx"], ["dl-report", "report.html"],
                            ["dl-tables", "tables.zip"]]) {
    $(id).href = `/download/${file}?${qs}`;
  }
}

function requestBody() {
  const overrides = {};
  for (const [key, value] of Object.entries(state.overrides)) {
    const dot = key.lastIndexOf(".");
    const where = key.slice(0, dot), target = key.slice(dot + 1);
    (overrides[where] = overrides[where] || {})[target] = value;
  }
  return { scenario: state.scenario, region: state.region, funnel_year: state.year,
           overrides };
}

// ------------------------------------------------------------------ controls
// World and the blocks (EU27, Europe, ...) are sums of regions: their sliders set every
// region, as World's do.
function isAggregate(region) {
  return region === WORLD || (currentScenario().aggregates || []).includes(region);
}

function scopedKey(control) {
  return isAggregate(state.region) ? control.key
    : `${control.parameter}/${state.region}.${control.target}`;
}

function formatValue(control, value) {
  if (value === null || value === undefined) return "–";
  if (control.unit === "fraction") return `${(100 * value).toFixed(1)} %`;
  if (control.target === "steepness") return value.toFixed(2);
  return `${value.toFixed(1)} ${control.unit}`;
}

function buildControls() {
  const aside = $("controls");
  aside.querySelectorAll("fieldset").forEach((f) => f.remove());
  const groups = new Map();
  for (const c of meta.controls) {
    if (!groups.has(c.group)) {
      const fs = document.createElement("fieldset");
      const lg = document.createElement("legend");
      lg.textContent = c.group;
      fs.appendChild(lg);
      groups.set(c.group, fs);
      aside.appendChild(fs);
    }
    const div = document.createElement("div");
    div.className = "control";
    div.dataset.key = c.key;
    div.title = `${c.description}` + (c.denominator ? ` (share of: ${c.denominator})` : "");
    const id = `ctl-${c.key.replace(/[^a-z0-9]/gi, "-")}`;
    div.innerHTML = `<div class="top"><label class="name" for="${id}"></label>
      <output for="${id}"></output><button type="button" class="undo"
      title="Back to the scenario's value">↺</button></div>
      <input type="range" id="${id}" min="${c.min}" max="${c.max}" step="${c.step}">
      <div class="regions"></div>`;
    div.querySelector("label").textContent = c.label;
    div.querySelector(".undo").setAttribute("aria-label", `Back to the scenario's ${c.label}`);
    const input = div.querySelector("input");
    input.addEventListener("input", () => {
      const t0 = performance.now();
      const value = Number(input.value);
      state.overrides[scopedKey(c)] = value;
      div.querySelector("output").textContent = formatValue(c, value);
      input.setAttribute("aria-valuetext", formatValue(c, value));
      div.classList.add("changed");
      changed(t0);
    });
    div.querySelector(".undo").addEventListener("click", () => {
      delete state.overrides[scopedKey(c)];
      changed(performance.now());
    });
    groups.get(c.group).appendChild(div);
  }
}

function updateControls(data) {
  for (const c of meta.controls) {
    const div = document.querySelector(`.control[data-key="${c.key}"]`);
    const input = div.querySelector("input");
    const info = data.controls[c.key] || { value: null, by_region: null };
    const key = scopedKey(c);
    const own = Object.prototype.hasOwnProperty.call(state.overrides, key);
    const value = own ? state.overrides[key] : info.value;
    if (value !== null) {
      if (value < Number(input.min)) input.min = String(value);
      if (value > Number(input.max)) input.max = String(value);
      if (document.activeElement !== input || !own) input.value = String(value);
    }
    input.disabled = value === null;
    div.querySelector("output").textContent = formatValue(c, value);
    input.setAttribute("aria-valuetext", formatValue(c, value));
    div.classList.toggle("changed", own);
    const regions = div.querySelector(".regions");
    if (info.by_region && isAggregate(state.region)) {
      regions.textContent = byRegionText(c, info.by_region);
    } else {
      regions.textContent = "";
    }
  }
  const elsewhere = Object.keys(state.overrides).filter((k) => {
    const where = k.slice(0, k.lastIndexOf("."));
    const region = where.includes("/") ? where.split("/")[1] : WORLD;
    return region !== (isAggregate(state.region) ? WORLD : state.region);
  });
  $("scope-hint").textContent = (isAggregate(state.region)
    ? "Sliders set every region at once. Pick a region to set its own numbers."
    : `Sliders set ${state.region} only.`) +
    (elsewhere.length ? ` ${elsewhere.length} more override(s) set in another view.` : "");
}

function markChanged() {
  for (const c of meta ? meta.controls : []) {
    const div = document.querySelector(`.control[data-key="${c.key}"]`);
    if (div) div.classList.toggle("changed",
      Object.prototype.hasOwnProperty.call(state.overrides, scopedKey(c)));
  }
}

// ------------------------------------------------------------------ pickers
function fillSelect(select, options, value) {
  select.innerHTML = "";
  for (const [v, label] of options) {
    const o = document.createElement("option");
    o.value = String(v);
    o.textContent = label;
    select.appendChild(o);
  }
  select.value = String(value);
}

function currentScenario() {
  return meta.scenarios.find((s) => s.name === state.scenario) || meta.scenarios[0];
}

function buildPickers() {
  fillSelect($("scenario"), meta.scenarios.map((s) => [s.name, `${s.name} (v${s.version})`]),
             state.scenario);
  const sc = currentScenario();
  const blocks = (sc.aggregates || []).map((b) => [b, `${b} (sum)`]);
  const labels = sc.region_labels || {};
  const regions = Object.keys(labels).length ? Object.entries(labels)  // sorted by name
    : sc.regions.map((r) => [r, r]);
  fillSelect($("region"), [[WORLD, WORLD], ...blocks, ...regions], state.region);
  const years = [];
  for (let y = Math.max(sc.years.history_end + 1, 2025); y <= sc.years.end; y += 5) years.push(y);
  if (!years.includes(state.year)) years.push(state.year);
  years.sort((a, b) => a - b);
  fillSelect($("year"), years.map((y) => [y, String(y)]), state.year);
  fillSelect($("metric"), Object.entries(meta.style.capacity_units)
    .map(([m, u]) => [m, `${m.replaceAll("_", " ")} [${u}]`]), $("metric").value || "v2g_export_power");
  $("scenario-description").textContent = sc.description;
}

// ------------------------------------------------------------------ requests
function changed(t0) {
  keepError = false;
  writeUrl();
  pendingSince = t0;
  if (!inflight) pump();
}

async function pump() {
  inflight = true;
  evflex.busy = true;
  $("status").classList.add("busy");
  while (pendingSince !== null) {
    const t0 = pendingSince;
    pendingSince = null;
    const body = requestBody();
    try {
      const res = await fetch("/api/run", { method: "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json" } });
      const data = await res.json();
      if (!res.ok) {
        const lines = showError(data);
        const dropped = recover(lines);
        if (dropped.length) {
          // Draw the nearest valid view: the same one without what the server refused.
          $("error").textContent += `\nShowing the nearest valid view, without ${dropped.join(", ")}.`;
          keepError = true;
          writeUrl();
          pendingSince = pendingSince === null ? t0 : pendingSince;
        } else {
          $("status").textContent = "Not drawn: the view was refused (see the message).";
        }
        continue;
      }
      const tFetch = performance.now();
      await draw(data);
      await new Promise((r) => requestAnimationFrame(() => r()));
      const t1 = performance.now();
      scheduleChecks(body);
      evflex.revision += 1;
      evflex.last = data;
      evflex.timings.push({ ms: t1 - t0, fetch_ms: tFetch - t0, server_ms: data.timing_ms.total,
                            engine_ms: data.timing_ms.engine, cached: !!data.timing_ms.cached });
      $("status").textContent = `updated in ${(t1 - t0).toFixed(0)} ms (engine ` +
        `${data.timing_ms.engine.toFixed(0)} ms, server ${data.timing_ms.total.toFixed(0)} ms)` +
        (data.changes.length ? ` · ${data.changes.length} number(s) changed from ` +
         `${data.scenario} v${data.version}` : ` · ${data.scenario} v${data.version} as shipped`);
      if (!keepError) $("error").hidden = true;
      document.body.dataset.revision = String(evflex.revision);
      updateUncertaintyNote();
    } catch (err) {
      showError({ messages: [`request failed: ${err}`] });
      $("status").textContent = "Not drawn: the server did not answer (see the message).";
    }
  }
  inflight = false;
  evflex.busy = false;
  $("status").classList.remove("busy");
}

function showError(data) {
  evflex.errors += 1;
  markChanged();
  const lines = data.messages || (data.detail || []).map((d) => `${(d.loc || []).join(".")}: ${d.msg}`);
  $("error").textContent = lines.join("\n") || "invalid request";
  $("error").hidden = false;
  return lines;
}

/* What the server refused, taken out of the view: the overrides its messages name
 * (``overrides.KEY[.TARGET]: ...``), an unknown region or year, an unknown scenario. When
 * no message names a field, every override goes (the shipped scenario is valid). Returns
 * what was dropped; nothing when there is nothing left to drop. */
function recover(lines) {
  const dropped = [];
  const drop = (key) => { delete state.overrides[key]; dropped.push(key); };
  for (const line of lines) {
    const field = line.slice(0, line.indexOf(":"));
    if (field.startsWith("overrides.")) {
      const named = field.slice("overrides.".length);
      for (const key of Object.keys(state.overrides)) {
        if (key === named || key.slice(0, key.lastIndexOf(".")) === named) drop(key);
      }
    } else if (field === "region" && state.region !== WORLD) {
      dropped.push(`region ${state.region}`);
      state.region = WORLD;
    } else if (field === "funnel_year" && state.year !== DEFAULT_YEAR) {
      dropped.push(`funnel year ${state.year}`);
      state.year = DEFAULT_YEAR;
    } else if (field === "scenario" && meta && state.scenario !== meta.scenarios[0].name) {
      dropped.push(`scenario ${state.scenario}`);
      state.scenario = meta.scenarios[0].name;
    }
  }
  if (!dropped.length) {
    for (const key of Object.keys(state.overrides)) drop(key);
  }
  if (dropped.length && meta) {
    buildPickers();
  }
  return dropped;
}

// What a slider set for every region holds now, grouped by value: "85.0 % in 40
// regions; 80.0 % in GB, NO" (a list of 46 regions one by one was unreadable).
function byRegionText(c, byRegion) {
  const groups = new Map();
  for (const [region, v] of Object.entries(byRegion)) {
    const text = formatValue(c, v);
    if (!groups.has(text)) groups.set(text, []);
    groups.get(text).push(region);
  }
  const n = Object.keys(byRegion).length;
  if (groups.size === 1) return `sets every region; now ${[...groups.keys()][0]} in all ${n}`;
  return "sets every region; now " + [...groups.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([v, rs]) => (rs.length > 6 ? `${v} in ${rs.length} regions` : `${v} in ${rs.join(", ")}`))
    .join("; ");
}

let checksRequest = 0;
let checksTimer = null;
// The judgement of a view is asked for once the view has been drawn and no newer input
// came for CHECKS_IDLE_MS: it is a full run with the judgement (~1.5 s at country
// resolution) and shares the server's engine slot, so asking for it on every slider step
// made each next step wait behind it (slider-to-redraw 1.8 s at country resolution).
const CHECKS_IDLE_MS = 200;

function scheduleChecks(body) {
  clearTimeout(checksTimer);
  $("judgement").classList.add("stale");
  checksTimer = setTimeout(() => {
    if (pendingSince === null && !evflex.busy) loadChecks(body);
  }, CHECKS_IDLE_MS);
}

async function loadChecks(body) {
  const ticket = ++checksRequest;
  $("judgement").setAttribute("aria-busy", "true");
  $("judgement").classList.add("stale");
  try {
    const res = await fetch("/api/checks", { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json" } });
    if (ticket !== checksRequest) return;  // a newer view was asked for
    if (!res.ok) {
      $("judgement-note").textContent = "No judgement for this view (the view was refused).";
      return;
    }
    renderChecks(await res.json());
    evflex.checksRevision = evflex.revision;
    evflex.checksDrawn = (evflex.checksDrawn || 0) + 1;
  } finally {
    if (ticket === checksRequest) {
      $("judgement").setAttribute("aria-busy", "false");
      $("judgement").classList.remove("stale");
    }
  }
}

// ------------------------------------------------------------------ drawing
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const CONFIG = { displaylogo: false, responsive: true,
                 modeBarButtonsToRemove: ["select2d", "lasso2d"] };

function layout(extra) {
  const base = {
    font: { family: FONT, size: 12 }, margin: { l: 64, r: 16, t: 12, b: 44 },
    plot_bgcolor: "#fff", paper_bgcolor: "#fff", hovermode: "x unified",
    xaxis: { gridcolor: "#e5e5e5", linecolor: "#999", showline: true, zeroline: false },
    yaxis: { gridcolor: "#e5e5e5", linecolor: "#999", showline: true, zeroline: false },
    legend: { orientation: "h", y: -0.14, traceorder: "normal" },
  };
  for (const [k, v] of Object.entries(extra)) {
    base[k] = (typeof v === "object" && !Array.isArray(v) && base[k]) ? { ...base[k], ...v } : v;
  }
  return base;
}

function projectionLine(data) {
  return { type: "line", xref: "x", yref: "paper", x0: data.history_end + 0.5,
           x1: data.history_end + 0.5, y0: 0, y1: 1,
           line: { color: "#888", width: 1, dash: "dot" } };
}

function statesFigure(data) {
  const share = statesUnit === "share";
  const traces = data.states.map((s) => ({
    type: "scatter", mode: "lines", stackgroup: "states", name: s.label, meta: s.state,
    x: data.years, y: share ? s.share.map((v) => 100 * v) : s.vehicles.map((v) => v / 1e6),
    line: { width: 0.5, color: s.colour }, fillcolor: s.colour,
    hovertemplate: share ? `%{y:.1f} %<extra>${s.label}</extra>`
      : `%{y:,.1f} M<extra>${s.label}</extra>`,
  }));
  if (share && data.reference) {
    // The shipped scenario's stack, as dotted boundaries between the states.
    let cum = data.years.map(() => 0);
    const xs = [], ys = [];
    for (const s of data.states.slice(0, -1)) {
      cum = cum.map((v, i) => v + 100 * (data.reference.share[s.state][i] || 0));
      xs.push(...data.years, null);
      ys.push(...cum, null);
    }
    traces.push({ type: "scatter", mode: "lines", name: "shipped scenario", x: xs, y: ys,
                  line: { color: "#222", width: 1, dash: "dot" }, hoverinfo: "skip" });
  }
  return {
    data: traces,
    layout: layout({
      yaxis: share ? { title: { text: `share of the EV stock [%] (${data.region})` },
                       range: [0, 100], ticksuffix: " %" }
        : { title: { text: `EVs in stock [million] (${data.region})` } },
      xaxis: { title: { text: "year" } },
      shapes: [projectionLine(data)],
      legend: { orientation: "h", y: -0.16 },
      margin: { l: 64, r: 16, t: 12, b: 70 },
    }),
  };
}

function funnelFigure(data) {
  const rows = data.funnel;
  const colours = rows.map((r) => r.stage === "deliverable" ? meta.style.deliverable
                                                            : meta.style.funnel);
  const text = rows.map((r) => r.power_gw === null
    ? `${fmt(r.energy_gwh, 1)} GWh · ${fmt(r.vehicles / 1e6, 2)} M EVs`
    : `${fmt(r.energy_gwh, 1)} GWh · ${fmt(r.power_gw, 1)} GW at the peak`);
  return {
    data: [{ type: "bar", orientation: "h", y: rows.map((r) => r.label),
             x: rows.map((r) => Math.max(r.energy_gwh || 0, 1e-3)),
             customdata: rows.map((r) => [r.vehicles]), marker: { color: colours },
             text, textposition: "outside", cliponaxis: false,
             hovertemplate: "%{y}<br>%{x:,.1f} GWh<br>%{customdata[0]:,.0f} vehicles<extra></extra>" }],
    layout: layout({
      xaxis: { type: "log", title: { text: `battery energy [GWh], log scale · ${data.region}, ${data.funnel_year}` },
               dtick: 1, tickformat: ",.0f" },
      yaxis: { autorange: "reversed", automargin: true },
      margin: { l: 200, r: 200, t: 12, b: 44 }, hovermode: "closest", showlegend: false,
    }),
  };
}

function capacityFigure(data) {
  const metric = $("metric").value || "v2g_export_power";
  const series = data.capacity[metric];
  const traces = [{ type: "scatter", mode: "lines", name: "this view", x: data.years,
                    y: series.values, line: { color: meta.style.states.v2g, width: 2 },
                    hovertemplate: `%{y:,.3~f} ${series.unit}<extra>this view</extra>` }];
  if (data.reference) {
    traces.push({ type: "scatter", mode: "lines", name: "shipped scenario", x: data.years,
                  y: data.reference.capacity[metric], line: { color: "#555", width: 1.5, dash: "dash" },
                  hovertemplate: `%{y:,.3~f} ${series.unit}<extra>shipped</extra>` });
  }
  return {
    data: traces,
    layout: layout({
      yaxis: { title: { text: `${metric.replaceAll("_", " ")} [${series.unit}]` }, rangemode: "tozero" },
      xaxis: { title: { text: `year · ${data.region}` } },
      shapes: [projectionLine(data)], showlegend: !!data.reference,
      legend: { orientation: "v", x: 0.01, y: 0.99, bgcolor: "rgba(255,255,255,0.8)" },
    }),
  };
}

function fmt(v, digits) {
  if (v === null || v === undefined) return "–";
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function renderHeadline(data) {
  const rows = data.headline;
  const th = rows.map((r) => `<th>${r.year}</th>`).join("");
  let html = `<tr><th>${data.region}</th>${th}</tr>`;
  html += `<tr><td>EV stock [million]</td>${rows.map((r) => `<td>${fmt(r.ev_stock / 1e6, 1)}</td>`).join("")}</tr>`;
  html += `<tr><td>EV share of the stock</td>${rows.map((r) => `<td>${fmt(100 * r.ev_stock_share, 1)} %</td>`).join("")}</tr>`;
  for (const s of data.states) {
    html += `<tr><td><span class="swatch" style="background:${s.colour}"></span>${s.label}</td>` +
      rows.map((r) => `<td>${fmt(100 * r.shares[s.state], 1)} %</td>`).join("") + "</tr>";
  }
  html += `<tr><td>V2G export at the peak [GW]</td>${rows.map((r) => `<td>${fmt(r.v2g_export_power_gw, 1)}</td>`).join("")}</tr>`;
  $("headline").innerHTML = html;
  const changes = data.changes.map((c) => `${c.parameter}${c.region ? "/" + c.region : ""}.` +
    `${c.target}: ${c.old} → ${c.new}`);
  $("changes").textContent = changes.length ? `Changed from the shipped scenario: ${changes.join("; ")}` : "";
}

function esc(text) {
  const d = document.createElement("div");
  d.textContent = text;
  return d.innerHTML;
}

//: Verdict fills, as the workbook and the report draw them (evflex.outputs.content).
const VERDICT_FILLS = { scaling: "#B7E1CD", progressing: "#D9EAD3", "niche-valid": "#FFF2CC",
                        stalled: "#F4CCCC", "activity-only": "#EAD1DC" };
const PATHWAYS = { smart_charging: "Smart charging", grid_managed: "Grid demand management",
                   v2h_v2b: "V2H / V2B", v2g: "V2G export" };

function ruleText(rule) {
  // "scaling: growth >= 0.15 and markets >= 2" -> "growth ≥ 0.15, markets ≥ 2"
  const body = String(rule || "").replace(/^[a-z-]+: /, "");
  return body.replaceAll(">=", "≥").replaceAll("<=", "≤").replaceAll(" and ", ", ");
}

function checkRows(rows) {
  return rows.map((c) => `<tr><td>${esc(c.check)}</td><td class="${c.status === "pass" ? "pass" : "fail"}">` +
    `${esc(c.status)}</td><td>${c.value === null ? "" : esc(c.value.toPrecision(4))}</td>` +
    `<td>${esc(c.limit)}</td><td>${esc(c.detail)}</td></tr>`).join("");
}

function renderChecks(data) {
  const failed = data.checks.filter((c) => c.status !== "pass");
  const passed = data.checks.filter((c) => c.status === "pass");
  $("checks-failed").querySelector("tbody").innerHTML = checkRows(failed);
  $("checks-failed").hidden = failed.length === 0;
  $("checks").querySelector("tbody").innerHTML = checkRows(passed);
  $("checks-passed-summary").textContent = `Show the ${passed.length} checks that pass`;
  const counts = {};
  for (const c of failed) counts[c.status] = (counts[c.status] || 0) + 1;
  $("checks-summary").textContent = `Denominator checks: ${passed.length} of ` +
    `${data.checks.length} pass` + (failed.length ? "; " + Object.entries(counts)
      .map(([status, n]) => `${n} ${status}`).join(", ") + " (listed below)." : ".");
  $("judgement-title").textContent = data.scorecard ? "Scorecard and denominator checks"
    : "Denominator checks";
  $("judgement-note").textContent = data.note;
  const sc = $("scorecard");
  if (data.scorecard && data.scorecard.length) {
    sc.querySelector("tbody").innerHTML = data.scorecard.map((r) => {
      const verdict = String(r.verdict ?? "");
      const read = String(r.evidence ?? "").split(" | ").map((x) => `<li>${esc(x)}</li>`).join("");
      return `<tr><td class="pathway">${esc(PATHWAYS[r.pathway] || String(r.pathway))}</td>` +
        `<td><span class="verdict" style="background:${VERDICT_FILLS[verdict] || "#eee"}">` +
        `${esc(verdict)}</span></td><td>${esc(ruleText(r.rule))}</td>` +
        `<td><details><summary>evidence and reasons</summary><ul>${read}</ul>` +
        `<p>${esc(String(r.reasons ?? ""))}</p></details></td></tr>`;
    }).join("");
    sc.hidden = false;
  } else {
    sc.hidden = true;
  }
}

function describeCharts(data) {
  const last = data.years.length - 1;
  const year = data.years[last];
  $("desc-states").textContent = `Stacked area, ${data.region}, ${data.years[0]} to ${year}. ` +
    `In ${year}: ` + data.states.map((s) => `${s.label} ${fmt(100 * s.share[last], 1)} %`).join(", ") + ".";
  const metric = $("metric").value || "v2g_export_power";
  const series = data.capacity[metric];
  $("desc-capacity").textContent = `Line, ${metric.replaceAll("_", " ")} [${series.unit}], ` +
    `${data.region}: ${fmt(series.values[last], 1)} ${series.unit} in ${year}.`;
}

async function draw(data) {
  renderHeadline(data);
  updateControls(data);
  const figs = [["chart-states", statesFigure(data)], ["chart-funnel", funnelFigure(data)],
                ["chart-capacity", capacityFigure(data)]];
  await Promise.all(figs.map(([id, f]) => Plotly.react(id, f.data, f.layout, CONFIG)));
  describeCharts(data);
  for (const [id] of figs) $(id).dataset.revision = String(evflex.revision + 1);
}

// ------------------------------------------------------------------ uncertainty
let mcResult = null;

function updateUncertaintyNote() {
  const sc = currentScenario();
  const stale = mcResult && mcResult.query !== queryString();
  $("mc-run").disabled = sc.distributions === 0;
  $("mc-note").textContent = sc.distributions === 0
    ? `${sc.name} has no distributions to draw; pick a scenario with them (` +
      `${meta.scenarios.filter((s) => s.distributions > 0).map((s) => s.name).join(", ")}) ` +
      "for a Monte Carlo of this view."
    : (mcResult ? `${mcResult.data.draws} draws of ${mcResult.data.varied.length} numbers ` +
       `(seed ${mcResult.data.seed}) in ${(mcResult.data.timing_ms / 1000).toFixed(1)} s; ` +
       "numbers set by a slider are fixed. " + mcResult.data.notes.join("; ") +
       (stale ? " · the view changed since: run again." : "")
       : `${sc.distributions} numbers of ${sc.name} have distributions: run a Monte Carlo ` +
         "of this view (each slider you set fixes its number).");
  $("chart-uncertainty").classList.toggle("stale", !!stale);
}

function rgba(hex, alpha) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function uncertaintyFigure() {
  const d = mcResult.data;
  const state = $("mc-state").value || "v2g";
  const q = d.share[state];
  const colour = meta.style.states[state];
  const pct = (xs) => xs.map((v) => (v === null ? null : 100 * v));
  const band = (lo, hi, name, opacity) => [
    { type: "scatter", mode: "lines", x: d.years, y: pct(q[lo]), line: { width: 0 },
      hoverinfo: "skip", showlegend: false },
    { type: "scatter", mode: "lines", x: d.years, y: pct(q[hi]), fill: "tonexty", name,
      line: { width: 0 }, fillcolor: rgba(colour, opacity),
      hovertemplate: `%{y:.1f} %<extra>${name}</extra>` }];
  const traces = [...band("p05", "p95", "p05–p95", 0.2), ...band("p25", "p75", "p25–p75", 0.4),
    { type: "scatter", mode: "lines", x: d.years, y: pct(q.p50), name: "median",
      line: { color: colour, width: 2 }, hovertemplate: "%{y:.1f} %<extra>median</extra>" }];
  if (evflex.last && evflex.last.region === d.region) {
    const s = evflex.last.states.find((x) => x.state === state);
    traces.push({ type: "scatter", mode: "lines", x: evflex.last.years, y: pct(s.share),
                  name: "this view (central)", line: { color: "#222", width: 1, dash: "dot" },
                  hovertemplate: "%{y:.1f} %<extra>central</extra>" });
  }
  return { data: traces, layout: layout({
    yaxis: { title: { text: `${meta.style.labels[state]} [% of EVs] (${d.region})` },
             rangemode: "tozero", ticksuffix: " %" },
    xaxis: { title: { text: "year" } }, hovermode: "x unified" }) };
}

async function runMonteCarlo() {
  $("mc-run").disabled = true;
  $("mc-run").textContent = "running…";
  const query = queryString();
  try {
    const res = await fetch("/api/uncertainty", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...requestBody(), draws: Number($("mc-draws").value) }) });
    const data = await res.json();
    if (!res.ok) { showError(data); return; }
    mcResult = { data, query };
    $("chart-uncertainty").hidden = false;
    const f = uncertaintyFigure();
    await Plotly.react("chart-uncertainty", f.data, f.layout, CONFIG);
    evflex.mcDraws = data.draws;
  } finally {
    $("mc-run").textContent = "Run Monte Carlo";
    updateUncertaintyNote();
  }
}

// ------------------------------------------------------------------ start
async function start() {
  state = readUrl();
  const res = await fetch("/api/scenarios");
  meta = await res.json();
  if (!meta.scenarios.some((s) => s.name === state.scenario)) {
    showError({ messages: [`scenario: unknown scenario (got ${JSON.stringify(state.scenario)}, ` +
      `expected one of ${meta.scenarios.map((s) => s.name).join(", ")})`] });
    state.scenario = meta.scenarios[0].name;
  }
  buildPickers();
  buildControls();
  $("scenario").addEventListener("change", (e) => {
    state.scenario = e.target.value;
    buildPickers();
    changed(performance.now());
  });
  $("region").addEventListener("change", (e) => { state.region = e.target.value; changed(performance.now()); });
  $("year").addEventListener("change", (e) => { state.year = Number(e.target.value); changed(performance.now()); });
  $("metric").addEventListener("change", () => {
    if (evflex.last) {
      const f = capacityFigure(evflex.last);
      Plotly.react("chart-capacity", f.data, f.layout, CONFIG);
      describeCharts(evflex.last);
    }
  });
  for (const b of document.querySelectorAll("[data-states-unit]")) {
    b.addEventListener("click", () => {
      statesUnit = b.dataset.statesUnit;
      document.querySelectorAll("[data-states-unit]").forEach((x) => {
        x.classList.toggle("active", x === b);
        x.setAttribute("aria-pressed", String(x === b));
      });
      if (evflex.last) {
        const f = statesFigure(evflex.last);
        Plotly.react("chart-states", f.data, f.layout, CONFIG);
      }
    });
  }
  fillSelect($("mc-state"), Object.entries(meta.style.labels), "v2g");
  $("mc-run").addEventListener("click", () => runMonteCarlo());
  $("mc-state").addEventListener("change", () => {
    if (mcResult) {
      const f = uncertaintyFigure();
      Plotly.react("chart-uncertainty", f.data, f.layout, CONFIG);
    }
  });
  $("reset").addEventListener("click", () => { state.overrides = {}; changed(performance.now()); });
  $("copy-link").addEventListener("click", async () => {
    const url = window.location.href;
    try {
      await navigator.clipboard.writeText(url);
      $("copy-link").textContent = "Link copied";
    } catch (err) {
      window.prompt("Link to this view:", url);
    }
    setTimeout(() => { $("copy-link").textContent = "Copy link"; }, 1500);
  });
  changed(performance.now());
}

start().catch((err) => showError({ messages: [`cannot start: ${err}`] }));
