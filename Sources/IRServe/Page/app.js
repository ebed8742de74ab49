// irzoo serve: the page. Plain JS, no build step; it uses only the documented API
// (docs/serve-openapi.json). Every string from the server or a file name goes in as text, never HTML.
"use strict";

const state = { models: [], model: null, jobs: new Map(), compared: null, info: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function bytes(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await response.json(); } catch (_) { /* a non-JSON answer */ }
  if (!response.ok) throw new Error((body && body.error) || response.status + " " + response.statusText);
  return body;
}

// ---- models ----

async function loadModels() {
  state.info = await api("/api/info");
  const { models } = await api("/api/models");
  state.models = models;
  const body = $("models").querySelector("tbody");
  body.replaceChildren();
  $("models-empty").hidden = models.length > 0;
  for (const m of models) {
    const radio = el("input", { type: "radio", name: "model", value: m.name, "aria-label": m.name });
    radio.disabled = !m.runnable;
    radio.addEventListener("change", () => selectModel(m.name));
    const restores = m.runnable ? (m.tasks.join(", ") || m.kind) : "cannot run: " + (m.reason || "");
    const row = el("tr", { "data-model": m.name, class: m.runnable ? "" : "unrunnable" },
      el("td", {}, radio), el("td", { text: m.name }), el("td", { text: m.title || m.architecture }),
      el("td", { text: restores }), el("td", { class: "size", text: bytes(m.bytes) }));
    body.append(row);
  }
  const first = models.find((m) => m.runnable);
  if (first) selectModel(first.name);
}

function selectModel(name) {
  state.model = state.models.find((m) => m.name === name) || null;
  for (const row of $("models").querySelectorAll("tbody tr")) {
    const on = row.dataset.model === name;
    row.classList.toggle("selected", on);
    row.querySelector("input").checked = on;
  }
  $("diffusion-options").hidden = !(state.model && state.model.kind === "diffusion");
}

// ---- submitting ----

function showSubmitError(message) {
  const p = $("submit-error");
  p.textContent = message || "";
  p.hidden = !message;
}

async function submitFiles(files) {
  showSubmitError("");
  if (!state.model) { showSubmitError("Choose a runnable model first."); return; }
  const list = Array.from(files);
  const reference = list.length === 1 ? $("reference").files[0] : null;
  for (const file of list) {
    const form = new FormData();
    form.append("model", state.model.name);
    form.append("image", file, file.name);
    if (reference) form.append("reference", reference, reference.name);
    if (state.model.kind === "diffusion") {
      if ($("prompt").value) form.append("prompt", $("prompt").value);
      form.append("steps", $("steps").value);
      form.append("seed", $("seed").value);
    }
    try {
      const job = await api("/api/jobs", { method: "POST", body: form });
      track(job);
    } catch (e) {
      showSubmitError(file.name + ": " + e.message);
    }
  }
}

// ---- jobs ----

function track(job) {
  renderJob(job);
  const events = new EventSource("/api/jobs/" + job.id + "/events");
  events.addEventListener("job", (e) => {
    const j = JSON.parse(e.data);
    renderJob(j);
    if (["done", "failed", "cancelled"].includes(j.state)) {
      events.close();
      if (j.state === "done" && !state.compared) compare(j.id);
    }
  });
  events.onerror = () => {
    // The stream ends after the final state; if it broke earlier, ask once more.
    events.close();
    api("/api/jobs/" + job.id).then((j) => { renderJob(j); if (!["done", "failed", "cancelled"].includes(j.state)) track(j); }).catch(() => {});
  };
}

function stateText(j) {
  if (j.state === "queued") return "waiting" + (j.queue_position ? " (" + j.queue_position + " ahead)" : "");
  if (j.state === "running") {
    const p = j.progress;
    const step = p ? p.done + "/" + p.total + " " + p.unit : "starting";
    return (j.cancel_requested ? "cancelling: " : "running: ") + step;
  }
  if (j.state === "done") return "done in " + j.result.seconds.toFixed(2) + " s (" + j.result.tiling + ")";
  if (j.state === "failed") return "failed";
  return "cancelled";
}

