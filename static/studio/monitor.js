// The monitoring wall: new tiles join the grid, timers tick, ended chips fade after an hour.
(function () {
  "use strict";
  var root = document.getElementById("monitor");
  if (!root) return;
  root.addEventListener("htmx:wsOpen", function () { root.dataset.socket = "open"; });
  root.addEventListener("htmx:wsClose", function () { root.dataset.socket = "closed"; });

  // The server sends a tile by id; a tile the page has not got yet is a new conversation.
  document.body.addEventListener("htmx:oobErrorNoTarget", function (event) {
    var el = event.detail.content;
    if (!el || !el.classList || !el.classList.contains("tile")) return;
    var tile = el.cloneNode(true);
    tile.removeAttribute("hx-swap-oob");
    document.getElementById("tiles").appendChild(tile);
    htmx.process(tile);
    tick();
  });

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-timers]").forEach(function (t) {
      var e = t.querySelector('[data-timer="elapsed"]'), r = t.querySelector('[data-timer="remaining"]');
      if (e) e.textContent = clock((now - Date.parse(t.dataset.created)) / 1000);
      if (r) r.textContent = clock((Date.parse(t.dataset.ends) - now) / 1000);
    });
    document.querySelectorAll(".recent-chip[data-ended]").forEach(function (chip) {
      if (now - Date.parse(chip.dataset.ended) > 3600 * 1000) chip.remove();
    });
    // A completed objective or a tool call shows on its tile for a short while only.
    document.querySelectorAll(".tile-note[data-until]").forEach(function (note) {
      if (now > Date.parse(note.dataset.until)) note.remove();
    });
  }
  tick();
  setInterval(tick, 1000);
  // A tile swapped in over the socket starts with blank timers: fill them at once, not a
  // second later.
  document.body.addEventListener("htmx:oobAfterSwap", tick);
})();
