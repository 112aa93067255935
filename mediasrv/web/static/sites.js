// The administrator's sites page: fleet status by region (drill down the 省/市/县/乡/村 tree; an inline
// SVG chart and a table with the same numbers, the table being the accessible source of truth), the
// sites by state with their last report, registering one site and giving it a token, and CSV import.
// The server validates everything; its message is shown as it is.
import { api, attempt, beijing, el, field as formField, flash, loadKnownRegions, pager, t, tf } from "/static/app.js";
import { heldText, languageForm, languageNames } from "/static/languages.js";
import { crumbs, keepFocus as keepFocusIn, pairedBars, pct, regionName as nameOf, viewLink } from "/static/regions.js";

const root = document.getElementById("sites-root");
const REFRESH_MS = 30_000;
const PAGE_SIZE = 50;
const STATES = ["stale", "never", "online", "all"];
const PROFILES = ["iptv", "iptv-legacy", "mobile", "pc"];

const view = { region: "", state: null, offset: 0 }; // state null: not chosen yet (picked from the counts)
let inflight = null; // AbortController of the refresh under way: a newer one replaces it
let timer = null;
const live = el("p", { class: "visually-hidden", "aria-live": "polite" });

/** t() with {name} placeholders filled in. */
const depth = (region) => (region ? region.split("/").length : 0);

/** "河北省 / 邢台市/" -> "河北省/邢台市", as the server stores it (full-width slashes accepted). */
function normalRegion(text) {
  return text.replaceAll("／", "/").split("/").map((p) => p.trim()).filter(Boolean).join("/");
}

/** A region row's name relative to the region shown: its last part, or what a special row means. */
const regionName = (row, shown) => nameOf(row, shown, "sites");

function viewUrl({ region = view.region, state = view.state } = {}) {
  const q = new URLSearchParams();
  if (region) q.set("region", region);
  if (state) q.set("state", state);
  return `${location.pathname}${q.size ? `?${q}` : ""}`;
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  view.region = normalRegion(q.get("region") || "");
  view.state = STATES.includes(q.get("state")) ? q.get("state") : null;
  view.offset = 0;
}

/** A link that changes the region (and state) shown without reloading the page; a real href, so it
 * can also be opened in a new tab. */
function regionLink(region, text, attrs = {}, state = view.state) {
  return viewLink(viewUrl({ region, state }), text, attrs, () => go(region, state));
}

function go(region, state = view.state) {
  view.region = region;
  view.state = state;
  view.offset = 0;
  history.pushState(null, "", viewUrl());
  refresh({ focus: true });
}

/** Re-render without losing the keyboard's place: the focused control is found again by its key. */
const keepFocus = (render) => keepFocusIn(root, render);

// --- the overview: breadcrumb, totals, chart, table ------------------------------------------------

function overviewSection() {
  return el("section", { class: "card", "aria-labelledby": "overview-h" },
    el("div", { class: "bar" },
      el("h2", { id: "overview-h", tabindex: -1 }, t("sites.overview")),
      el("span", { id: "updated", class: "muted small" }),
      el("button", { type: "button", id: "refresh", class: "secondary", onclick: () => refresh({ announce: true }) },
        t("sites.refresh")),
      el("a", { id: "csv", class: "button secondary", download: "" }, t("sites.csv"))),
    el("nav", { "aria-label": t("sites.crumbs") }, el("ol", { id: "crumbs", class: "crumbs" })),
    el("p", { id: "window-note", class: "muted small" }),
    el("dl", { id: "totals", class: "stats" }),
    el("div", { id: "open-faults", class: "open-faults" }),
    el("figure", { class: "chart" },
      el("div", { id: "chart" }),
      el("figcaption", { id: "chart-note", class: "muted small" })),
    el("table", { id: "regions" },
      el("caption", { id: "regions-caption" }),
      el("thead", {}, el("tr", {}, ["region", "sites", "reachable", "online", "stale", "never", "sync", "in_sync", "over"]
        .map((c) => el("th", { scope: "col", class: c }, t(`sites.col.${c}`))))),
      el("tbody", { id: "regions-body" }),
      el("tfoot", { id: "regions-foot" })),
    el("p", { id: "regions-empty", class: "muted", hidden: true }, t("sites.no_sites_here")));
}

