// The producer's upload page: a resumable upload (tus 1.0, written here: no dependency), the
// transcode's progress, then the programme form. Keyboard only works throughout: native controls.
import { ApiError, LANGUAGE, api, attempt, el, flash, page, publicationRegion, regionField, t, tf } from "/static/app.js";

const ENDPOINT = "/api/v1/uploads";
const TUS = { "Tus-Resumable": "1.0.0" };
// 4 MiB: small enough to lose little on a dropped line, large enough to keep requests few.
// ?chunk_bytes= makes it smaller (tests send a small film in many chunks).
const CHUNK = Math.max(16 * 1024, Number(new URLSearchParams(location.search).get("chunk_bytes")) || 4 * 1024 * 1024);
const BACKOFF = [1, 2, 4, 8, 15, 30]; // seconds before the n-th retry; then every 30 s, until cancelled
const REMEMBER_MS = 24 * 3600 * 1000; // the server forgets abandoned uploads after a day

const $ = (id) => document.getElementById(id);

/** A failure worth retrying: the network, or the server (5xx) or a proxy in between. */
class Retryable extends Error {}

function fmtBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function fmtDuration(s) {
  s = Math.round(s);
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function b64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function sleep(ms, signal) {
  // Wakes early when the browser says the network is back.
  return new Promise((resolve, reject) => {
    const done = () => { clearTimeout(timer); window.removeEventListener("online", done); resolve(); };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(new DOMException("cancelled", "AbortError")); });
  });
}

// --- remembered uploads: a reload (or a new tab) resumes instead of starting again -----------------

const storeKey = (file) => `tus:${file.name}:${file.size}:${file.lastModified}`;

function remembered(file) {
  try {
    const entry = JSON.parse(localStorage.getItem(storeKey(file)) || "null");
    return entry && Date.now() - entry.at < REMEMBER_MS ? entry.url : null;
  } catch {
    return null;
  }
}

function remember(file, url) {
  localStorage.setItem(storeKey(file), JSON.stringify({ url, name: file.name, size: file.size, at: Date.now() }));
}

const forget = (file) => localStorage.removeItem(storeKey(file));

function unfinished() {
  const found = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (!key.startsWith("tus:")) continue;
    try {
      const entry = JSON.parse(localStorage.getItem(key));
      if (Date.now() - entry.at < REMEMBER_MS) found.push(entry);
      else localStorage.removeItem(key);
    } catch {
      localStorage.removeItem(key);
    }
  }
  return found;
}

// --- the tus client ---------------------------------------------------------------------------------

async function request(method, url, headers = {}) {
  const h = { ...TUS, ...LANGUAGE, ...headers };
  if (page.csrf && method !== "HEAD") h["X-CSRF-Token"] = page.csrf;
  let response;
  try {
    response = await fetch(url, { method, headers: h, credentials: "same-origin" });
  } catch {
    throw new Retryable(t("common.network"));
  }
  if (response.status >= 500) throw new Retryable(await messageOf(response));
  return response;
}

async function messageOf(response) {
  try {
    const body = await response.json();
    if (body && body.message) return body.message;
  } catch { /* no JSON body (HEAD, or a proxy's page) */ }
  return tf("common.error_status", { status: response.status });
}