function renderJob(j) {
  state.jobs.set(j.id, j);
  let item = document.querySelector('[data-job="' + j.id + '"]');
  if (!item) {
    item = el("li", { "data-job": j.id, class: "job" });
    $("jobs").prepend(item);
  }
  item.className = "job " + j.state;
  item.dataset.state = j.state;
  const progress = el("progress", { max: "1" });
  if (j.state === "done") progress.value = 1;
  else if (j.state === "running" && j.progress && j.progress.total > 0) progress.value = j.progress.done / j.progress.total;
  else if (j.state !== "running") progress.value = 0;
  else progress.removeAttribute("value");  // indeterminate until the first step
  const actions = el("div", { class: "actions" });
  if (j.state === "queued" || j.state === "running") {
    const cancel = el("button", { type: "button", "data-action": "cancel", text: "cancel" });
    cancel.disabled = j.cancel_requested;
    cancel.addEventListener("click", () => api("/api/jobs/" + j.id + "/cancel", { method: "POST" }).then(renderJob).catch((e) => showSubmitError(e.message)));
    actions.append(cancel);
  }
  if (j.state === "done") {
    const view = el("button", { type: "button", "data-action": "compare", text: "compare" });
    view.addEventListener("click", () => compare(j.id));
    actions.append(view, el("a", { class: "button", href: "/api/jobs/" + j.id + "/result", download: "", text: "download" }));
  }
  const info = el("div", { class: "name" }, el("strong", { text: j.input.name }),
    el("div", { class: "state", "data-testid": "state", text: j.model + " · " + j.input.width + "×" + j.input.height + " · " + stateText(j) }));
  if (j.error && j.state === "failed") info.append(el("div", { class: "error", text: j.error }));
  item.replaceChildren(info, progress, actions);
  updateQueueStatus();
}

function updateQueueStatus() {
  const jobs = Array.from(state.jobs.values());
  const running = jobs.filter((j) => j.state === "running").length, waiting = jobs.filter((j) => j.state === "queued").length;
  $("queue-status").textContent = running || waiting ? running + " running, " + waiting + " waiting" : "";
}

// ---- before / after ----

const view = { scale: 1, x: 0, y: 0, fit: true, width: 0, height: 0, split: 0.5 };

function compare(id) {
  const j = state.jobs.get(id);
  if (!j || j.state !== "done") return;
  state.compared = id;
  $("compare-section").hidden = false;
  $("compare-name").textContent = j.input.name + " · " + j.model;
  $("download").href = "/api/jobs/" + id + "/result";
  view.width = j.result.width;
  view.height = j.result.height;
  let loaded = 0;
  const ready = () => { if (++loaded === 2) { $("viewport").dataset.loaded = "true"; zoomTo("fit"); } };
  $("viewport").dataset.loaded = "false";
  for (const [img, src] of [[$("before"), "/api/jobs/" + id + "/input"], [$("after"), "/api/jobs/" + id + "/result"]]) {
    img.onload = ready;
    img.width = view.width;   // a before image of another size is shown at the result's size
    img.height = view.height;
    img.src = src;
  }
  renderDetails(j);
  $("compare-section").scrollIntoView({ block: "nearest" });
}

function renderDetails(j) {
  const rows = [["model", j.model], ["size", j.result.width + " × " + j.result.height + " (" + j.result.format + ")"], ["time", j.result.seconds.toFixed(2) + " s, " + j.result.tiling]];
  const m = j.result.metrics;
  if (m) {
    const db = (v) => (v === null ? "∞" : v.toFixed(2)) + " dB";
    rows.push(["PSNR", "input " + db(m.psnr_input_db) + " → result " + db(m.psnr_output_db)]);
    if (m.ssim_input !== null && m.ssim_output !== null) rows.push(["SSIM", "input " + m.ssim_input.toFixed(4) + " → result " + m.ssim_output.toFixed(4)]);
  }
  if (j.result.route) rows.push(["route", j.result.route.join("; ")]);
  if (j.prompt !== undefined && j.prompt !== null) rows.push(["prompt", j.prompt]);
  if (j.steps) rows.push(["steps", String(j.steps)]);
  if (j.seed !== undefined && j.seed !== null) rows.push(["seed", String(j.seed)]);
  for (const n of j.result.notes || []) rows.push(["note", n]);
  $("details").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { "data-key": k, text: v })]));
}