function renderCrumbs(region) {
  document.getElementById("crumbs").replaceChildren(...crumbs(region, t("sites.all_regions"), regionLink));
}

function renderTotals(data) {
  const c = data.totals;
  const item = (key, value, extra) => el("div", { class: `stat ${key}${["stale", "over"].includes(key) && value > 0 ? " bad" : ""}` },
    el("dt", {}, t(`sites.total.${key}`)), el("dd", {}, value, extra ? el("span", { class: "muted small" }, ` ${extra}`) : null));
  document.getElementById("totals").replaceChildren(
    item("sites", c.sites),
    item("reachable", pct(c.reachable_percent), tf("sites.of", { n: c.online, total: c.sites })),
    item("stale", c.stale),
    item("never", c.never_seen),
    item("sync", pct(c.sync_percent), tf("sites.of", { n: c.in_sync, total: c.sites })),
    item("over", c.over_quota),
    // Sites with an open fault (故障率) beside reachability; the faults themselves: /api/v1/faults.
    item("faulty", pct(c.fault_percent), tf("sites.of", { n: c.faulty, total: c.sites })));
  const minutes = Math.round(data.online_within_seconds / 60);
  document.getElementById("window-note").textContent = tf("sites.window", { minutes });
}

const FAULT_KINDS = ["silent", "sync_stalled", "files_failed", "disk", "agent_old", "idle",
  "tv_broken", "box_lost", "line_down", "other"];

/** Open faults under the region shown, per kind (the fleet status counts them within the caller's
 * scope); each site's own are on its page. */
function renderOpenFaults(data) {
  const counts = data.open_faults || {};
  const kinds = FAULT_KINDS.filter((k) => counts[k] > 0);
  document.getElementById("open-faults").replaceChildren(
    el("h3", { id: "open-faults-h" }, t("site_faults.open_h")),
    kinds.length
      ? el("ul", { class: "fault-kinds", "aria-labelledby": "open-faults-h" }, kinds.map((k) => el("li", {
        dataset: { kind: k },
      }, tf("site_faults.kind_n", { kind: t(`site_faults.kind.${k}`), n: counts[k] }))))
      : el("p", { class: "muted small" }, t("site_faults.none_open")));
}

function countCell(row, key, state, count) {
  // A count of sites in a state links to that list for that region: the way from a number to names.
  const cell = el("td", { class: key });
  if (count > 0 && row.region !== "") {
    cell.append(regionLink(row.region, String(count), {
      "aria-label": tf(`sites.list_of.${state}`, { region: row.region, n: count }),
      dataset: { key: `${key}:${row.region}` },
    }, state));
  } else {
    cell.append(String(count));
  }
  return cell;
}

function regionRow(row, shown) {
  const name = regionName(row, shown);
  const drill = row.region !== "" && row.region !== shown;
  return el("tr", { dataset: { region: row.region } },
    el("th", { scope: "row", class: "region" },
      drill ? regionLink(row.region, name, { dataset: { key: `region:${row.region}` } }) : name),
    el("td", { class: "sites" }, row.sites),
    el("td", { class: "reachable" }, pct(row.reachable_percent)),
    el("td", { class: "online" }, row.online),
    countCell(row, "stale", "stale", row.stale),
    countCell(row, "never", "never", row.never_seen),
    el("td", { class: "sync" }, pct(row.sync_percent)),
    el("td", { class: "in_sync" }, row.in_sync),
    el("td", { class: "over" }, row.over_quota));
}

