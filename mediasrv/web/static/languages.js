// A site's or a region's languages on the administrators' pages: their Chinese names (the server's
// table, page.languages, from media/languages.py) and a form of checkboxes that saves them (a fieldset
// with its legend: Tab and Space choose, Enter on the button saves).
import { el, page, t, tf } from "/static/app.js";

const NAMES = Object.fromEntries(page.languages || []);

/** "藏语、维吾尔语", or what no languages means. */
export function languageNames(tags) {
  return tags.length ? tags.map((tag) => NAMES[tag] || tag).join("、") : t("languages.none");
}

/** What a site (or a region's sites) holds: the names, and "继承自<region>" when they come from a
 * region (`from`: null the site's own, "" the whole network). */
export function heldText(tags, from, { own = null } = {}) {
  if (from === null || from === undefined || from === own) return languageNames(tags);
  return tf("languages.inherited", { languages: languageNames(tags), region: from || t("common.whole_network") });
}

/** A form choosing languages; `save(tags)` sends them and resolves to a message to announce (or
 * throws with the server's refusal, shown in the form). */
export function languageForm(id, { legend, chosen, help = null, save }) {
  const status = el("p", { id: `${id}-status`, class: "muted small", "aria-live": "polite" });
  const error = el("p", { id: `${id}-error`, class: "form-error", role: "alert", hidden: true });
  const boxes = (page.languages || []).map(([tag, name]) => el("label", { class: "check" },
    el("input", { type: "checkbox", name: "language", value: tag, checked: chosen.includes(tag) }), ` ${name}`));
  const form = el("form", { id, class: "languages-form" },
    el("fieldset", { "aria-describedby": help ? `${id}-help` : null },
      el("legend", {}, legend),
      help ? el("p", { id: `${id}-help`, class: "muted small" }, help) : null,
      el("div", { class: "checks" }, boxes)),
    error,
    el("div", { class: "actions" }, el("button", { type: "submit" }, t("languages.save")), status));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const tags = [...form.querySelectorAll("input[name=language]:checked")].map((x) => x.value);
    error.hidden = true;
    status.textContent = "";
    try {
      status.textContent = await save(tags);
    } catch (err) {
      error.textContent = err.message || t("common.error");
      error.hidden = false;
    }
  });
  return form;
}
