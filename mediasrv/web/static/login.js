import { api, flash, page, t } from "/static/app.js";

const form = document.getElementById("login-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = new FormData(form);
  try {
    await api("/auth/login", { method: "POST", form: body });
    location.assign(page.next || "/");
  } catch (err) {
    flash(err.status === 401 ? t("login.failed") : err.message);
    form.password.select();
  }
});