function renderTable(data) {
  document.getElementById("regions-caption").textContent = tf("sites.table_caption", {
    region: data.region || t("sites.all_regions"), level: t(`sites.level.${data.level}`),
  });
  document.getElementById("regions-body").replaceChildren(...data.regions.map((r) => regionRow(r, data.region)));
  const c = data.totals;
  document.getElementById("regions-foot").replaceChildren(el("tr", {},
    el("th", { scope: "row" }, t("sites.sum")),
    [c.sites, pct(c.reachable_percent), c.online, c.stale, c.never_seen, pct(c.sync_percent), c.in_sync, c.over_quota]
      .map((v) => el("td", {}, v))));
  document.getElementById("regions-empty").hidden = data.regions.length > 0;
  document.getElementById("regions").hidden = data.regions.length === 0;
}

function rowSummary(row, shown) {
  return tf("sites.chart_row", {
    region: regionName(row, shown), reachable: pct(row.reachable_percent), sync: pct(row.sync_percent),
    online: row.online, sites: row.sites,
  });
}

/** Reachable % and in-sync % per child region; the table holds the same numbers. */
function renderChart(data) {
  pairedBars(data.regions, {
    bars: [["reach", t("sites.col.reachable"), (r) => r.reachable_percent], ["sync", t("sites.col.sync"), (r) => r.sync_percent]],
    name: (r) => regionName(r, data.region),
    summary: (r) => rowSummary(r, data.region),
    words: "sites",
  });
}

function renderOverview(data) {
  renderCrumbs(data.region);
  document.getElementById("overview-h").textContent = tf("sites.overview_of", { region: data.region || t("sites.all_regions") });
  renderTotals(data);
  renderOpenFaults(data);
  renderChart(data);
  renderTable(data);
  // every site of the region shown, whatever their state: Excel filters the rest
  const q = new URLSearchParams();
  if (data.region) q.set("region", data.region);
  document.getElementById("csv").href = `/api/v1/fleet.csv${q.size ? `?${q}` : ""}`;
}

// --- the languages of the region shown -----------------------------------------------------------------

let languagesOf = null; // the region whose languages are shown: reloaded when it changes, not every 30 s

function languagesSection() {
  return el("section", { class: "card", id: "region-languages", "aria-labelledby": "languages-h" },
    el("h2", { id: "languages-h" }, t("languages.title")),
    el("div", { id: "languages-body" }));
}

/** The region shown: its own languages, what its sites that chose none hold, and the form that sets
 * them (the server keeps it inside the caller's scope). */
async function showLanguages(region, signal) {
  if (languagesOf === region) return;
  const q = new URLSearchParams();
  if (region) q.set("region", region);
  const [row] = await api(`/api/v1/region-languages?${q}`, { signal });
  languagesOf = region;
  const name = row.region || t("common.whole_network");
  document.getElementById("languages-h").textContent = tf("languages.region_title", { region: name });
  document.getElementById("languages-body").replaceChildren(
    el("p", { class: "muted small" }, t("languages.region_help")),
    el("p", { id: "languages-own" }, row.languages.length
      ? tf("languages.region_own", { languages: languageNames(row.languages) }) : t("languages.region_none_own")),
    el("p", { id: "languages-held" }, tf("languages.effective", {
      languages: heldText(row.effective_languages, row.languages_from, { own: row.region }),
    })),
    languageForm("region-languages-form", {
      legend: t("languages.choose"),
      chosen: row.languages,
      save: async (tags) => {
        await api("/api/v1/region-languages", { method: "PUT", json: { region: row.region, languages: tags } });
        languagesOf = null;
        await showLanguages(region);
        document.querySelector("#region-languages-form button[type=submit]")?.focus();
        document.getElementById("region-languages-form-status").textContent = t("languages.saved");
        return t("languages.saved");
      },
    }));
}

// --- the sites in one state --------------------------------------------------------------------------