/** One PATCH through XMLHttpRequest: unlike fetch, it reports the bytes sent while they go. */
function patch(url, offset, blob, onSent, signal) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PATCH", url);
    for (const [k, v] of Object.entries({ ...TUS, ...LANGUAGE })) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Upload-Offset", String(offset));
    xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
    if (page.csrf) xhr.setRequestHeader("X-CSRF-Token", page.csrf);
    xhr.upload.onprogress = (e) => onSent(e.loaded);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Retryable(t("common.network")));
    xhr.ontimeout = xhr.onerror;
    xhr.onabort = () => reject(new DOMException("cancelled", "AbortError"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

function xhrMessage(xhr) {
  try {
    return JSON.parse(xhr.responseText).message || tf("common.error_status", { status: xhr.status });
  } catch {
    return tf("common.error_status", { status: xhr.status });
  }
}

/**
 * Send `file`; resolves to its asset id. `ui` gets progress(bytes), status(text), retrying(seconds).
 * The bytes shown never go back: after a break the server's offset (HEAD) is where it continues,
 * and the bar waits for it to pass what was shown.
 */
export async function tusUpload(file, { ui, signal, title }) {
  let url = remembered(file);
  let offset = 0;
  let assetId = null;
  let failures = 0;

  const ask = async () => {
    const r = await request("HEAD", url);
    if (r.status === 404) return false; // finished long ago, cancelled or swept: start again
    if (!r.ok) throw new ApiError(r.status, "tus", tf("common.error_status", { status: r.status }));
    offset = Number(r.headers.get("Upload-Offset"));
    assetId = r.headers.get("Upload-Asset-Id");
    return true;
  };

  const retryLater = async (err) => {
    if (!(err instanceof Retryable)) throw err;
    const wait = BACKOFF[Math.min(failures, BACKOFF.length - 1)];
    failures += 1;
    ui.retrying(wait);
    await sleep(wait * 1000, signal);
  };

  // Where to start: a remembered upload of the same file (a reload, a crash), or a new one.
  while (true) {
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    try {
      if (url && !(await ask())) { forget(file); url = null; }
      if (!url) {
        ui.status(t("upload.starting"));
        const meta = `filename ${b64(file.name)}` + (title ? `,title ${b64(title)}` : "");
        const r = await request("POST", ENDPOINT, { "Upload-Length": String(file.size), "Upload-Metadata": meta });
        if (r.status !== 201) throw new ApiError(r.status, "tus", await messageOf(r));
        url = r.headers.get("Location");
        if (signal.aborted) { await request("DELETE", url).catch(() => {}); continue; }
        remember(file, url);
      } else {
        ui.status(t("upload.resuming"));
      }
      break;
    } catch (err) {
      await retryLater(err);
    }
  }
  ui.progress(offset);

  // Send from the offset in chunks; an empty PATCH at the end asks the server to finish (after a
  // storage outage at the very end, or when a reload finds every byte already there).
  while (!assetId) {
    if (signal.aborted) throw new DOMException("cancelled", "AbortError");
    const end = Math.min(offset + CHUNK, file.size);
    try {
      ui.status(end === file.size ? t("upload.finishing") : t("upload.sending"));
      const xhr = await patch(url, offset, file.slice(offset, end), (sent) => ui.progress(offset + sent), signal);
      if (xhr.status === 204) {
        offset = Number(xhr.getResponseHeader("Upload-Offset"));
        assetId = xhr.getResponseHeader("Upload-Asset-Id");
        failures = 0;
        ui.progress(offset);
        if (offset === file.size && !assetId) throw new Retryable(t("upload.finishing"));
        continue;
      }
      if (xhr.status === 409) { // out of step (another tab, a lost answer): the server's offset rules
        ui.status(t("upload.checking"));
        if (!(await ask())) throw new ApiError(404, "tus", xhrMessage(xhr));
        continue;
      }
      if (xhr.status >= 500 || xhr.status === 0) throw new Retryable(xhrMessage(xhr));
      if (xhr.status === 404 || xhr.status === 415 || xhr.status === 413) forget(file);
      throw new ApiError(xhr.status, "tus", xhrMessage(xhr));
    } catch (err) {
      await retryLater(err);
      // Back on the line: ask where the server is before sending anything more.
      while (true) {
        try {
          ui.status(t("upload.checking"));
          if (!(await ask())) { forget(file); throw new ApiError(404, "tus", t("upload.cancelled")); }
          break;
        } catch (again) {
          await retryLater(again);
        }
      }
    }
  }
  forget(file);
  return assetId;
}

export async function tusCancel(file) {
  const url = remembered(file);
  forget(file);
  // 409 while the aborted PATCH still holds the upload on the server: ask again shortly. Whatever
  // cannot be cancelled is swept by the server after a day.
  for (let i = 0; url && i < 5; i += 1) {
    const r = await request("DELETE", url).catch(() => null);
    if (!r || r.status !== 409) return;
    await sleep(500);
  }
}

// --- step 1: the film -----------------------------------------------------------------------------

const picker = $("file");
const drop = $("pick");
const bar = $("upload-progress");
let current = null; // {file, controller}
let assetId = null;

function showPending() {
  const list = unfinished();
  const box = $("pending");
  box.hidden = list.length === 0;
  box.replaceChildren(
    t("upload.pending"),
    el("ul", {}, list.map((e) => el("li", {}, `${e.name} (${fmtBytes(e.size)})`))),
  );
}

function uploadUi(file) {
  let shown = 0;
  const samples = []; // [time, bytes]: speed over the last few seconds
  return {
    progress(bytes) {
      if (bytes <= shown && shown > 0) return; // never backwards
      shown = bytes;
      const percent = file.size ? Math.floor((bytes / file.size) * 100) : 100;
      bar.value = percent;
      $("upload-percent").textContent = `${percent} %`;
      const now = performance.now();
      samples.push([now, bytes]);
      while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
      const [t0, b0] = samples[0];
      if (now - t0 > 500 && bytes > b0) {
        const rate = ((bytes - b0) * 1000) / (now - t0);
        const left = (file.size - bytes) / rate;
        $("upload-speed").textContent =
          `${t("upload.speed")} ${fmtBytes(rate)}/s · ${t("upload.remaining")} ${fmtDuration(left)} ${t("upload.left")}`.trim();
      }
    },
    status(text) { $("upload-status").textContent = text; },
    retrying(seconds) {
      samples.length = 0;
      $("upload-speed").textContent = "";
      $("upload-status").textContent = t("upload.retrying").replace("{s}", seconds);
    },
  };
}

async function start(file) {
  if (current) return;
  const controller = new AbortController();
  current = { file, controller };
  assetId = null;
  $("pick").hidden = true;
  $("sending").hidden = false;
  $("another").hidden = true;
  $("cancel").hidden = false;
  $("file-name").textContent = `${file.name} (${fmtBytes(file.size)})`;
  bar.value = 0;
  $("upload-percent").textContent = "0 %";
  $("upload-speed").textContent = "";
  $("cancel").focus();
  const title = file.name.replace(/\.[^.]+$/, "");
  $("title").value ||= title;
  try {
    assetId = await tusUpload(file, { ui: uploadUi(file), signal: controller.signal, title });
  } catch (err) {
    current = null;
    if (err.name === "AbortError") return;
    flash(err.message || t("common.error"));
    reset();
    return;
  }
  current = null;
  bar.value = 100;
  $("upload-percent").textContent = "100 %";
  $("upload-status").textContent = t("upload.done");
  $("cancel").hidden = true;
  $("another").hidden = false;
  $("details").hidden = false;
  $("transcode").hidden = false;
  watchTranscode(assetId);
  $("title").focus();
}

function reset() {
  $("sending").hidden = true;
  $("pick").hidden = false;
  picker.value = "";
  showPending();
  picker.focus();
}

picker.addEventListener("change", () => { if (picker.files[0]) start(picker.files[0]); });

$("cancel").addEventListener("click", async () => {
  if (!current) return;
  const { file, controller } = current;
  controller.abort();
  current = null;
  await tusCancel(file);
  flash(t("upload.cancelled"), "info");
  reset();
});

$("another").addEventListener("click", () => location.assign("/ui/upload"));

for (const type of ["dragenter", "dragover"]) {
  drop.addEventListener(type, (e) => { e.preventDefault(); drop.classList.add("over"); });
}
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) start(file);
});

