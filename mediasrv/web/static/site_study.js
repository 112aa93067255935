// One site's study month for administrators (站点学习记录): the monthly task, each required list with its
// programmes as the logbook has them beside the automatic records, the sessions with the programmes
// played, discussion notes and photos, and the automatic viewing records per day; then a form to record
// a session on the site's behalf (transcribing its paper logbook), with photos. The month is kept in
// the address; the site is in the path. Beside them: the site's open faults, its languages, and the
// programmes its manifest leaves out (未下载的节目) with why and the quota field that decides most.
import { api, beijing, callerName, classHours as hours, el, field as formField, minutesRounded, page, t, tf } from "/static/app.js";
import { heldText, languageForm } from "/static/languages.js";
import { isMonth, monthNav, thisMonth } from "/static/months.js";

const siteId = page.params.site_id;
const base = `/api/v1/sites/${encodeURIComponent(siteId)}`;
const root = document.getElementById("study-root");
const heading = document.getElementById("title");
const back = document.getElementById("back");
const content = el("div", { id: "study", "aria-busy": "true" });
let month = thisMonth();
let inflight = null;

const minutes = (value) => (value === null || value === undefined ? t("site_study.unknown") : minutesRounded(value));

function readUrl() {
  const q = new URLSearchParams(location.search).get("month");
  month = isMonth(q) ? q : thisMonth();
}

function badge(cls, text) {
  return el("span", { class: `badge ${cls}` }, text);
}

function programmeLink(id, text) {
  return el("a", { href: `/ui/programmes/${encodeURIComponent(id)}` }, text);
}

// --- the monthly task --------------------------------------------------------------------------------

function taskSection(c) {
  const stat = (key, value, extra, bad = false) => el("div", { class: `stat ${key}${bad ? " bad" : ""}` },
    el("dt", {}, t(`site_study.${key}`)),
    el("dd", {}, value, extra ? el("span", { class: "muted small" }, ` ${extra}`) : null));
  return el("section", { class: "card", "aria-labelledby": "task-h" },
    el("div", { class: "bar" },
      el("h2", { id: "task-h" }, tf("site_study.task_h", { month: c.month })),
      badge(c.task_met ? "met" : "behind", t(c.task_met ? "compliance.met" : "compliance.behind"))),
    el("p", { class: "muted small" }, tf("site_study.task", { sessions: c.task_sessions, hours: c.task_class_hours })),
    el("dl", { id: "task", class: "stats" },
      stat("sessions", c.sessions, tf("site_study.of_task", { n: c.sessions, task: c.task_sessions }), c.sessions < c.task_sessions),
      stat("class_hours", hours(c.class_hours), tf("site_study.of_task", { n: hours(c.class_hours), task: c.task_class_hours }),
        c.class_hours < c.task_class_hours),
      stat("minutes", c.minutes)));
}

// --- open faults: what the sweep found and what people reported; reported ones close with a note ----

function evidenceText(f) {
  const parts = f.reported ? [] : [f.summary]; // a reported one's summary is its kind, shown already
  if (f.reported && f.evidence.source === "site") {
    parts.push(tf("site_faults.reports", { n: f.evidence.reports, at: beijing(f.evidence.last_reported_at) }));
  }
  if (f.note) parts.push(f.note);
  return parts.join(" · ");
}

function closeForm(f) {
  const kind = t(`site_faults.kind.${f.kind}`);
  const id = `close-note-${f.id}`;
  const note = el("input", { id, name: "note", maxlength: 2000, required: true, autocomplete: "off",
    "aria-label": tf("site_faults.close_note_for", { kind }), placeholder: t("site_faults.close_note") });
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const button = el("button", { type: "submit", class: "secondary small", "aria-label": tf("site_faults.close_for", { kind }) },
    t("site_faults.close"));
  // novalidate: the note is checked here, so the message says what to write (a browser's own says less).
  const form = el("form", { class: "close-fault", novalidate: true, dataset: { fault: f.id } }, note, button, error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!note.value.trim()) {
      error.textContent = t("site_faults.need_note");
      error.hidden = false;
      note.focus();
      return;
    }
    button.disabled = true;
    try {
      await api(`/api/v1/faults/${encodeURIComponent(f.id)}/close`, { method: "POST", json: { note: note.value.trim() } });
    } catch (err) {
      error.textContent = err.message || t("common.error");
      error.hidden = false;
      button.disabled = false;
      return;
    }
    const done = document.getElementById("faults-done");
    done.textContent = tf("site_faults.closed", { kind });
    done.hidden = false;
    await showFaults();
    done.focus();
  });
  return form;
}