function sitesSection() {
  return el("section", { class: "card", "aria-labelledby": "list-h" },
    el("h2", { id: "list-h" }, t("sites.list")),
    el("div", { id: "tabs", class: "tabs", role: "group", "aria-label": t("sites.filter") }),
    el("table", { id: "site-list" },
      el("thead", {}, el("tr", {}, ["code", "name", "region", "state", "last_seen", "version", "agent", "actions"]
        .map((c) => el("th", { scope: "col" }, t(`sites.site.${c}`))))),
      el("tbody", { id: "site-rows" })),
    el("p", { id: "site-empty", class: "muted", hidden: true }),
    el("div", { id: "site-pager", class: "pager" }));
}

function chosenState(totals) {
  // First visit: the sites that stopped reporting matter most, then those never heard from.
  if (view.state) return view.state;
  if (totals.stale > 0) return "stale";
  if (totals.never_seen > 0) return "never";
  return "all";
}

function renderTabs(totals) {
  const counts = { stale: totals.stale, never: totals.never_seen, online: totals.online, all: totals.sites };
  const current = chosenState(totals);
  document.getElementById("tabs").replaceChildren(...STATES.map((s) => el("button", {
    type: "button", class: "secondary", "aria-pressed": String(s === current), dataset: { key: `tab:${s}`, state: s },
    onclick: () => {
      view.state = s;
      view.offset = 0;
      history.replaceState(null, "", viewUrl());
      refresh();
    },
  }, tf("sites.tab", { label: t(`sites.state.${s}`), n: counts[s] }))));
}

function badge(state) {
  return el("span", { class: `badge state-${state}` }, t(`sites.state.${state}`));
}

/** Why a site is not in sync: no manifest yet, an older manifest applied, or files still missing. */
function syncText(s) {
  if (s.in_sync) return t("sites.synced");
  if (!s.last_seen_at) return "—";
  if (s.current_version === null) return t("sites.no_manifest");
  if (s.applied_version !== s.current_version) {
    return tf("sites.behind", { applied: s.applied_version ?? "—", current: s.current_version });
  }
  return tf("sites.missing", { files: s.files_missing ?? 0, failed: s.files_failed ?? 0 });
}

function siteRow(s) {
  return el("tr", { dataset: { code: s.code, state: s.state } },
    el("td", {}, el("code", {}, s.code)),
    el("td", {}, el("a", { href: `/ui/admin/sites/${encodeURIComponent(s.site_id)}/study`,
      "aria-label": tf("compliance.site.records_of", { name: s.name }) }, s.name)),
    el("td", { class: "small" }, s.region || t("sites.no_region")),
    el("td", { class: "state" }, badge(s.state)),
    el("td", { class: "seen" }, s.last_seen_at
      ? el("time", { datetime: s.last_seen_at }, beijing(s.last_seen_at)) : el("span", { class: "muted" }, t("sites.never_seen"))),
    el("td", { class: "sync" }, syncText(s), s.over_quota ? [" ", el("span", { class: "badge warn" }, t("sites.over_quota"))] : null),
    el("td", {}, s.agent_version ?? "—"),
    el("td", {}, el("button", {
      type: "button", class: "secondary small", dataset: { key: `token:${s.site_id}` },
      "aria-label": tf("sites.token_for", { name: s.name }),
      onclick: () => createToken({ id: s.site_id, code: s.code, name: s.name }),
    }, t("sites.token_create"))));
}

function renderSites(found, state) {
  document.getElementById("site-rows").replaceChildren(...found.items.map(siteRow));
  const empty = document.getElementById("site-empty");
  empty.hidden = found.items.length > 0;
  empty.textContent = tf("sites.none_in_state", { label: t(`sites.state.${state}`) });
  document.getElementById("site-list").hidden = found.items.length === 0;
  pager(document.getElementById("site-pager"), {
    offset: found.offset, limit: PAGE_SIZE, total: found.total, shown: found.items.length,
    hidden: found.total <= PAGE_SIZE,
    words: { range: "sites.shown", prev: "sites.prev", next: "sites.next" },
    onPage: (offset) => { view.offset = offset; refresh(); },
  });
}