// --- step 2: the transcode, live ------------------------------------------------------------------

async function watchTranscode(id) {
  const progress = $("transcode-progress");
  const status = $("transcode-status");
  while (true) {
    let asset;
    try {
      asset = await api(`/api/v1/assets/${encodeURIComponent(id)}`);
    } catch (err) {
      status.textContent = err.message; // a blip: keep asking
      await sleep(3000);
      continue;
    }
    progress.value = asset.status === "ready" ? 100 : Math.floor(asset.progress);
    if (asset.status === "processing") status.textContent = `${t("upload.status_processing")} ${Math.floor(asset.progress)} %`;
    // The server's reason names the file and says what failed (「“x.mp4”无法处理：…」): no prefix before it.
    else if (asset.status === "failed") status.textContent = asset.error || t("upload.status_failed");
    else status.textContent = t(`upload.status_${asset.status}`);
    status.className = asset.status === "failed" ? "failed" : asset.status === "ready" ? "ready" : "";
    if (asset.status === "ready" || asset.status === "failed") return;
    await sleep(1000);
  }
}

// --- step 3: the programme ------------------------------------------------------------------------

const attachments = []; // {file, id, promise, controller}
// Where the programme is made for: inside the department's region, suggested from the server's list.
$("region-box").replaceChildren(...regionField("region"));