function faultRow(f) {
  return el("tr", { dataset: { fault: f.id, kind: f.kind } },
    el("th", { scope: "row" }, t(`site_faults.kind.${f.kind}`), " ",
      el("span", { class: "badge muted" }, t(f.reported ? "site_faults.reported" : "site_faults.detected"))),
    el("td", {}, el("time", { datetime: f.opened_at }, beijing(f.opened_at))),
    el("td", { class: "evidence" }, evidenceText(f)),
    el("td", {}, f.reported ? closeForm(f) : el("span", { class: "muted small" }, t("site_faults.closes_itself"))));
}

const faultsBox = el("section", { class: "card", id: "faults", "aria-labelledby": "faults-h" },
  el("h2", { id: "faults-h" }, t("site_faults.open_h")),
  el("p", { id: "faults-done", class: "done", role: "status", tabindex: -1, hidden: true }),
  el("div", { id: "faults-body" }));

/** The site's open faults (now, whatever month is shown). */
async function showFaults() {
  const body = document.getElementById("faults-body") || faultsBox.lastChild;
  let found;
  try {
    found = await api(`${base}/faults?limit=100`);
  } catch (err) {
    body.replaceChildren(el("p", { class: "form-error", role: "alert" }, err.message || t("common.error")));
    return;
  }
  body.replaceChildren(found.items.length
    ? el("table", { id: "fault-list" },
      el("thead", {}, el("tr", {}, ["kind", "since", "evidence", "action"]
        .map((c) => el("th", { scope: "col" }, t(`site_faults.col.${c}`))))),
      el("tbody", {}, found.items.map(faultRow)))
    : el("p", { class: "muted" }, t("site_faults.none_open")));
}

// --- what the site's manifest leaves out, why, and the quota that decides it -------------------------

const leftOutBox = el("section", { class: "card", id: "left-out", "aria-labelledby": "left-out-h" });

/** The quota field, in GB as the register form takes it; saving it rebuilds the list (the server
 * says again what is left out). Empty: no quota. */
function quotaForm(quotaBytes) {
  const input = el("input", { id: "left-out-quota", name: "quota_gb", type: "number", min: 0.01, step: "any",
    inputmode: "decimal", value: quotaBytes === null ? "" : String(Number((quotaBytes / 1024 ** 3).toPrecision(4))) });
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const form = el("form", { id: "quota-form" },
    formField("left-out-quota", t("site_left_out.quota"), input, t("sites.help.quota")),
    el("button", { type: "submit", class: "secondary" }, t("site_left_out.save_quota")), error);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    const gb = input.value.trim() === "" ? null : Number(input.value);
    try {
      await api(base, { method: "PATCH", json: { quota_bytes: gb === null ? null : Math.round(gb * 1024 ** 3) } });
    } catch (err) {
      error.textContent = err.message; // the server says what a quota may be
      error.hidden = false;
      return;
    }
    await showLeftOut();
    const done = document.getElementById("left-out-done");
    done.textContent = t("site_left_out.quota_saved");
    done.hidden = false;
    done.focus();
  });
  return form;
}

function leftOutItem(item) {
  return el("li", { dataset: { programme: item.id, code: item.code } },
    item.required ? [badge("behind", t("site_left_out.required")), " "] : null,
    el("span", { class: "message" }, item.message),
    item.advice ? el("p", { class: "muted small advice" }, item.advice) : null);
}

/** The programmes the site's current manifest leaves out, each with the server's sentence and what to
 * do, and the quota that decides most of them (now, whatever month is shown). */