// --- loading and refreshing --------------------------------------------------------------------------

async function refresh({ focus = false, announce = false } = {}) {
  inflight?.abort(); // a slower older answer must not overwrite a newer one
  const controller = new AbortController();
  inflight = controller;
  const region = view.region;
  try {
    const q = new URLSearchParams();
    if (region) q.set("region", region);
    const data = await api(`/api/v1/fleet?${q}`, { signal: controller.signal });
    const state = chosenState(data.totals);
    const sq = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(view.offset) });
    if (region) sq.set("region", region);
    if (state !== "all") sq.set("state", state);
    const found = await api(`/api/v1/fleet/sites?${sq}`, { signal: controller.signal });
    await showLanguages(region, controller.signal);
    keepFocus(() => {
      renderOverview(data);
      renderTabs(data.totals);
      renderSites(found, state);
    });
    document.getElementById("updated").textContent = tf("sites.updated", { at: beijing(data.at, { seconds: true }) });
    if (focus) document.getElementById("overview-h").focus();
    if (announce) live.textContent = tf("sites.refreshed", { at: beijing(data.at, { seconds: true }) });
  } catch (err) {
    if (err.name === "AbortError") return;
    flash(err.message || t("common.error"));
  } finally {
    if (inflight === controller) inflight = null;
  }
}

/** Every ~30 s while the tab is visible; a hidden tab polls nothing and catches up when shown again. */
function schedule() {
  clearTimeout(timer);
  if (!document.hidden) timer = setTimeout(async () => { await refresh(); schedule(); }, REFRESH_MS);
}

document.addEventListener("visibilitychange", async () => {
  clearTimeout(timer);
  if (document.hidden) return;
  await refresh();
  schedule();
});

window.addEventListener("popstate", () => {
  readUrl();
  refresh({ focus: true });
});

// --- a site's token: shown once; its channel-list link beside it ---------------------------------------

async function createToken(site) {
  const made = await attempt(() => api("/api/v1/tokens", {
    method: "POST", json: { name: tf("sites.token_name", { code: site.code }), site_id: site.id },
  }));
  if (!made) return;
  // The link boxes and VLC open the channel list with (no header): it can be fetched again, unlike
  // the token, so a failure here only says so in the dialog.
  const link = await api(`/api/v1/sites/${encodeURIComponent(site.id)}/channel-list`).catch(() => null);
  showToken(site, made.token, link ? link.url : null);
}

/** The token in a modal dialog: it is shown only now (the server keeps only its hash), so the dialog
 * says so, offers a copy button and takes the value out of the page when closed. The site's
 * channel-list link follows, with a copy button of its own. */
