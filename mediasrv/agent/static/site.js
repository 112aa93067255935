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

  function focusables() {
    var scope = player.hidden ? list.parentNode : player;
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
      var vertical = direction === "ArrowDown" || direction === "ArrowUp";
      var score = vertical ? Math.abs(dy) + 3 * Math.abs(dx) : Math.abs(dx) + 3 * Math.abs(dy);
      if (score < bestScore) {
        bestScore = score;
        best = el;
      }
    });
    if (best) {
      best.focus();
      best.scrollIntoView({ block: "nearest" });
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

  function close() {
    if (player.hidden) return;
    video.pause();
    if (hls) {
      hls.destroy();
      hls = null;
    }
    video.removeAttribute("src");
    video.load();
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
  window.addEventListener("popstate", close);

  document.addEventListener("keydown", function (event) {
    var key = event.key;
    var inPlayer = !player.hidden;
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
  var panel = document.querySelector("section.sync");
  function refresh() {
    if (!player.hidden || !window.fetch || !panel) return;
    fetch(location.pathname, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (facts) {
        if (!facts || !player.hidden) return;
        var missing = facts.missing_files === undefined ? null : facts.missing_files;
        var state = JSON.stringify([facts.verdict, facts.version, missing]);
        if (state !== panel.getAttribute("data-state")) location.reload();
      })
      .catch(function () {}); // this origin is on the same PC; try again next time
  }
  setInterval(refresh, 60000);

  // The remote works at once: the first programme (required ones come first) has the focus.
  var first = document.querySelector("button.play") || document.querySelector("[data-nav]");
  if (first) first.focus();
})();
