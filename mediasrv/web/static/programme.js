// One programme: what it is and where it is published (发布范围), its player (hls.js, or the browser's
// own HLS), its handouts, and for administrators Publish (to a region inside the scope) and Withdraw.
import { ApiError, api, attempt, el, flash, page, publicationRegion, regionField, regionText, t } from "/static/app.js";

const id = page.params.programme_id;
const root = document.getElementById("programme-root");
const heading = document.getElementById("title");
const article = document.getElementById("programme");
let hls = null; // the hls.js instance of the current player, destroyed before a new one

function categoryName(category) {
  return page.lang === "en" ? category.name_en : category.name_zh;
}

function duration(seconds) {
  const s = Math.round(seconds);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString(page.lang === "en" ? "en" : "zh-CN") : "";
}

function notice(text, kind = "note") {
  return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : null }, text);
}

/** The links to play: signed ones from the API; for a programme of another department (whose asset
 * the API will not sign for a producer) the stable /hls links, which this browser's session opens. */
async function links(assetId) {
  try {
    return await api(`/api/v1/assets/${encodeURIComponent(assetId)}/playback`);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
    return { master: `/hls/${assetId}/master.m3u8`, poster: `/hls/${assetId}/poster.jpg` };
  }
}

function player(programme, box, { refreshes = 1 } = {}) {
  if (!programme.asset_id) return box.replaceChildren(notice(t("programme.no_media")));
  if (programme.kind === "document") return box.replaceChildren(notice(t("programme.is_document")));
  if (programme.asset_status !== "ready") {
    const kind = programme.asset_status === "failed" ? "error" : "note";
    return box.replaceChildren(notice(t(`programme.not_ready.${programme.asset_status}`), kind));
  }
  const video = el("video", { controls: true, preload: "metadata", playsinline: true, "aria-label": programme.title });
  const status = el("div", { class: "player-status", "aria-live": "polite" });
  box.replaceChildren(video, status);
  const fail = (text) => status.replaceChildren(notice(text, "error"));

  (async () => {
    let found;
    try {
      found = await links(programme.asset_id);
    } catch (err) {
      return fail(t("programme.play_failed") + err.message);
    }
    if (found.poster) video.poster = found.poster;
    hls?.destroy();
    hls = null;
    const Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      hls = new Hls();
      let recovered = false;
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return; // hls.js retries those itself
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
          recovered = true; // one recovery attempt, then say so
          hls.recoverMediaError();
          return;
        }
        const code = data.response && data.response.code;
        if ((code === 401 || code === 403) && refreshes > 0) {
          // A signed link expired (the page stayed open for long): fresh links, same position.
          const at = video.currentTime;
          player(programme, box, { refreshes: refreshes - 1 });
          box.querySelector("video")?.addEventListener("loadedmetadata", (e) => (e.target.currentTime = at), { once: true });
          return;
        }
        fail(data.type === Hls.ErrorTypes.NETWORK_ERROR ? t("programme.play_network") : t("programme.play_media"));
      });
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => captionMenu(hls, status));
      hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, () => showChosen(hls));
      hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => audioMenu(hls, status));
      hls.loadSource(found.master);
      hls.attachMedia(video);
      seekToHash(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = found.master; // Safari, iOS and some TV browsers play HLS themselves (and its captions)
      seekToHash(video);
      video.addEventListener("error", () => fail(t("programme.play_network")), { once: true });
    } else {
      fail(Hls ? t("programme.no_player") : t("programme.no_hls_js"));
    }
  })();
}

/** The caption languages of the film: a native select (reachable by Tab, changed with the arrow keys),
 * starting at the track the master playlist makes the default (the programme's language). */
function captionMenu(hls, status) {
  const tracks = hls.subtitleTracks;
  document.getElementById("captions")?.closest("p").remove();
  if (!tracks.length) return;
  const select = el(
    "select",
    { id: "captions" },
    el("option", { value: "-1" }, t("programme.captions_off")),
    tracks.map((track, i) => el("option", { value: String(i), lang: track.lang || null }, track.name)),
  );
  select.addEventListener("change", () => {
    const i = Number(select.value);
    hls.subtitleDisplay = i >= 0;
    hls.subtitleTrack = i;
  });
  status.before(el("p", { class: "captions" }, el("label", { for: "captions" }, `${t("programme.captions")}：`), select));
  showChosen(hls);
}

function showChosen(hls) {
  const select = document.getElementById("captions");
  const chosen = hls.subtitleTrack;
  if (select) select.value = String(hls.subtitleDisplay && chosen >= 0 ? chosen : -1);
}

/** The film's spoken languages (a dubbed Tibetan or Uyghur track: the master's AUDIO group), when it
 * has more than one: a native select like the captions', starting at the film's own sound. */