async function loadCategories() {
  const select = $("category");
  const categories = await attempt(() => api("/api/v1/categories"));
  for (const c of categories || []) {
    select.append(el("option", { value: c.code }, page.lang === "en" ? c.name_en : c.name_zh));
  }
}

function attachmentRow(entry) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `${t("upload.attachment_progress")} ${entry.file.name}` });
  const note = el("span", { class: "muted" });
  const remove = el("button", {
    type: "button",
    class: "secondary",
    "aria-label": `${t("upload.remove")} ${entry.file.name}`,
    onclick: () => {
      entry.controller.abort();
      if (!entry.id) tusCancel(entry.file);
      attachments.splice(attachments.indexOf(entry), 1);
      row.remove();
      $("attachments").focus();
    },
  }, t("upload.remove"));
  const row = el("li", {}, el("span", {}, entry.file.name), progress, note, remove);
  const ui = {
    progress(bytes) { progress.value = Math.max(progress.value, Math.floor((bytes / entry.file.size) * 100)); },
    status() {},
    retrying(seconds) { note.textContent = t("upload.retrying").replace("{s}", seconds); },
  };
  return { row, ui, progress, note };
}

$("attachments").addEventListener("change", (e) => {
  for (const file of e.target.files) {
    const entry = { file, id: null, controller: new AbortController() };
    const { row, ui, progress, note } = attachmentRow(entry);
    $("attachment-list").append(row);
    entry.promise = tusUpload(file, { ui, signal: entry.controller.signal, title: file.name.replace(/\.[^.]+$/, "") })
      .then((id) => { entry.id = id; progress.value = 100; note.textContent = t("upload.done"); })
      .catch((err) => {
        if (err.name === "AbortError") return;
        note.textContent = err.message;
        note.className = "failed";
        attachments.splice(attachments.indexOf(entry), 1);
      });
    attachments.push(entry);
  }
  e.target.value = "";
});

function tagsOf(text) {
  // Comma, Chinese comma, enumeration comma or semicolon: however the producer types a list.
  const seen = new Map();
  for (const raw of text.split(/[,，、;；]/)) {
    const tag = raw.trim();
    if (tag && !seen.has(tag.toLowerCase())) seen.set(tag.toLowerCase(), tag);
  }
  return [...seen.values()];
}

$("programme-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!assetId) { flash(t("upload.need_file")); return; }
  const save = $("save");
  save.disabled = true;
  save.textContent = t("upload.saving");
  try {
    if (attachments.some((a) => !a.id)) {
      flash(t("upload.attachments_pending"), "info");
      await Promise.all(attachments.map((a) => a.promise));
    }
    const programme = await attempt(() =>
      api("/api/v1/programmes", {
        method: "POST",
        json: {
          title: $("title").value.trim(),
          description: $("description").value.trim(),
          category: $("category").value,
          tags: tagsOf($("tags").value),
          region: publicationRegion($("region")),
          asset_id: assetId,
          attachment_ids: attachments.filter((a) => a.id).map((a) => a.id),
        },
      }),
    );
    if (!programme) return;
    const link = el("a", { href: `/ui/programmes/${encodeURIComponent(programme.id)}` }, `${t("upload.open_programme")}：${programme.title}`);
    const saved = $("saved");
    saved.replaceChildren(el("p", {}, t("upload.saved")), el("p", {}, link));
    saved.hidden = false;
    $("programme-form").hidden = true;
    link.focus();
  } finally {
    save.disabled = false;
    save.textContent = t("upload.save_draft");
  }
});

/** /ui/upload?asset=<id> (from 我的上传): the film is on the server already; its transcode and the
 * programme form, as after an upload. */
async function openAsset(id) {
  const asset = await attempt(() => api(`/api/v1/assets/${encodeURIComponent(id)}`));
  if (!asset) return;
  assetId = asset.id;
  $("pick").hidden = true;
  $("sending").hidden = false;
  $("cancel").hidden = true;
  $("another").hidden = false;
  $("file-name").textContent = `${asset.filename} (${fmtBytes(asset.size_bytes)})`;
  bar.value = 100;
  $("upload-percent").textContent = "100 %";
  $("upload-status").textContent = t("upload.done");
  $("details").hidden = false;
  $("transcode").hidden = false;
  $("title").value ||= asset.title;
  watchTranscode(assetId);
  $("title").focus();
}

showPending();
loadCategories();
const opened = new URLSearchParams(location.search).get("asset");
if (opened) openAsset(opened);
