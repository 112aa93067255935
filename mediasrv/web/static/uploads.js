// 我的上传: the files this producer's department uploaded (an administrator: every upload), newest
// first, each with its state (waiting, transcoding n %, ready, failed) and the way on: the programme
// made of it, or the programme form (/ui/upload?asset=) when none was saved yet.
import { api, attempt, beijing, el, pager, t } from "/static/app.js";

const root = document.getElementById("uploads-root");
const PER_PAGE = 50;
let offset = 0;
let programmes = new Map(); // asset id -> programme made of it

function size(n) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function state(a) {
  const said = a.status === "processing"
    ? `${t("uploads.status.processing")} ${Math.floor(a.progress)} %`
    : t(`uploads.status.${a.status}`);
  const badge = el("span", { class: `badge media-${a.status}` }, said);
  return a.status === "failed" && a.error ? [badge, el("div", { class: "muted small" }, a.error)] : [badge];
}

function next(a) {
  if (a.kind === "document") return el("span", { class: "muted" }, t("uploads.handout"));
  const made = programmes.get(a.id);
  if (made) {
    return el("a", { href: `/ui/programmes/${encodeURIComponent(made.id)}` },
      `${t("uploads.open_programme")}：${made.title}`);
  }
  if (a.status === "failed") return el("span", { class: "muted" }, t("uploads.upload_again"));
  return el("a", { href: `/ui/upload?asset=${encodeURIComponent(a.id)}` }, t("uploads.describe"));
}

function row(a) {
  return el("tr", { dataset: { id: a.id, status: a.status } },
    el("td", {}, el("div", {}, a.title || a.filename), el("div", { class: "muted small" }, a.filename)),
    el("td", {}, t(`uploads.kind.${a.kind}`)),
    el("td", {}, size(a.size_bytes)),
    el("td", {}, beijing(a.created_at)),
    el("td", { class: "state" }, state(a)),
    el("td", {}, next(a)));
}

async function load() {
  const query = new URLSearchParams({ limit: String(PER_PAGE), offset: String(offset) });
  const found = await attempt(() => api(`/api/v1/assets?${query}`));
  if (!found) return;
  document.getElementById("uploads-body").replaceChildren(...found.items.map(row));
  document.getElementById("uploads-empty").hidden = found.items.length > 0;
  pager(document.getElementById("pager"), {
    offset, limit: PER_PAGE, total: found.total, shown: found.items.length, hidden: found.total <= PER_PAGE,
    words: { range: "uploads.shown", prev: "uploads.prev", next: "uploads.next" },
    onPage: (to) => { offset = to; load(); },
  });
}

root.replaceChildren(
  el("section", { class: "card" },
    el("table", {},
      el("thead", {}, el("tr", {}, ["title", "kind", "size", "uploaded", "state", "programme"].map((c) =>
        el("th", { scope: "col" }, t(`uploads.col.${c}`))))),
      el("tbody", { id: "uploads-body" })),
    el("p", { id: "uploads-empty", class: "muted", hidden: true }, t("uploads.none")),
    el("div", { id: "pager", class: "pager" })));
// The department's programmes (drafts included), to link each upload to the one made of it.
const made = await api("/api/v1/programmes?limit=200").catch(() => ({ items: [] }));
programmes = new Map(made.items.filter((p) => p.asset_id).map((p) => [p.asset_id, p]));
await load();