function showToken(site, token, channelUrl) {
  const before = document.activeElement;
  const status = el("span", { class: "muted", "aria-live": "polite" });
  const value = el("input", { id: "token-value", readonly: true, value: token, spellcheck: "false", autocomplete: "off" });
  const copier = (input, text) => async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = t("sites.copied");
    } catch {
      // no clipboard permission (an http:// address, an old browser): the selected text is copied
      status.textContent = document.execCommand("copy") ? t("sites.copied") : t("sites.copy_by_hand");
    }
  };
  const channel = channelUrl
    ? el("input", { id: "channel-list-url", readonly: true, value: channelUrl, spellcheck: "false", autocomplete: "off",
      "aria-describedby": "channel-list-use" })
    : null;
  const dialog = el("dialog", { class: "confirm token", "aria-labelledby": "token-h", "aria-describedby": "token-warning" },
    el("h2", { id: "token-h" }, tf("sites.token_title", { name: site.name, code: site.code })),
    el("p", { id: "token-warning", class: "note" }, el("strong", {}, t("sites.token_once"))),
    el("label", { for: "token-value" }, t("sites.token_label")),
    value,
    el("p", { class: "muted small" }, t("sites.token_use")),
    ...(channel
      ? [el("label", { for: "channel-list-url" }, t("sites.channel_label")),
        channel,
        el("p", { id: "channel-list-use", class: "muted small" }, t("sites.channel_use"))]
      : [el("p", { class: "note" }, t("sites.channel_missing"))]),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "token-copy", onclick: copier(value, token) }, t("sites.copy")),
      channel ? el("button", { type: "button", id: "channel-copy", onclick: copier(channel, channelUrl) }, t("sites.channel_copy")) : null,
      el("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, t("sites.token_done")),
      status));
  dialog.addEventListener("close", () => {
    dialog.remove(); // the value leaves the page with the dialog
    if (before instanceof HTMLElement && before.isConnected) before.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  value.focus();
  value.select();
}

// --- registering one site ----------------------------------------------------------------------------

function field(name, attrs = {}, help = null) {
  const id = `site-${name}`;
  const input = el("input", { id, name, "aria-describedby": help ? `${id}-help` : null, ...attrs });
  return formField(id, t(`sites.field.${name}`), input, help);
}

function registerSection() {
  const error = el("p", { id: "register-error", class: "form-error", role: "alert", hidden: true });
  const done = el("div", { id: "register-done", class: "done", hidden: true, tabindex: -1 });
  const form = el("form", { id: "register-form" },
    el("div", { class: "fields" },
      field("code", { required: true, maxlength: 64, placeholder: "hb-xt-0012", autocomplete: "off", spellcheck: "false" },
        t("sites.help.code")),
      field("name", { required: true, maxlength: 200, placeholder: t("sites.example.name") }),
      field("region", { list: "known-regions", maxlength: 500, placeholder: "河北省/邢台市/临城县/…", autocomplete: "off" },
        t("sites.help.region")),
      el("div", { class: "field" },
        el("label", { for: "site-device_profile" }, t("sites.field.device_profile")),
        el("select", { id: "site-device_profile", name: "device_profile" },
          PROFILES.map((p) => el("option", { value: p }, t(`sites.profile.${p}`))))),
      field("quota_gb", { type: "number", min: 0.01, step: "any", inputmode: "decimal" }, t("sites.help.quota")),
      field("download_window", { maxlength: 11, placeholder: "01:00-05:00", autocomplete: "off" }, t("sites.help.window")),
      field("bandwidth_kbps", { type: "number", min: 1, step: 1, inputmode: "numeric" }, t("sites.help.bandwidth"))),
    error,
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("sites.register"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
    const gb = number(f.quota_gb);
    const body = {
      code: f.code.value.trim(),
      name: f.name.value.trim(),
      region: normalRegion(f.region.value),
      device_profile: f.device_profile.value,
      quota_bytes: gb === null ? null : Math.round(gb * 1024 ** 3),
      download_window: f.download_window.value.trim() || null,
      bandwidth_kbps: number(f.bandwidth_kbps),
    };
    error.hidden = true;
    let site;
    try {
      site = await api("/api/v1/sites", { method: "POST", json: body });
    } catch (err) {
      error.textContent = err.message; // the server says which field and what it should look like
      error.hidden = false;
      return;
    }
    form.reset();
    done.replaceChildren(
      el("p", {}, tf("sites.registered", { name: site.name, code: site.code })),
      el("p", { class: "muted small" }, t("sites.needs_token")),
      el("div", { class: "actions" },
        el("button", { type: "button", id: "register-token", "aria-label": tf("sites.token_for", { name: site.name }),
          onclick: () => createToken(site) }, t("sites.token_create")),
        site.region ? regionLink(site.region, t("sites.see_region")) : null));
    done.hidden = false;
    done.focus();
    refresh();
    loadKnownRegions();
  });
  return el("section", { class: "card", id: "register", "aria-labelledby": "register-h" },
    el("h2", { id: "register-h" }, t("sites.register_title")), form, done);
}

// --- bulk import -------------------------------------------------------------------------------------

function templateLink() {
  // A file Excel opens as Chinese (the BOM), with the header and one example row, in the page's language
  // (the import reads either: mediasrv.sites.registry).
  const text = `\ufeff${t("sites.import_columns")}\r\n${t("sites.import_example")}\r\n`;
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  return el("a", { href: url, download: "sites-template.csv" }, t("sites.import_template"));
}

function importSection() {
  const error = el("p", { id: "import-error", class: "form-error", role: "alert", hidden: true });
  const result = el("div", { id: "import-result", tabindex: -1, hidden: true });
  const form = el("form", { id: "import-form" },
    el("p", { class: "muted small" }, t("sites.import_help"), " ", el("code", {}, t("sites.import_columns")), " ",
      t("sites.import_devices"), " ", templateLink()),
    el("label", { for: "import-file" }, t("sites.import_file")),
    el("input", { id: "import-file", type: "file", name: "file", accept: ".csv,text/csv" }),
    el("label", { for: "import-text" }, t("sites.import_paste")),
    el("textarea", { id: "import-text", name: "text", rows: 6, spellcheck: "false", placeholder: t("sites.import_columns") }),
    error,
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("sites.import_go"))));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = form.elements.file.files[0];
    const text = form.elements.text.value;
    error.hidden = true;
    if (!file && !text.trim()) {
      error.textContent = t("sites.import_nothing");
      error.hidden = false;
      return;
    }
    // The file goes as its bytes: the server tells UTF-8 from GB18030 (what Chinese Excel saves).
    let answer;
    try {
      answer = await api("/api/v1/sites/import", {
        method: "POST", form: file || text, headers: { "Content-Type": "text/csv" },
      });
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    form.reset();
    showImport(result, answer);
    refresh();
    loadKnownRegions();
  });
  return el("section", { class: "card", id: "import", "aria-labelledby": "import-h" },
    el("h2", { id: "import-h" }, t("sites.import_title")), form, result);
}