function viewportSize() {
  const r = $("viewport").getBoundingClientRect();
  return { w: r.width, h: r.height };
}

// Keeps the image inside the viewport (or centred when smaller).
function clampPan() {
  const { w, h } = viewportSize();
  const sw = view.width * view.scale, sh = view.height * view.scale;
  view.x = sw <= w ? (w - sw) / 2 : Math.min(0, Math.max(w - sw, view.x));
  view.y = sh <= h ? (h - sh) / 2 : Math.min(0, Math.max(h - sh, view.y));
}

function zoomTo(level, cx, cy) {
  const { w, h } = viewportSize();
  const old = view.scale;
  if (level === "fit") {
    view.fit = true;
    view.scale = Math.min(w / view.width, h / view.height, 4);
  } else {
    view.fit = false;
    view.scale = Math.min(4, Math.max(0.05, Number(level)));
  }
  // Zoom about a point (the cursor, else the centre): it stays where it was on screen.
  const px = cx === undefined ? w / 2 : cx, py = cy === undefined ? h / 2 : cy;
  view.x = px - (px - view.x) * (view.scale / old);
  view.y = py - (py - view.y) * (view.scale / old);
  clampPan();
  draw();
}

function draw() {
  const stage = $("stage");
  stage.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.scale + ")";
  stage.classList.toggle("pixels", view.scale >= 2);
  const { w } = viewportSize();
  const splitX = view.split * w;
  $("divider").style.left = splitX + "px";
  // Both images share one transform, so zoom and pan stay in step; the after image shows right of the split.
  const cut = Math.max(0, Math.min(view.width, (splitX - view.x) / view.scale));
  $("after").style.clipPath = "inset(0 0 0 " + cut + "px)";
  $("zoom-level").textContent = Math.round(view.scale * 100) + "%";
  $("zoom-level").dataset.scale = String(view.scale);
  for (const b of document.querySelectorAll("button.zoom")) {
    b.classList.toggle("active", b.dataset.zoom === "fit" ? view.fit : !view.fit && Number(b.dataset.zoom) === view.scale);
  }
}

function setupCompare() {
  for (const b of document.querySelectorAll("button.zoom")) b.addEventListener("click", () => zoomTo(b.dataset.zoom));
  $("slider").addEventListener("input", () => { view.split = $("slider").value / 1000; draw(); });
  const vp = $("viewport");
  let drag = null;
  vp.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; vp.setPointerCapture(e.pointerId); vp.classList.add("dragging"); });
  vp.addEventListener("pointermove", (e) => {
    if (!drag) return;
    view.x = drag.vx + e.clientX - drag.x;
    view.y = drag.vy + e.clientY - drag.y;
    view.fit = false;
    clampPan();
    draw();
  });
  const end = () => { drag = null; vp.classList.remove("dragging"); };
  vp.addEventListener("pointerup", end);
  vp.addEventListener("pointercancel", end);
  vp.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = vp.getBoundingClientRect();
    zoomTo(view.scale * (e.deltaY < 0 ? 1.25 : 0.8), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  window.addEventListener("resize", () => { if (state.compared) { if (view.fit) zoomTo("fit"); else { clampPan(); draw(); } } });
}

// ---- drop zone ----

function setupDrop() {
  const drop = $("drop");
  $("files").addEventListener("change", () => { submitFiles($("files").files); $("files").value = ""; });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); submitFiles(e.dataTransfer.files); });
}

async function start() {
  setupDrop();
  setupCompare();
  try {
    await loadModels();
    // Jobs submitted earlier (another tab, a script) are shown too.
    const { jobs } = await api("/api/jobs");
    for (const j of jobs) { if (["queued", "running"].includes(j.state)) track(j); else renderJob(j); }
    document.body.dataset.ready = "true";
  } catch (e) {
    showSubmitError("Cannot reach the server: " + e.message);
  }
}

start();