async function showLeftOut() {
  let found;
  try {
    found = await api(`${base}/dropped`);
  } catch (err) {
    leftOutBox.replaceChildren(el("p", { class: "form-error", role: "alert" }, err.message || t("common.error")));
    return;
  }
  leftOutBox.replaceChildren(...[ // replaceChildren would write null as text: the absent parts are dropped
    el("h2", { id: "left-out-h" }, t("site_left_out.title")),
    el("p", { id: "left-out-done", class: "done", role: "status", tabindex: -1, hidden: true }),
    el("p", { id: "left-out-usage", class: "muted" }, found.usage),
    found.over_quota_message
      ? el("p", { id: "left-out-over", class: "note" }, el("strong", {}, found.over_quota_message), " ", found.over_quota_advice)
      : null,
    found.items.length
      ? el("ul", { id: "left-out-list", class: "left-out" }, found.items.map(leftOutItem))
      : el("p", { class: "muted" }, t("site_left_out.none")),
    quotaForm(found.quota_bytes)].filter(Boolean));
}

// --- required lists ----------------------------------------------------------------------------------

function programmeRow(p) {
  return el("tr", { dataset: { programme: p.programme_id, state: p.state } },
    el("th", { scope: "row" }, programmeLink(p.programme_id, p.title)),
    el("td", { class: "duration" }, minutes(p.duration_minutes)),
    el("td", { class: "watched" }, minutes(p.watched_minutes)),
    el("td", { class: "state" }, badge(`state-${p.state}`, t(`site_study.state.${p.state}`))),
    el("td", { class: "agent" }, minutes(p.agent_minutes)),
    el("td", { class: "central" }, minutes(p.central_minutes)),
    el("td", { class: "evidenced" }, p.evidenced ? badge("yes", t("site_study.yes")) : t("site_study.no")));
}

function listBlock(l, i) {
  const id = `list-${i}-h`;
  return el("section", { class: "study-list", "aria-labelledby": id, dataset: { list: l.study_list_id } },
    el("h3", { id }, l.title),
    el("p", {},
      tf("site_study.list_period", { first: l.first, last: l.last }), " · ",
      tf("site_study.list_hours", { hours: hours(l.class_hours), expected: l.expected_hours }), " ",
      badge(l.hours_met ? "met" : "behind", t(l.hours_met ? "site_study.hours_met" : "site_study.hours_short"))),
    el("p", { class: "counts" }, tf("site_study.list_counts", {
      fully: l.fully, partly: l.partly, not: l.not_watched, evidenced: l.evidenced,
    })),
    el("table", { class: "programmes" },
      el("caption", { class: "visually-hidden" }, l.title),
      el("thead", {}, el("tr", {}, ["programme", "duration", "watched", "state", "agent", "central", "evidenced"]
        .map((c) => el("th", { scope: "col" }, t(`site_study.col.${c}`))))),
      el("tbody", {}, l.programmes.map(programmeRow))));
}

function listsSection(c) {
  return el("section", { class: "card", id: "lists", "aria-labelledby": "lists-h" },
    el("h2", { id: "lists-h" }, t("site_study.lists_h")),
    c.lists.length
      ? [el("p", { class: "muted small" }, t("site_study.evidence_note")), ...c.lists.map(listBlock)]
      : el("p", { class: "muted" }, t("site_study.no_lists")));
}

// --- sessions ----------------------------------------------------------------------------------------

function photoList(s, at) {
  if (!s.photos.length) return el("span", { class: "muted" }, t("site_study.no_photos"));
  return el("ul", { class: "photos" }, s.photos.map((p, i) => {
    const src = `${base}/sessions/${encodeURIComponent(s.id)}/photos/${encodeURIComponent(p.id)}`;
    const alt = tf("site_study.photo_alt", { at, n: i + 1, width: p.width, height: p.height });
    const shown = Math.min(160, p.width);
    return el("li", {}, el("a", { href: src, target: "_blank", rel: "noopener", "aria-label": tf("site_study.photo_open", { alt }) },
      el("img", { src, alt, loading: "lazy", width: shown, height: Math.round((p.height * shown) / (p.width || 1)) })));
  }));
}

