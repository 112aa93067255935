// The site view's behaviour (the page itself is rendered by mediasrv/agent/page.py): a TV remote's
// arrow keys move the focus between programmes, OK plays one from this PC's own files, Back returns
// to the list with the focus on it. Plain script, no modules or newer syntax: TV browsers are old.
// Text is only ever set with textContent.
(function () {
  "use strict";
  var words = JSON.parse(document.getElementById("words").textContent);
  var list = document.getElementById("list");
  var player = document.getElementById("player");
  var video = document.getElementById("video");
  var nowPlaying = document.getElementById("now-playing");
  var message = document.getElementById("player-message");
  var back = document.getElementById("back");
  var hls = null; // the hls.js instance of the programme playing, destroyed on the way back
  var opener = null; // the programme button that opened the player: the focus returns to it
  // Back keys: browsers, LG webOS (461), Samsung Tizen (10009).
  var BACK_KEYS = { Escape: 1, Backspace: 1, BrowserBack: 1, GoBack: 1 };
  var BACK_CODES = { 461: 1, 10009: 1 };

  function canPlayHls() {
    return Boolean(window.Hls && window.Hls.isSupported()) || video.canPlayType("application/vnd.apple.mpegurl") !== "";
  }

  function say(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  if (!canPlayHls()) say(document.getElementById("no-player"), words.no_player);

  // --- spatial navigation: the nearest focusable in the arrow's direction ---------------------------

  var panel = null; // the record form shown instead of the list (like the player), or null

  function focusables() {
    var scope = panel || (player.hidden ? list.parentNode : player);
    return Array.prototype.filter.call(scope.querySelectorAll("[data-nav]"), function (el) {
      return el.offsetParent !== null; // visible ones only
    });
  }

  function centre(el) {
    var r = el.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2, r: r };
  }

  function move(direction) {
    var from = document.activeElement;
    var all = focusables();
    if (all.indexOf(from) < 0) {
      if (all.length) all[0].focus();
      return;
    }
    var a = centre(from);
    var best = null;
    var bestScore = Infinity;
    all.forEach(function (el) {
      if (el === from) return;
      var b = centre(el);
      var dx = b.x - a.x;
      var dy = b.y - a.y;
      var ahead =
        direction === "ArrowDown" ? b.r.top >= a.r.bottom - 1 :
        direction === "ArrowUp" ? b.r.bottom <= a.r.top + 1 :
        direction === "ArrowRight" ? b.r.left >= a.r.right - 1 :
        b.r.right <= a.r.left + 1;
      if (!ahead) return;
      // Along the arrow counts once, across it three times: Down goes to the row below, not aside.
      // Across is the gap between the two boxes (none when they overlap), not between their centres:
      // Down from a wide field reaches the narrow one under it, and the leftmost of a row of buttons.
      var vertical = direction === "ArrowDown" || direction === "ArrowUp";
      var gapX = Math.max(0, b.r.left - a.r.right, a.r.left - b.r.right);
      var gapY = Math.max(0, b.r.top - a.r.bottom, a.r.top - b.r.bottom);
      var score = vertical ? Math.abs(dy) + 3 * gapX : Math.abs(dx) + 3 * gapY;
      if (score < bestScore) {
        bestScore = score;
        best = el;
      }
    });
    if (best) {
      best.focus();
      best.scrollIntoView({ block: "nearest" });
      // Digits from the remote replace what a field holds (a default such as 60) rather than add to it.
      if (editable(best) && best.tagName !== "TEXTAREA" && best.select) best.select();
    }
  }

  // --- the player ------------------------------------------------------------------------------------

  function open(button) {
    opener = button;
    say(message, "");
    nowPlaying.textContent = button.getAttribute("data-title");
    list.hidden = true;
    player.hidden = false;
    var src = button.getAttribute("data-src");
    var Hls = window.Hls;
    if (Hls && Hls.isSupported()) {
      var recovered = false;
      hls = new Hls();
      hls.on(Hls.Events.ERROR, function (_event, data) {
        if (!data.fatal) return; // hls.js retries those itself
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
          recovered = true;
          hls.recoverMediaError();
          return;
        }
        say(message, data.type === Hls.ErrorTypes.NETWORK_ERROR ? words.play_network : words.play_media);
      });
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, function () {
        captionMenu(hls);
      });
      hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, function () {
        showChosen(hls);
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src; // the browser's own HLS (Safari, many TVs)
    } else {
      say(message, words.no_player);
    }
    video.focus();
    var started = video.play();
    if (started && started.catch) {
      started.catch(function (err) {
        // Autoplay refused (no user gesture the browser counts): the remote's OK starts it.
        if (err && err.name === "NotAllowedError") say(message, words.press_play);
      });
    }
    if (window.history && history.pushState) history.pushState({ playing: true }, "");
  }

  // The film's caption languages: a select the remote reaches (OK opens it), starting at the track
  // the master playlist makes the default (the programme's language).
  function captionMenu(player) {
    var row = document.getElementById("captions-row");
    var select = document.getElementById("captions");
    var tracks = player.subtitleTracks;
    row.hidden = !tracks.length;
    if (!tracks.length) return;
    select.textContent = "";
    var off = document.createElement("option");
    off.value = "-1";
    off.textContent = words.captions_off;
    select.appendChild(off);
    tracks.forEach(function (track, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = track.name;
      if (track.lang) option.lang = track.lang;
      select.appendChild(option);
    });
    select.onchange = function () {
      var i = Number(select.value);
      player.subtitleDisplay = i >= 0;
      player.subtitleTrack = i;
    };
    showChosen(player);
  }

  function showChosen(player) {
    var select = document.getElementById("captions");
    select.value = String(player.subtitleDisplay && player.subtitleTrack >= 0 ? player.subtitleTrack : -1);
  }

  function close() {
    if (player.hidden) return;
    video.pause();
    if (hls) {
      hls.destroy();
      hls = null;
    }
    video.removeAttribute("src");
    video.load();
    document.getElementById("captions-row").hidden = true;
    player.hidden = true;
    list.hidden = false;
    if (opener) {
      opener.focus();
      opener.scrollIntoView({ block: "nearest" });
    }
  }

  function leave() {
    // The history entry pushed by open(): going back through it closes the player (popstate).
    if (history.state && history.state.playing) history.back();
    else close();
  }

  video.addEventListener("error", function () {
    if (!hls) say(message, words.play_media);
  });
  video.addEventListener("playing", function () {
    if (message.textContent === words.press_play) say(message, "");
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button.play") : null;
    if (button) open(button);
  });
  back.addEventListener("click", leave);
  window.addEventListener("popstate", function () {
    close();
    closePanel();
  });

  // In a form the remote's keys still move between fields, with a few exceptions: Left and Right
  // move the caret in text (and between the parts of a date), OK ticks a box or goes to the next
  // field instead of sending the form, and Backspace deletes rather than going back.
  function editable(el) {
    var tag = el && el.tagName;
    if (tag === "TEXTAREA") return true;
    if (tag !== "INPUT") return false;
    return ["checkbox", "radio", "file", "button", "submit", "hidden"].indexOf(el.type) < 0;
  }

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    var inPlayer = !player.hidden;
    var el = document.activeElement;
    if (panel) {
      if (BACK_KEYS[key] || BACK_CODES[event.keyCode]) {
        if (key === "Backspace" && editable(el)) return;
        event.preventDefault();
        leavePanel();
        return;
      }
      if (key === "Enter" && el && (el.type === "checkbox" || el.type === "radio")) {
        event.preventDefault();
        el.click();
        return;
      }
      if (key === "Enter" && editable(el) && el.tagName !== "TEXTAREA") {
        event.preventDefault();
        move("ArrowDown");
        return;
      }
      if ((key === "ArrowLeft" || key === "ArrowRight") && editable(el)) return;
    }
    if (inPlayer && (BACK_KEYS[key] || BACK_CODES[event.keyCode])) {
      event.preventDefault();
      leave();
      return;
    }
    if (inPlayer && document.activeElement === video) {
      // On the video: OK pauses and plays, left and right seek, down reaches the Back button.
      if (key === "Enter" || key === " ") {
        event.preventDefault();
        if (video.paused) video.play();
        else video.pause();
        return;
      }
      if (key === "ArrowLeft" || key === "ArrowRight") {
        event.preventDefault();
        video.currentTime = Math.max(0, video.currentTime + (key === "ArrowLeft" ? -10 : 10));
        return;
      }
    }
    if (key === "ArrowUp" || key === "ArrowDown" || key === "ArrowLeft" || key === "ArrowRight") {
      event.preventDefault();
      move(key);
    }
  });

  // A PC left on this page: when a sync changes what it says (and nothing is playing), reload it.
  var syncPanel = document.querySelector("section.sync");
  function refresh() {
    if (!player.hidden || panel || !window.fetch || !syncPanel) return;
    fetch(location.pathname, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (facts) {
        if (!facts || !player.hidden || panel) return;
        var missing = facts.missing_files === undefined ? null : facts.missing_files;
        var state = JSON.stringify([facts.verdict, facts.version, missing]);
        if (state !== syncPanel.getAttribute("data-state")) location.reload();
        else {
          loadRecords(); // the sync run may have uploaded some
          loadFaults();
        }
      })
      .catch(function () {}); // this origin is on the same PC; try again next time
  }
  setInterval(refresh, 60000);

  // --- fault reports (mediasrv/agent/faults.py): kept on this PC, uploaded by the sync run; what the
  // centre did comes back with the heartbeat's answer ------------------------------------------------

  var faultsList = document.getElementById("faults-list");
  var faultsStatus = document.getElementById("faults-status");

  function faultState(f) {
    if (f.state === "refused") return words["fs.refused"] + (f.message ? words.paren.replace("{}", f.message) : "");
    if (f.state === "delivered" && f.closed_at) {
      return f.closed_note ? fill(words.fault_closed, f.closed_note) : words["fs.closed"];
    }
    return words["fs." + f.state] || f.state;
  }

  function showFaults(answer) {
    while (faultsList.firstChild) faultsList.removeChild(faultsList.firstChild);
    answer.reports.forEach(function (f) {
      var closed = f.state === "delivered" && f.closed_at;
      var item = make("li", "record fault state-" + (closed ? "closed" : f.state));
      item.setAttribute("data-fault-id", f.id);
      item.appendChild(make("span", "kind", words["fault." + f.kind] || f.kind));
      var what = fill(words.fault_reported_at, beijing(f.reported_at)) + (f.note ? " · " + f.note : "");
      item.appendChild(make("span", "what", what));
      item.appendChild(make("span", "state", faultState(f)));
      faultsList.appendChild(item);
    });
    (answer.centre_faults || []).forEach(function (f) {
      // Faults the centre recorded for this site otherwise (a phone call): open, not reported here.
      var item = make("li", "record fault state-delivered");
      item.appendChild(make("span", "kind", words["fault." + f.kind] || f.kind));
      item.appendChild(make("span", "what", words.centre_open + words.colon + beijing(f.opened_at)));
      item.appendChild(make("span", "state", words["fs.delivered"]));
      faultsList.appendChild(item);
    });
    var count = answer.reports.length + (answer.centre_faults || []).length;
    document.getElementById("faults-empty").hidden = count > 0;
    var centre = document.getElementById("faults-centre");
    say(centre, answer.centre_at ? fill(words.centre_at, beijing(answer.centre_at)) : "");
    var delivery = answer.delivery || {};
    var failed = delivery.error ? words["problem." + delivery.problem] || delivery.error : "";
    say(document.getElementById("faults-delivery-error"), failed ? fill(words.delivery_failed, failed) : "");
  }

  function loadFaults() {
    send("GET", "/faults", null, function (status, answer) {
      if (status === 200 && answer) showFaults(answer);
    });
  }
  // --- the site's channel: what plays now and next, kept current from the guide (/epg.json) -------

  var channelNow = document.getElementById("channel-now");
  var channelNext = document.getElementById("channel-next");
  function slotLine(slot) {
    if (!slot) return words.channel_nothing;
    return beijing(slot.start).slice(6) + "–" + beijing(slot.end).slice(6) + " " + slot.title +
      (slot.block_title ? " · " + slot.block_title : "");
  }
  function onAir() {
    if (!channelNow || !window.fetch) return;
    fetch("/epg.json?hours=2", { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (guide) {
        if (!guide) return;
        channelNow.textContent = slotLine(guide.current);
        channelNext.textContent = slotLine(guide.next);
      })
      .catch(function () {});
  }
  setInterval(onAir, 30000);

  // --- study records (mediasrv/agent/records.py): kept on this PC, uploaded by the sync run --------

  var recordsList = document.getElementById("records-list");
  var statusLine = document.getElementById("records-status");
  var deliveryError = document.getElementById("delivery-error");
  var panelOpener = null;

  function fill(template, value) {
    return template.replace("{}", value).replace("{n}", value);
  }

  // XMLHttpRequest rather than fetch: TV browsers are old. The custom header (and the JSON type) tell
  // the agent the post comes from this page: a page elsewhere cannot send them.
  function send(method, path, body, done) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader("X-Site-View", "1");
    if (body !== null && !(window.FormData && body instanceof FormData)) {
      xhr.setRequestHeader("Content-Type", "application/json");
      body = JSON.stringify(body);
    }
    xhr.onload = function () {
      var answer = null;
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (e) {
        answer = null;
      }
      done(xhr.status, answer);
    };
    xhr.onerror = function () {
      done(0, null);
    };
    xhr.send(body);
  }

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function beijing(iso) {
    // "2026-11-20T11:30:00+00:00" -> "11-20 19:30" in Beijing time, whatever the box's own zone.
    var t = new Date(iso);
    if (isNaN(t.getTime())) return iso;
    var b = new Date(t.getTime() + 8 * 3600 * 1000).toISOString();
    return b.slice(5, 10) + " " + b.slice(11, 16);
  }

  function describe(r) {
    var b = r.body;
    if (r.kind === "session") {
      return beijing(b.started_at) + " · " + b.minutes + " " + words.minutes + " · " +
        fill(words.members_n, b.members_present);
    }
    if (r.kind === "photo") return b.filename;
    if (r.kind === "rating") {
      var stars = "★★★★★".slice(0, b.rating) + "☆☆☆☆☆".slice(0, 5 - b.rating);
      return (b.title ? "《" + b.title + "》" : b.programme_id) + " " + stars + (b.comment ? " " + b.comment : "");
    }
    return b.topic + (b.members > 1 ? " " + words.paren.replace("{}", fill(words.members_n, b.members)) : "");
  }

  function photoPicker(sessionId) {
    // A phone on the LAN adds photos to a session recorded earlier (here or on the TV).
    var input = make("input");
    input.type = "file";
    input.multiple = true;
    input.accept = "image/jpeg,image/png";
    input.hidden = true;
    var button = make("button", "add-photos", words.add_photos);
    button.type = "button";
    button.setAttribute("data-nav", "");
    button.addEventListener("click", function () {
      input.click();
    });
    input.addEventListener("change", function () {
      uploadPhotos(sessionId, input.files, function (error) {
        notice(error ? fill(words.photos_failed, error) : words.saved_offline, Boolean(error));
        loadRecords();
      });
    });
    var span = make("span", "photo-picker");
    span.appendChild(button);
    span.appendChild(input);
    return span;
  }

  function showRecords(answer) {
    while (recordsList.firstChild) recordsList.removeChild(recordsList.firstChild);
    answer.records.forEach(function (r) {
      var item = make("li", "record state-" + r.state);
      item.setAttribute("data-record-id", r.id);
      item.appendChild(make("span", "kind", words["k." + r.kind]));
      item.appendChild(make("span", "what", describe(r)));
      var state = words["s." + r.state];
      if (r.state === "refused" && r.message) state += words.paren.replace("{}", r.message);
      item.appendChild(make("span", "state", state));
      if (r.kind === "session" && r.state !== "refused") item.appendChild(photoPicker(r.id));
      recordsList.appendChild(item);
    });
    document.getElementById("records-empty").hidden = answer.records.length > 0;
    // Why the records wait, as the administrator can act on it (agent/words.py); the technical
    // reason only when an older agent wrote no problem.
    var delivery = answer.delivery || {};
    var failed = delivery.error ? words["problem." + delivery.problem] || delivery.error : "";
    say(deliveryError, failed ? fill(words.delivery_failed, failed) : "");
  }

  // How far this PC's clock is ahead of the box's: many boxes run with a wrong clock or zone, and a
  // session's start time is prefilled from the PC's (which the agent's checks go by too).
  var clockOffset = 0;

  function loadRecords() {
    var asked = Date.now();
    send("GET", "/records", null, function (status, answer) {
      if (status !== 200 || !answer) return;
      var pc = answer.now ? new Date(answer.now).getTime() : NaN;
      if (!isNaN(pc)) clockOffset = pc - Math.round((asked + Date.now()) / 2);
      showRecords(answer);
    });
  }

  function notice(text, isError) {
    say(statusLine, text);
    statusLine.className = isError ? "alert" : "notice";
  }

  function uploadPhotos(sessionId, files, done) {
    if (!files || !files.length) return done(null);
    var form = new FormData();
    for (var i = 0; i < files.length; i++) form.append("photo", files[i], files[i].name);
    send("POST", "/records/sessions/" + encodeURIComponent(sessionId) + "/photos", form, function (status, answer) {
      done(status === 201 ? null : (answer && answer.message) || String(status));
    });
  }

  function nowInBeijing() {
    return new Date(Date.now() + clockOffset + 8 * 3600 * 1000).toISOString().slice(0, 16);
  }

  // A record's id, made once per opened form: sending the form again (a second OK, a retry after an
  // answer lost on the LAN) names the same record, which the agent keeps once. 32 hex digits.
  // crypto.randomUUID needs a secure context (not plain http) and a newer browser than many TVs have.
  function newId() {
    var c = window.crypto || window.msCrypto;
    if (c && c.randomUUID) {
      try {
        return c.randomUUID().replace(/-/g, "");
      } catch (e) {
        // fall through
      }
    }
    var bytes = [];
    var i;
    if (c && c.getRandomValues && window.Uint8Array) {
      var got = new Uint8Array(16);
      c.getRandomValues(got);
      for (i = 0; i < 16; i++) bytes.push(got[i]);
    } else {
      for (i = 0; i < 16; i++) bytes.push(Math.floor(Math.random() * 256));
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // a version 4 UUID, like the agent's own
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    return bytes.map(function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("");
  }

  function openPanel(button) {
    var target = document.getElementById(button.getAttribute("data-panel"));
    panelOpener = button;
    panel = target;
    var form = target.querySelector("form");
    form.reset();
    form.setAttribute("data-record-id", newId());
    busy(form, false);
    say(form.querySelector(".form-message"), "");
    setStars(form, 0);
    var start = form.querySelector("[name=started_at]");
    if (start) start.value = nowInBeijing();
    list.hidden = true;
    target.hidden = false;
    var first = target.querySelector("[data-nav]");
    if (first) first.focus();
    if (window.history && history.pushState) history.pushState({ panel: target.id }, "");
  }

  function closePanel() {
    if (!panel) return;
    panel.hidden = true;
    panel = null;
    list.hidden = false;
    if (panelOpener) {
      panelOpener.focus();
      panelOpener.scrollIntoView({ block: "nearest" });
    }
  }

  function leavePanel() {
    if (history.state && history.state.panel) history.back();
    else closePanel();
  }

  function setStars(form, n) {
    var input = form.querySelector("[name=rating]");
    if (!input) return;
    input.value = n ? String(n) : "";
    Array.prototype.forEach.call(form.querySelectorAll(".star"), function (star) {
      star.setAttribute("aria-pressed", Number(star.getAttribute("data-star")) <= n ? "true" : "false");
    });
  }

  function value(form, name) {
    var field = form.elements[name];
    return field ? field.value : "";
  }

  function number(form, name) {
    var text = value(form, name).trim();
    return /^\d+$/.test(text) ? Number(text) : text;
  }

  var bodies = {
    "session-form": function (form) {
      var played = Array.prototype.filter.call(form.querySelectorAll("[name=programmes]"), function (box) {
        return box.checked;
      }).map(function (box) {
        return box.value;
      });
      var start = value(form, "started_at");
      return {
        path: "/records/sessions",
        body: {
          started_at: start ? start + "+08:00" : "",
          minutes: number(form, "minutes"),
          members_present: number(form, "members_present"),
          programmes: played,
          notes: value(form, "notes"),
        },
      };
    },
    "rating-form": function (form) {
      var chosen = form.querySelector("[name=programme_id]:checked");
      return {
        path: "/records/ratings",
        body: {
          programme_id: chosen ? chosen.value : "",
          rating: Number(value(form, "rating")) || 0,
          comment: value(form, "comment"),
        },
      };
    },
    "fault-form": function (form) {
      var chosen = form.querySelector("[name=kind]:checked");
      return { path: "/faults", body: { kind: chosen ? chosen.value : "", note: value(form, "note") } };
    },
    "demand-form": function (form) {
      return {
        path: "/records/demands",
        body: {
          topic: value(form, "topic"),
          category: value(form, "category") || null,
          detail: value(form, "detail"),
          members: number(form, "members"),
        },
      };
    },
  };

  // While a form's request is on its way, Save is disabled and another OK does nothing.
  function busy(form, on) {
    var save = form.querySelector("button[type=submit]");
    if (on) form.setAttribute("data-busy", "1");
    else form.removeAttribute("data-busy");
    if (save) save.disabled = on;
  }

  function submit(form) {
    if (form.getAttribute("data-busy")) return;
    var message = form.querySelector(".form-message");
    var made = bodies[form.id](form);
    if (form.id === "rating-form" && !made.body.rating) {
      say(message, words.pick_stars);
      return;
    }
    if (form.id === "fault-form" && !made.body.kind) {
      say(message, words.pick_kind);
      return;
    }
    made.body.id = form.getAttribute("data-record-id") || newId();
    form.setAttribute("data-record-id", made.body.id);
    var save = form.querySelector("button[type=submit]");
    busy(form, true);
    send("POST", made.path, made.body, function (status, answer) {
      if ((status !== 201 && status !== 200) || !answer) {
        busy(form, false);
        say(message, fill(words.not_sent, (answer && answer.message) || String(status)));
        message.scrollIntoView({ block: "nearest" });
        if (save && panel) save.focus();
        return;
      }
      if (form.id === "fault-form") {
        busy(form, false);
        leavePanel();
        say(faultsStatus, words.fault_saved);
        loadFaults();
        return;
      }
      var photos = form.elements.photo;
      uploadPhotos(answer.id, photos && photos.files, function (error) {
        busy(form, false);
        leavePanel();
        notice(error ? fill(words.photos_failed, error) : words.saved_offline, Boolean(error));
        loadRecords();
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[novalidate]"), function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form);
    });
    form.querySelector(".cancel").addEventListener("click", leavePanel);
  });
  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : null;
    if (!target) return;
    var opener = target.closest("button.open-panel");
    if (opener) openPanel(opener);
    var star = target.closest("button.star");
    if (star) setStars(star.form, Number(star.getAttribute("data-star")));
  });
  if (recordsList) loadRecords();
  if (faultsList) loadFaults();

  // The remote works at once: the first programme (required ones come first) has the focus; the
  // site's channel is one press of Up above it.
  var first = document.querySelector("li.programme button.play") || document.querySelector("[data-nav]");
  if (first) first.focus();
})();