function showImport(box, answer) {
  const { created, errors } = answer;
  box.replaceChildren(
    el("p", { id: "import-summary", class: errors.length ? "note" : "" },
      tf(errors.length ? "sites.imported_with_errors" : "sites.imported", { n: created.length, bad: errors.length })),
    errors.length ? el("table", { id: "import-errors" },
      el("caption", {}, t("sites.import_errors")),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("sites.line")), el("th", { scope: "col" }, t("sites.problem")))),
      el("tbody", {}, errors.map((x) => el("tr", { dataset: { line: x.line } },
        el("td", {}, tf("sites.line_n", { n: x.line })), el("td", {}, x.message))))) : null,
    created.length ? el("details", {},
      el("summary", {}, tf("sites.imported_list", { n: created.length })),
      el("ul", { class: "imported" }, created.map((s) => el("li", {},
        el("code", {}, s.code), " ", s.name, " ",
        el("button", { type: "button", class: "secondary small", "aria-label": tf("sites.token_for", { name: s.name }),
          onclick: () => createToken(s) }, t("sites.token_create")))))) : null);
  box.hidden = false;
  box.focus();
}

// --- the page ----------------------------------------------------------------------------------------

readUrl();
root.replaceChildren(
  live,
  el("datalist", { id: "known-regions" }),
  el("nav", { class: "jump small", "aria-label": t("sites.jump") },
    el("a", { href: "#register" }, t("sites.register_title")), " · ",
    el("a", { href: "#import" }, t("sites.import_title"))),
  overviewSection(),
  languagesSection(),
  sitesSection(),
  registerSection(),
  importSection());
await refresh();
schedule();
loadKnownRegions();