function sessionArticle(s, titles, i) {
  const at = beijing(s.started_at);
  const id = `session-${i}-h`;
  const played = s.programmes.map((p) => {
    const title = titles.get(p.programme_id) ?? p.programme_id;
    return el("li", {}, programmeLink(p.programme_id, p.minutes === null
      ? tf("site_study.played_whole", { title }) : tf("site_study.played_minutes", { title, minutes: p.minutes })));
  });
  return el("article", { class: "session", "aria-labelledby": id, dataset: { id: s.id } },
    el("h3", { id }, el("time", { datetime: s.started_at }, tf("site_study.session_h", {
      at, minutes: s.minutes, members: s.members_present,
    }))),
    el("dl", { class: "facts" },
      el("dt", {}, t("site_study.played")),
      el("dd", { class: "played" }, played.length ? el("ul", { class: "played" }, played) : el("span", { class: "muted" }, t("site_study.none_played"))),
      el("dt", {}, t("site_study.notes")),
      el("dd", { class: "notes" }, s.notes || el("span", { class: "muted" }, t("site_study.no_notes"))),
      el("dt", {}, t("site_study.photos")),
      el("dd", {}, photoList(s, at))),
    el("p", { class: "muted small" }, tf("site_study.recorded", { by: callerName(s.recorded_by), at: beijing(s.received_at) })));
}

function sessionsSection(sessions, titles) {
  return el("section", { class: "card", id: "sessions", "aria-labelledby": "sessions-h" },
    el("h2", { id: "sessions-h" }, tf("site_study.sessions_h", { n: sessions.length })),
    sessions.length
      ? sessions.map((s, i) => sessionArticle(s, titles, i))
      : el("p", { class: "muted" }, t("site_study.no_sessions")),
    el("p", { class: "small" }, el("a", { href: "#record" }, t("site_study.record.jump"))));
}

// --- automatic viewing records ------------------------------------------------------------------------

function viewingSection(rows) {
  if (!rows.length) {
    return el("section", { class: "card", id: "viewing-card" }, el("p", { class: "muted" }, t("site_study.no_viewing")));
  }
  return el("section", { class: "card", id: "viewing-card" },
    el("details", {},
      el("summary", {}, tf("site_study.viewing_h", { n: rows.length })),
      el("p", { class: "muted small" }, t("site_study.viewing_note")),
      el("table", { id: "viewing" },
        el("thead", {}, el("tr", {}, ["day", "programme", "source", "minutes", "players"]
          .map((c) => el("th", { scope: "col" }, t(`site_study.col.${c}`))))),
        el("tbody", {}, rows.map((r) => el("tr", { dataset: { day: r.day, source: r.source } },
          el("td", {}, r.day),
          el("td", {}, programmeLink(r.programme_id, r.title)),
          el("td", {}, t(`site_study.source.${r.source}`)),
          el("td", {}, minutes(r.minutes)),
          el("td", {}, r.players)))))));
}

// --- recording a session on the site's behalf (a paper logbook transcribed) ----------------------------

/** A session's client id (a v4 UUID): made once per filled form and kept for every retry, so a double
 * click or an answer lost to the network records the session once. randomUUID() exists only in a
 * secure context (https, localhost); elsewhere the same from getRandomValues(). */
function newId() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A datetime-local value ("2026-11-20T19:30", or typed with a space where there is no picker) read as
 * Beijing time: "2026-11-20T19:30:00+08:00", whatever the browser's zone. null if it is not a time. */
function beijingTime(text) {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:\.\d+)?)?$/.exec(text.trim());
  return m ? `${m[1]}T${m[2]}${m[3] ?? ":00"}+08:00` : null;
}

const numberOf = (input) => (input.value.trim() === "" ? null : Number(input.value));

/** The form, built once and kept across reloads of the records (so a refusal and what was typed stay);
 * update(c) fills its programme choices from the month's required lists. After the session is kept,
 * its fields are locked and only photos remain to send (again, if one was refused). */