function audioMenu(hls, status) {
  const tracks = hls.audioTracks;
  document.getElementById("audio-language")?.closest("p").remove();
  if (tracks.length < 2) return;
  const select = el(
    "select",
    { id: "audio-language" },
    tracks.map((track, i) => el("option", { value: String(i), lang: track.lang || null }, track.name)),
  );
  select.value = String(Math.max(hls.audioTrack, 0));
  select.addEventListener("change", () => {
    hls.audioTrack = Number(select.value);
  });
  const label = el("label", { for: "audio-language" }, `${t("programme.audio_language")}：`);
  status.before(el("p", { class: "audio-language" }, label, select));
}

/** #t=<seconds> (a search hit said in the film): start playing from there. */
function seekToHash(video) {
  const seek = () => {
    const m = /^#t=(\d+(?:\.\d+)?)$/.exec(location.hash);
    if (!m) return;
    const at = Number(m[1]);
    if (video.readyState >= 1) video.currentTime = at;
    else video.addEventListener("loadedmetadata", () => (video.currentTime = at), { once: true });
  };
  seek();
  window.addEventListener("hashchange", seek);
}

function attachments(programme) {
  if (!programme.attachments.length) return null;
  return el(
    "section",
    { class: "attachments" },
    el("h2", {}, t("programme.attachments")),
    el(
      "ul",
      {},
      programme.attachments.map((a) =>
        el(
          "li",
          {},
          a.status === "ready"
            ? el("a", { href: `/hls/${encodeURIComponent(a.asset_id)}/document.pdf`, download: a.filename }, `${t("programme.download")}：${a.filename}`)
            : [a.filename, " ", el("span", { class: "muted" }, t("programme.attachment_not_ready"))],
        ),
      ),
    ),
  );
}

function adminBox(programme) {
  if (page.role !== "admin") return null;
  const reason = el("input", { id: "withdraw-reason", maxlength: 500 });
  const act = (action, body, done) => async () => {
    const changed = await attempt(() => api(`/api/v1/programmes/${encodeURIComponent(id)}/${action}`, { method: "POST", json: body }));
    if (changed) {
      render(changed, { keepPlayer: true });
      flash(t(done), "info");
      document.getElementById(action === "publish" ? "withdraw" : "publish")?.focus();
    }
  };
  const published = programme.status === "published";
  const where = published ? null : regionField("publish-region", programme.region);
  return el(
    "section",
    { class: "card admin-box", "aria-labelledby": "admin-title" },
    el("h2", { id: "admin-title" }, t("programme.admin")),
    el("p", {}, `${t("programme.status")}：`, el("b", { id: "status" }, t(`programme.status.${programme.status}`))),
    published
      ? [
          el("label", { for: "withdraw-reason" }, t("programme.withdraw_reason")),
          reason,
          el("button", { type: "button", id: "withdraw", onclick: () => act("withdraw", { reason: reason.value }, "programme.withdrawn")() }, t("programme.withdraw")),
        ]
      : [
          ...where,
          el("button", { type: "button", id: "publish",
            onclick: () => act("publish", { region: publicationRegion(document.getElementById("publish-region")) }, "programme.published")() },
          t("programme.publish")),
        ],
  );
}

function facts(programme) {
  const rows = [
    [t("programme.category"), categoryName(programme.category)],
    [t("programme.status"), t(`programme.status.${programme.status}`)],
    [t("common.region"), regionText(programme.region)],
    programme.duration_seconds ? [t("programme.duration"), duration(programme.duration_seconds)] : null,
    programme.published_at ? [t("programme.published_at"), when(programme.published_at)] : null,
  ].filter(Boolean);
  return el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function render(programme, { keepPlayer = false } = {}) {
  heading.textContent = programme.title;
  document.title = `${programme.title} · ${t("common.app")}`;
  const old = document.getElementById("player");
  const box = keepPlayer && old ? old : el("div", { id: "player", class: "player", role: "region", "aria-label": t("programme.player") });
  const notes = [
    programme.status === "withdrawn" ? notice(t("programme.withdrawn_note"), "warn") : null,
    programme.status === "draft" ? notice(t("programme.draft_note"), "warn") : null,
  ];
  const parts = [
    ...notes,
    box,
    facts(programme),
    programme.tags.length
      ? el("p", { class: "tags" }, el("span", { class: "muted" }, `${t("programme.tags")}：`), programme.tags.map((tag) => el("span", { class: "tag" }, tag)))
      : null,
    el("section", {}, el("h2", {}, t("programme.description")), el("p", { class: "description" }, programme.description || t("programme.no_description"))),
    attachments(programme),
    adminBox(programme),
  ];
  root.replaceChildren(...parts.filter(Boolean)); // replaceChildren would write null as "null"
  if (!keepPlayer || !old) player(programme, box);
}

async function start() {
  // Back to the search this page was opened from, when it was one.
  const from = document.referrer && new URL(document.referrer);
  if (from && from.origin === location.origin && from.pathname === "/ui/catalog") {
    document.getElementById("back").href = from.pathname + from.search;
  }
  try {
    render(await api(`/api/v1/programmes/${encodeURIComponent(id)}`));
  } catch (err) {
    root.replaceChildren(notice(t("programme.not_found") + err.message, "error"));
  } finally {
    article.removeAttribute("aria-busy");
  }
}

start();
