#include "cutover/control/dashboard.h"

namespace cutover {

namespace {

// Kept as one literal: the page has no build step and no assets of its own.
constexpr std::string_view kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cutover</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 12px 20px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #phase { font-weight: 600; padding: 2px 10px; border-radius: 10px; background: #3b82f6; }
  #phase.switched { background: #16a34a; } #phase.stopped, #phase.undo_failed, #phase.halted, #phase.failed { background: #dc2626; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 20px; }
  section { min-width: 0; background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; height: 8px; background: #3b82f6; border-radius: 4px; }
  .bad { color: #dc2626; } .good { color: #16a34a; }
  button { font: inherit; padding: 6px 14px; margin-right: 8px; border-radius: 6px; border: 1px solid #1d2330; background: #fff; cursor: pointer; }
  #message { margin-top: 8px; min-height: 1.4em; }
  canvas { width: 100%; height: 200px; }
  .scroll { overflow-x: auto; max-width: 100%; }
  button:disabled { opacity: .4; cursor: default; }
  dl.budget { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 8px; } dl.budget dd { margin: 0; }
  .timeline span { display: inline-block; height: 18px; color: #fff; font-size: 11px; padding-left: 4px; overflow: hidden; white-space: nowrap; }
</style>
</head>
<body>
<header><h1>cutover <span id="plan"></span></h1><span id="phase">loading</span>
  <span>direction <b id="direction">-</b></span><span>lag <b id="lag">-</b></span>
  <span>applied <b id="applied">-</b></span><span id="rate"></span></header>
<main>
  <section id="failure" hidden><h2>Pipeline failed</h2><div id="failed" class="bad"></div><p id="failed_next"></p></section>
  <section id="retrying" hidden><h2>Restarting</h2><div id="retry"></div></section>
  <section id="schema" hidden><h2>Changes on the source</h2><div id="halted" class="bad"></div><ul id="notices"></ul></section>
  <section><h2>Replication slot on the source</h2><div id="slot">-</div><div id="slot_warning" class="bad"></div>
    <details><summary>What the plan holds (cutover cleanup removes it)</summary><ul id="holds"></ul></details></section>
  <section><h2>Lag, the last hour (kept by cutover run)</h2><canvas id="chart" width="800" height="200" data-samples="0"></canvas></section>
  <section><h2>Readiness</h2><dl class="budget">
    <dt>max_lag</dt><dd id="budget_lag">-</dd><dt>freeze_timeout</dt><dd id="budget_freeze">-</dd>
    <dt>drain_timeout</dt><dd id="budget_drain">-</dd><dt>lag now</dt><dd id="lag_now">-</dd></dl>
    <div class="scroll" id="guardrails">Dry run to check every guardrail.</div></section>
  <section><h2>Errors and restarts</h2><div id="errors">none</div></section>
  <section><h2>Tables</h2><table><thead><tr><th>source</th><th>target</th><th>snapshot</th><th class="n">rows applied</th></tr></thead>
    <tbody id="tables"></tbody></table></section>
  <section><h2>Last verification</h2><div id="verification">none yet</div></section>
  <section><h2>Last cutover</h2><div id="cutover">none yet</div></section>
  <section><h2>Actions</h2>
    <button id="verify">Verify</button><button id="dryrun">Dry run</button><button id="switch">Switch to green</button>
    <button id="rollback">Roll back to blue</button><button id="abort">Abort</button>
    <button id="pause">Pause</button><button id="resume">Resume</button>
    <div id="message"></div></section>
</main>
<script>
"use strict";
let lagHistory = {samples: [], max_lag_seconds: 0};
let token = sessionStorage.getItem("cutover-token") || "";
const $ = (id) => document.getElementById(id);
const text = (value) => (value === null || value === undefined) ? "-" : String(value);
function escapeHtml(value) {
  return text(value).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
// Lag seconds (blue, left axis) and MiB (orange, right axis) over the last hour, with the
// plan's max_lag as a dashed red line: the switch's lag guardrail.
function drawChart() {
  const canvas = $("chart"), g = canvas.getContext("2d");
  const samples = lagHistory.samples || [];
  canvas.dataset.samples = samples.length;
  g.clearRect(0, 0, canvas.width, canvas.height);
  const left = 48, right = canvas.width - 52, top = 12, bottom = canvas.height - 24;
  const now = Date.now(), start = now - 3600 * 1000;
  const maxLag = Number(lagHistory.max_lag_seconds || 0);
  const seconds = Math.max(1, maxLag * 1.2, ...samples.map((p) => p[1]));
  const mib = Math.max(1, ...samples.map((p) => p[2] / 1048576));
  const x = (ms) => left + (ms - start) / (now - start) * (right - left);
  const y = (value, scale) => bottom - value / scale * (bottom - top);
  g.strokeStyle = "#9ca3af"; g.lineWidth = 1; g.fillStyle = "#4b5563"; g.font = "11px sans-serif";
  g.beginPath(); g.moveTo(left, top); g.lineTo(left, bottom); g.lineTo(right, bottom); g.lineTo(right, top); g.stroke();
  for (let m = 0; m <= 60; m += 15) {
    const at = x(start + m * 60000);
    g.fillText(m === 60 ? "now" : "-" + (60 - m) + " min", at - 16, bottom + 14);
  }
  for (const f of [0, 0.5, 1]) {
    g.fillText((seconds * f).toFixed(1) + " s", 4, y(seconds * f, seconds) + 4);
    g.fillText((mib * f).toFixed(1) + " MiB", right + 4, y(mib * f, mib) + 4);
  }
  if (maxLag > 0) {
    g.strokeStyle = "#dc2626"; g.setLineDash([6, 4]); g.beginPath();
    g.moveTo(left, y(maxLag, seconds)); g.lineTo(right, y(maxLag, seconds)); g.stroke(); g.setLineDash([]);
    g.fillStyle = "#dc2626"; g.fillText("max_lag " + maxLag.toFixed(1) + " s", left + 4, y(maxLag, seconds) - 4);
  }
  for (const [index, scale, color] of [[1, seconds, "#3b82f6"], [2, mib * 1048576, "#f59e0b"]]) {
    if (samples.length < 1) break;
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    samples.forEach((p, i) => { const py = y(p[index], scale); i ? g.lineTo(x(p[0]), py) : g.moveTo(x(p[0]), py); });
    g.stroke();
  }
}
async function refreshLag() {
  try {
    const answer = await fetch("/api/v1/lag_history", {cache: "no-store"});
    lagHistory = await answer.json();
    drawChart();
  } catch (error) { /* the status refresh says the run is unreachable */ }
}
function renderTables(tables) {
  $("tables").innerHTML = (tables || []).map((t) => {
    const s = t.snapshot;
    const known = (value) => value !== null && value !== undefined;
    const share = !s ? 0 : known(s.percent) ? s.percent : (s.chunks ? 100 * s.chunks_done / s.chunks : 0);
    const snapshot = !s ? "-" : '<span class="bar" style="width:' + Math.round(share) + 'px"></span> ' +
      text(Number(s.rows) + Number(s.rows_copying || 0)) + " rows" + (known(s.percent) ? " (" + s.percent + "%)" : "") +
      (s.chunks_done < s.chunks ? ", " + text(s.rows_per_second) + " rows/s" +
       (known(s.eta_seconds) ? ", about " + Math.round(s.eta_seconds) + " s left" : "") : "");
    return "<tr><td>" + escapeHtml(t.source) + "</td><td>" + escapeHtml(t.target) + "</td><td>" + snapshot +
           '</td><td class="n">' + escapeHtml(t.rows_applied) + "</td></tr>";
  }).join("");
}
function renderVerification(v) {
  if (!v) { $("verification").textContent = "none yet"; return; }
  if (v.state === "running") {
    const p = v.progress || {};
    const known = (value) => value !== null && value !== undefined;
    $("verification").innerHTML = "running " + escapeHtml(v.id) + ": " + (p.table ? escapeHtml(p.table) + " " : "") +
      (known(p.percent) ? p.percent + "%, " : "") + text(p.rows) + " of about " + text(p.estimated_rows) +
      " rows of blue, " + text(p.rows_per_second) + " rows/s" +
      (known(p.eta_seconds) ? ", about " + Math.round(p.eta_seconds) + " s left" : "") +
      " (tables " + text(p.tables_done) + "/" + text(p.tables) + ")";
    return;
  }
  const cls = v.state === "clean" ? "good" : "bad";
  let html = '<b class="' + cls + '">' + escapeHtml(v.state) + "</b> " + escapeHtml(v.id) + ", " + text(v.duration_ms) + " ms";
  if (v.error) html += '<div class="bad">' + escapeHtml(v.error) + "</div>";
  const rows = [];
  for (const t of v.tables || []) {
    for (const [kind, list] of [["missing in green", t.missing_in_green], ["extra in green", t.extra_in_green],
                                ["different", t.different]]) {
      for (const d of list || []) rows.push("<tr><td>" + escapeHtml(t.table) + "</td><td>" + kind + "</td><td>" +
        escapeHtml(JSON.stringify(d.key)) + "</td><td>" + escapeHtml((d.columns || []).join(", ")) + "</td></tr>");
    }
  }
  if (rows.length) html += '<div class="scroll"><table><thead><tr><th>table</th><th>mismatch</th><th>key</th><th>columns</th></tr></thead><tbody>' +
    rows.slice(0, 200).join("") + "</tbody></table></div>";
  $("verification").innerHTML = html;
}
function renderCutover(c) {
  if (!c) { $("cutover").textContent = "none yet"; return; }
  const t = c.timings || {};
  const total = Math.max(1, (t.freeze_ms || 0) + (t.drain_ms || 0) + (t.switch_ms || 0));
  const part = (name, ms, color) => '<span style="background:' + color + ";width:" + Math.max(2, 380 * (ms || 0) / total) +
    'px" title="' + name + '">' + name + " " + text(ms) + "</span>";
  $("cutover").innerHTML = "<div>" + escapeHtml(c.operation) + " " + escapeHtml(c.cutover_id) + ": <b>" +
    escapeHtml(c.outcome || "running") + "</b>, clients on " + escapeHtml(c.side) + "</div>" +
    (c.reason ? '<div class="bad">' + escapeHtml(c.reason) + "</div>" : "") +
    '<div class="timeline">' + part("freeze", t.freeze_ms, "#6366f1") + part("drain", t.drain_ms, "#0ea5e9") +
    part("switch", t.switch_ms, "#16a34a") + "</div><div>client pause " + text(t.pause_ms) + " ms</div>" +
    '<div class="scroll"><table>' + (c.steps || []).map((s) => "<tr><td>" + escapeHtml(s.at) + "</td><td>" +
    escapeHtml(s.step) + "</td><td>" + escapeHtml(s.status) + "</td><td>" + escapeHtml(s.detail) + "</td></tr>").join("") +
    "</table></div>";
}
function renderSlot(slot) {
  if (!slot) return;
  const mib = (bytes) => (bytes === null || bytes === undefined) ? "unlimited" : (Number(bytes) / 1048576).toFixed(1) + " MiB";
  $("slot").textContent = slot.exists === false ? slot.name + ": dropped" :
    slot.name + ": " + (slot.active ? "streaming" : "not streaming") + ", wal_status " + text(slot.wal_status) +
    ", keeps " + mib(slot.retained_wal_bytes) + " of WAL, " + mib(slot.safe_wal_bytes) + " more before max_slot_wal_keep_size";
  $("slot_warning").textContent = slot.warning || "";
}
function renderHolds(holds) {
  if (!holds) return;
  $("holds").innerHTML = Object.keys(holds).map((side) => (holds[side] || []).map((item) =>
    "<li>" + escapeHtml(side) + ": " + escapeHtml(item) + "</li>").join("")).join("");
}
function renderReadiness(s) {
  const b = s.budget || {};
  const ms = (value) => (value === null || value === undefined) ? "-" : (Number(value) / 1000).toFixed(1) + " s";
  $("budget_lag").textContent = ms(b.max_lag_ms);
  $("budget_freeze").textContent = ms(b.freeze_timeout_ms) + " (clients wait at most this for PAUSE)";
  $("budget_drain").textContent = ms(b.drain_timeout_ms) + " (then for green to apply the rest)";
  $("lag_now").textContent = Number(s.lag_seconds || 0).toFixed(1) + " s, " + text(s.lag_bytes) + " bytes";
}
function renderGuardrails(reply) {
  const rows = (reply.guardrails || []).map((g) => "<tr><td>" + escapeHtml(g.name) + '</td><td class="' +
    (g.passed ? "good" : "bad") + '">' + (g.passed ? "yes" : "NO") + "</td><td>" + escapeHtml(g.value) + "</td><td>" +
    escapeHtml(g.limit) + "</td></tr>").join("");
  $("guardrails").innerHTML = '<b class="' + (reply.ready ? "good" : "bad") + '">' + (reply.ready ? "ready" : "not ready") +
    "</b><table><thead><tr><th>guardrail</th><th>passed</th><th>value</th><th>must be</th></tr></thead><tbody>" + rows +
    "</tbody></table>";
}
function renderErrors(s) {
  const parts = [];
  if (s.failed) parts.push('<div class="bad">failed ' + escapeHtml(new Date(s.failed.unix_ms).toISOString()) + ": " +
                           escapeHtml(s.failed.message) + "</div><div>" + escapeHtml(s.failed.next) + "</div>");
  if (s.halted) parts.push('<div class="bad">halted: ' + escapeHtml(s.halted) + "</div>");
  if (s.last_failure) parts.push("<div>last restart after " + escapeHtml(new Date(s.last_failure.unix_ms).toISOString()) +
                                 ": " + escapeHtml(s.last_failure.message) + "</div>");
  parts.push("<div>" + text(s.restarts) + " restarts since the run started</div>");
  $("errors").innerHTML = parts.join("");
}
// Each action only when the phase allows it, as the control API would answer.
function enableActions(s) {
  const moving = !!(s.cutover && !s.cutover.outcome);
  const verifying = !!(s.last_verification && s.last_verification.state === "running");
  const steady = ["streaming", "switched"].includes(s.phase) && !moving && !s.paused;
  $("verify").disabled = !steady || verifying;
  $("dryrun").disabled = !steady;
  $("switch").disabled = !steady || verifying || s.direction !== "forward";
  $("rollback").disabled = !steady || verifying || s.direction !== "reverse";
  $("abort").disabled = !moving;
  $("pause").disabled = !steady;
  $("resume").disabled = !s.paused;
}
async function refresh() {
  try {
    const answer = await fetch("/api/v1/status", {cache: "no-store"});
    const s = await answer.json();
    $("plan").textContent = s.plan || "";
    $("phase").textContent = s.phase; $("phase").className = s.phase;
    $("direction").textContent = text(s.direction);
    $("lag").textContent = Number(s.lag_seconds || 0).toFixed(1) + " s, " + text(s.lag_bytes) + " bytes";
    $("applied").textContent = text(s.applied_lsn);
    $("rate").textContent = Math.round(Number(s.rows_per_second || 0)) + " rows/s";
    $("failure").hidden = !s.failed;
    $("failed").textContent = s.failed ? new Date(s.failed.unix_ms).toISOString() + ": " + s.failed.message : "";
    $("failed_next").textContent = s.failed ? s.failed.next : "";
    const waiting = s.last_failure && s.last_failure.retry_in_ms !== null && s.last_failure.retry_in_ms !== undefined;
    $("retrying").hidden = !waiting;
    $("retry").textContent = waiting ? "in " + (s.last_failure.retry_in_ms / 1000).toFixed(1) + " s, after: " +
      s.last_failure.message + " (" + text(s.restarts) + " restarts so far)" : "";
    $("schema").hidden = !s.halted && !(s.schema_notices || []).length;
    $("halted").textContent = s.halted ? "Halted: " + s.halted : "";
    $("notices").innerHTML = (s.schema_notices || []).map((n) => "<li>" + escapeHtml(n) + "</li>").join("");
    renderSlot(s.slot); renderHolds(s.holds);
    renderTables(s.tables); renderVerification(s.last_verification); renderCutover(s.cutover);
    renderReadiness(s); renderErrors(s); enableActions(s);
  } catch (error) {
    $("phase").textContent = "unreachable"; $("phase").className = "stopped";
  }
}
async function post(path, body) {
  if (!token) token = prompt("Control token (CUTOVER_TOKEN)") || "";
  const answer = await fetch(path, {method: "POST", headers: {"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                                    body: JSON.stringify(body || {})});
  const reply = await answer.json().catch(() => ({}));
  if (answer.status === 401) { token = ""; sessionStorage.removeItem("cutover-token"); }
  else sessionStorage.setItem("cutover-token", token);
  $("message").className = answer.ok ? "good" : "bad";
  $("message").textContent = answer.status + " " + (reply.error || reply.id || (reply.guardrails ? "dry run done" : JSON.stringify(reply)));
  refresh();
  return reply;
}
$("verify").onclick = () => post("/api/v1/verify");
$("switch").onclick = () => confirm("Switch clients to green?") && post("/api/v1/switch");
$("rollback").onclick = () => confirm("Roll clients back to blue?") && post("/api/v1/rollback");
$("abort").onclick = () => confirm("Abort the move? Clients resume where they were.") && post("/api/v1/abort");
$("pause").onclick = () => post("/api/v1/pause");
$("resume").onclick = () => post("/api/v1/resume");
$("dryrun").onclick = async () => {
  const path = $("rollback").disabled ? "/api/v1/switch" : "/api/v1/rollback";
  const reply = await post(path, {dry_run: true});
  if (reply && reply.guardrails) renderGuardrails(reply);
};
refresh(); refreshLag();
setInterval(refresh, 1000);
setInterval(refreshLag, 5000);
</script>
</body>
</html>
)PAGE";

}  // namespace

std::string_view dashboard_page() { return kPage; }

}  // namespace cutover