function recorder() {
  let id = newId();
  let recorded = null; // the session the server kept under `id`
  let held = null; // what was sent under `id` when its answer was lost: it may be kept, so it goes again as it was
  let sending = false;
  const field = (name, control, help = null) => formField(`record-${name}`, t(`site_study.record.${name}`), control, help);
  const started = el("input", {
    type: "datetime-local", id: "record-started", name: "started", required: true, autocomplete: "off",
    pattern: "\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}", placeholder: "2026-11-20 19:30", // where there is no picker
    "aria-describedby": "record-started-help",
  });
  const length = el("input", { type: "number", id: "record-minutes", name: "minutes", required: true, min: 1, max: 1440,
    step: 1, inputmode: "numeric" });
  const members = el("input", { type: "number", id: "record-members", name: "members", required: true, min: 0,
    max: 100000, step: 1, inputmode: "numeric" });
  const notes = el("textarea", { id: "record-notes", name: "notes", rows: 4, maxlength: 10000 });
  const choices = el("tbody");
  const choiceTable = el("table", { id: "record-choices" },
    el("thead", {}, el("tr", {}, ["play", "programme", "minutes"].map((c) =>
      el("th", { scope: "col" }, t(`site_study.record.col.${c}`))))),
    choices);
  const noChoice = el("p", { class: "muted", hidden: true }, t("site_study.record.no_programmes"));
  const photos = el("input", { type: "file", id: "record-photos", name: "photos", multiple: true,
    accept: "image/jpeg,image/png,.jpg,.jpeg,.png" });
  const details = el("fieldset", { id: "record-session" },
    el("legend", { class: "visually-hidden" }, t("site_study.record.h")),
    el("div", { class: "fields" },
      field("started", started, t("site_study.record.started_help")),
      field("minutes", length),
      field("members", members)),
    el("fieldset", { id: "record-programmes", "aria-describedby": "record-programmes-help" },
      el("legend", {}, t("site_study.record.programmes")),
      el("p", { id: "record-programmes-help", class: "muted small" }, t("site_study.record.programmes_help")),
      choiceTable, noChoice),
    field("notes", notes));
  const error = el("div", { id: "record-error", class: "form-error", role: "alert", hidden: true });
  const kept = el("p", { id: "record-kept", class: "note", hidden: true });
  const done = el("p", { id: "record-done", class: "done", role: "status", tabindex: -1, hidden: true });
  const submit = el("button", { type: "submit", id: "record-submit" }, t("site_study.record.submit"));
  const another = el("button", { type: "button", id: "record-another", class: "secondary", hidden: true,
    onclick: () => { reset(); started.focus(); } }, t("site_study.record.another"));
  const form = el("form", { id: "record-form", "aria-labelledby": "record-h" },
    kept, details, field("photos", photos), error, el("div", { class: "actions" }, submit, another));
  const section = el("section", { class: "card", id: "record", "aria-labelledby": "record-h", hidden: true },
    el("h2", { id: "record-h" }, t("site_study.record.h")),
    el("p", { class: "muted small" }, t("site_study.record.intro")),
    form, done);

  function fail(...message) {
    error.replaceChildren(...message.filter((m) => m !== null));
    error.hidden = false;
  }

  function setSending(on) {
    sending = on;
    submit.disabled = on;
    another.disabled = on;
    form.setAttribute("aria-busy", String(on));
  }

  /** Sent, but the answer was lost (the network, a proxy): the server may have kept the session under
   * `id`, and would answer a corrected retry with that first record, the correction silently lost. So
   * the fields are locked and a retry sends `body` as it was; a refusal (4xx) unlocks them. */
  function hold(body) {
    held = body;
    details.disabled = Boolean(body);
  }

  /** Recorded: the session's fields can no longer change it (the id is spent); photos still can come. */
  function lock(session) {
    recorded = session;
    held = null;
    details.disabled = Boolean(session);
    kept.hidden = !session;
    kept.textContent = session ? tf("site_study.record.kept", { at: beijing(session.started_at) }) : "";
    submit.textContent = t(session ? "site_study.record.send_photos" : "site_study.record.submit");
    another.hidden = !session;
  }

  function reset() {
    form.reset();
    id = newId(); // a new filled form, a new session
    lock(null);
    error.hidden = true;
  }

  /** The programmes ticked, in the order shown; minutes left empty: played whole. */
  function played() {
    return [...choices.querySelectorAll("[data-programme]")]
      .filter((row) => row.querySelector("input[type=checkbox]").checked)
      .map((row) => ({ programme_id: row.dataset.programme, minutes: numberOf(row.querySelector("input[type=number]")) }));
  }

  async function sendPhotos(session) {
    const refused = [];
    let count = 0;
    for (const file of photos.files) {
      const body = new FormData();
      body.append("file", file, file.name);
      try {
        await api(`${base}/sessions/${encodeURIComponent(session.id)}/photos`, { method: "POST", form: body });
        count += 1;
      } catch (err) {
        // the server's 413/415 names the file; a network error or a proxy's refusal does not
        const message = err.message || t("common.error");
        refused.push(message.includes(file.name) ? message : tf("site_study.record.photo_failed", { name: file.name, message }));
      }
    }
    return { count, refused };
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (sending) return;
    error.hidden = true;
    done.hidden = true;
    let body = null;
    if (held) {
      body = held; // as it was first sent: the server may have it already
    } else if (!recorded) {
      const at = beijingTime(started.value);
      if (!at) {
        fail(t("site_study.record.bad_time"));
        started.focus();
        return;
      }
      body = { id, started_at: at, minutes: numberOf(length), members_present: numberOf(members), notes: notes.value,
        programmes: played() };
    } else if (photos.files.length === 0) {
      fail(t("site_study.record.choose_photos"));
      photos.focus();
      return;
    }
    setSending(true); // before any wait: a second click meets a disabled button
    let outcome;
    try {
      if (!recorded) {
        try {
          lock(await api(`${base}/sessions`, { method: "POST", json: body })); // the same id again: the first record
        } catch (err) {
          const refused = err.status >= 400 && err.status < 500; // the server says which field and what it should be
          hold(refused ? null : body);
          fail(el("p", {}, err.message || t("common.error")), refused ? null : el("p", {}, t("site_study.record.held")));
          return;
        }
      }
      outcome = await sendPhotos(recorded);
    } finally {
      setSending(false);
    }
    const at = beijing(recorded.started_at);
    if (outcome.refused.length) {
      photos.value = "";
      fail(el("p", {}, tf("site_study.record.photos_refused", { at, kept: outcome.count })),
        el("ul", {}, outcome.refused.map((m) => el("li", {}, m))));
    } else {
      reset();
      done.textContent = outcome.count
        ? tf("site_study.record.done_photos", { at, n: outcome.count }) : tf("site_study.record.done", { at });
      done.hidden = false;
      done.focus();
    }
    show(); // the session (and its photos) among the records above
  });

  /** The programmes of the month's required lists to choose from; what was ticked or typed stays. */
  function update(c) {
    const before = new Map([...choices.querySelectorAll("[data-programme]")].map((row) => [row.dataset.programme, {
      checked: row.querySelector("input[type=checkbox]").checked, minutes: row.querySelector("input[type=number]").value,
    }]));
    const titles = new Map();
    for (const l of c.lists) for (const p of l.programmes) if (!titles.has(p.programme_id)) titles.set(p.programme_id, p.title);
    choices.replaceChildren(...[...titles].map(([pid, title], i) => {
      const box = el("input", { type: "checkbox", id: `record-p-${i}`, value: pid });
      const mins = el("input", { type: "number", id: `record-pm-${i}`, min: 0, max: 1440, step: 1, inputmode: "numeric",
        "aria-label": tf("site_study.record.minutes_of", { title }),
        oninput: () => { if (mins.value !== "") box.checked = true; } }); // minutes given: it was played
      // as properties, not attributes: a reset after recording clears them
      box.checked = Boolean(before.get(pid)?.checked);
      mins.value = before.get(pid)?.minutes ?? "";
      return el("tr", { dataset: { programme: pid } },
        el("td", {}, box), el("th", { scope: "row" }, el("label", { for: box.id }, title)), el("td", {}, mins));
    }));
    choiceTable.hidden = titles.size === 0;
    noChoice.hidden = titles.size > 0;
    section.hidden = false;
  }

  return { section, update };
}

const record = recorder();

// --- loading -----------------------------------------------------------------------------------------

/** Titles for the programmes the sessions played: from the lists and the viewing records, and the
 * catalog for any other (a programme played beyond what the lists ask). */
async function programmeTitles(c, viewing, sessions, signal) {
  const titles = new Map();
  for (const l of c.lists) for (const p of l.programmes) titles.set(p.programme_id, p.title);
  for (const r of viewing) titles.set(r.programme_id, r.title);
  const missing = [...new Set(sessions.flatMap((s) => s.programmes.map((p) => p.programme_id)))].filter((id) => !titles.has(id));
  await Promise.all(missing.map(async (id) => {
    const found = await api(`/api/v1/programmes/${encodeURIComponent(id)}`, { signal }).catch(() => null);
    if (found) titles.set(id, found.title);
  }));
  return titles;
}

async function show({ focus = false } = {}) {
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  const signal = controller.signal;
  content.setAttribute("aria-busy", "true");
  try {
    const q = `month=${encodeURIComponent(month)}`;
    const [c, sessions, viewing] = await Promise.all(
      [`${base}/compliance?${q}`, `${base}/sessions?${q}`, `${base}/viewing?${q}`].map((path) => api(path, { signal })));
    const titles = await programmeTitles(c, viewing, sessions, signal);
    heading.textContent = tf("site_study.title", { name: c.name });
    document.title = `${heading.textContent} · ${t("common.app")}`;
    back.href = `/ui/admin/compliance?${new URLSearchParams({ month: c.month, ...(c.region ? { region: c.region } : {}) })}`;
    document.getElementById("site-line").textContent = tf("site_study.site", {
      code: c.code, region: c.region || t("compliance.no_region"),
    });
    content.replaceChildren(taskSection(c), listsSection(c), sessionsSection(sessions, titles), viewingSection(viewing));
    record.update(c);
    if (focus) heading.focus();
  } catch (err) {
    if (err.name === "AbortError") return;
    // no such site, or the server's refusal: said where the records would be, not only in a flash
    content.replaceChildren(el("p", { id: "study-error", class: "form-error", role: "alert" }, err.message || t("common.error")));
  } finally {
    if (inflight === controller) {
      inflight = null;
      content.setAttribute("aria-busy", "false");
    }
  }
}

// --- the site's languages ---------------------------------------------------------------------------

const languagesBox = el("section", { class: "card", id: "site-languages", "aria-labelledby": "site-languages-h" });

/** What the site holds (its own languages, else its region's: "继承自<region>") and the form that
 * chooses its own; none chosen: its region's. */
async function showLanguages() {
  let site;
  try {
    site = await api(base);
  } catch (err) {
    languagesBox.replaceChildren(el("p", { class: "form-error", role: "alert" }, err.message || t("common.error")));
    return;
  }
  languagesBox.replaceChildren(
    el("h2", { id: "site-languages-h" }, t("languages.title")),
    el("p", { id: "site-languages-held" }, heldText(site.effective_languages, site.languages_from)),
    languageForm("site-languages-form", {
      legend: t("languages.choose"),
      chosen: site.languages,
      help: t("languages.site_help"),
      save: async (tags) => {
        await api(base, { method: "PATCH", json: { languages: tags } });
        await showLanguages();
        document.querySelector("#site-languages-form button[type=submit]")?.focus();
        document.getElementById("site-languages-form-status").textContent = t("languages.saved");
        return t("languages.saved");
      },
    }));
}

window.addEventListener("popstate", () => {
  readUrl();
  document.getElementById("month").value = month;
  show({ focus: true });
});

readUrl();
root.replaceChildren(
  el("p", { id: "site-line", class: "muted" }),
  monthNav(month, (m) => {
    month = m;
    history.pushState(null, "", `${location.pathname}?month=${m}`);
    show();
  }),
  languagesBox,
  faultsBox,
  leftOutBox,
  content,
  record.section);
await Promise.all([show(), showFaults(), showLanguages(), showLeftOut()]);
