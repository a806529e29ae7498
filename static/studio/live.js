// The live page: relays in-room events to the conversation's websocket (relay.js), starts
// recording, runs the timers and keeps the captions scrolled. The htmx ws extension owns the
// socket (and reconnects with backoff); the server pushes HTML that htmx swaps in by id.
(function () {
  "use strict";
  const root = document.getElementById("live");
  if (!root) return;

  const conversationId = root.dataset.conversationId || "";
  const wantsRecording = root.dataset.record === "1";
  const mode = root.dataset.roomMode;  // observer | sandbox | daily

  // --- relay: the htmx ws extension owns the socket; before its first open we queue ---------
  /** @type {{send: (text: string) => void} | null} */
  let socket = null;
  /** @type {string[]} */
  const pending = [];
  const relay = StudioRelay.create(conversationId, (text) => {
    if (socket) socket.send(text); else pending.push(text);  // the wrapper queues on reconnect
  }, (participantId) => {
    // Signed in: the beacon carries the CSRF token the page's htmx requests send.
    const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    StudioRelay.sendBeacon(root.dataset.leftUrl || "", {
      participant_id: participantId, csrfmiddlewaretoken: headers["X-CSRFToken"] || "",
    });
  });
  root.addEventListener("htmx:wsOpen", (event) => {
    socket = /** @type {CustomEvent} */ (event).detail.socketWrapper;
    root.dataset.socket = "open";
    while (pending.length) socket.send(pending.shift());
  });
  root.addEventListener("htmx:wsClose", () => { root.dataset.socket = "closed"; });

  /** How this page puts a steering command into the room (set once it is in one). */
  /** @type {(envelope: object) => void} */
  let sendToRoom = () => { throw new Error("not in a room"); };

  // Steering commands from a supervisor arrive as JSON (everything else is HTML to swap).
  root.addEventListener("htmx:wsBeforeMessage", (event) => {
    const message = StudioRelay.parse(/** @type {CustomEvent} */ (event).detail.message);
    if (!message || !("studio_command" in message)) return;
    event.preventDefault();
    relay.command(message, (envelope) => sendToRoom(envelope));
  });

  // The page in the room says it is still open, so the reconciler can tell a closed tab; after
  // a reconnect it says again who it is in the room. A watching page (observer) is not in it.
  if (mode !== "observer") {
    root.addEventListener("htmx:wsOpen", () => { relay.heartbeat(); relay.rejoin(); });
    setInterval(() => { if (socket) relay.heartbeat(); }, 20000);
  }

  // --- sandbox room: the same envelopes, through postMessage ---------------------------------
  const frame = /** @type {HTMLIFrameElement | null} */ (document.getElementById("room-frame"));
  if (mode === "sandbox" && frame) {
    let recordingAsked = false;
    window.addEventListener("message", (event) => {
      // Only the room (same origin). A page unloading posts with event.source === null, so
      // the last "left" event is recognised by origin and conversation id, not by source.
      if (event.origin !== window.location.origin) return;
      if (event.source !== frame.contentWindow && event.source !== null) return;
      const data = event.data;
      if (data && data.message_type === "sandbox" && data.event_type === "joined-meeting") {
        // The room page's own person (as daily-js's joined-meeting gives participants.local).
        relay.presence("joined", { session_id: String(data.participant_id || ""), user_name: data.name }, true);
      } else if (StudioRelay.isRoomEnvelope(data, conversationId)) {
        relay.event(data);
        if (data.event_type === "conversation.joined" && wantsRecording && !recordingAsked) {
          recordingAsked = true;
          frame.contentWindow.postMessage(
            { message_type: "sandbox", event_type: "start_recording" }, window.location.origin);
        }
      } else if (data && data.message_type === "sandbox" && data.event_type === "recording-started") {
        relay.recordingStarted();
      }
    });
    sendToRoom = (envelope) => frame.contentWindow.postMessage(envelope, window.location.origin);
    // The tab is closing: the room page in it goes too (it tells the sandbox; this tells us).
    window.addEventListener("pagehide", () => { if (relay.self) relay.leave(); });
  }

  // --- real Tavus room: a daily-js call frame ------------------------------------------------
  const container = document.getElementById("daily-room");
  if (mode === "daily" && container) {
    if (!window.Daily) {
      showRoomProblem("connection-error");
    } else {
      /** @type {RelayCall & {join: DailyCall["join"], sendAppMessage: DailyCall["sendAppMessage"]}} */
      const call = window.Daily.createFrame(container, {
        iframeStyle: { width: "100%", height: "100%", border: "0" },
        showLeaveButton: true,
      });
      // A staff page in the room reports everyone it sees, and the recording it starts.
      StudioRelay.watchCall(call, relay, { reportOthers: true, record: wantsRecording, reportRecording: true });
      call.on("error", (event) => showRoomProblem(StudioRelay.fatalType(event)));
      /** @type {DailyCallOptions} */
      const options = { url: root.dataset.roomUrl };
      if (root.dataset.roomToken) options.token = root.dataset.roomToken;
      // A failed join rejects with daily-js's fatal-error event, {action, errorMsg, error: {type}}.
      call.join(options).catch((failure) => showRoomProblem(StudioRelay.fatalType(failure)));
      sendToRoom = (envelope) => { call.sendAppMessage(envelope, "*"); };
    }
  }

  /**
   * What went wrong with the video room, for the staff watching, in their words.
   * @type {Record<DailyFatalErrorType, string>}
   */
  const ROOM_PROBLEMS = {
    "connection-error": "This page couldn't reach the video room. Check this computer's internet connection, then reload the page. Captions still arrive if the participant's join page is in the room.",
    "meeting-full": "The video room is full: it already has as many people as this conversation allows. Captions still arrive if the participant's join page is in the room.",
    "exp-room": "The video room has closed: the conversation reached its time limit.",
    "no-room": "The video room has closed: the conversation has ended.",
    "ejected": "This page was removed from the video room.",
    "not-allowed": "The video room refused this page's meeting token. Reload the page; if it happens again, the conversation's token is no longer valid.",
    "exp-token": "This page's meeting token for the video room has expired. Reload the page to get a fresh one.",
    "nbf-token": "The video room doesn't accept this page's meeting token yet. Reload the page in a minute.",
    "nbf-room": "The video room isn't open yet. Reload the page in a minute.",
    "end-of-life": "Daily no longer supports the daily-js version this studio serves: an administrator needs to update it.",
  };

  /** @param {DailyFatalErrorType | undefined} type */
  function showRoomProblem(type) {
    const box = document.getElementById("room-problem");
    if (!box) return;
    box.textContent = ROOM_PROBLEMS[type] || ROOM_PROBLEMS["connection-error"];
    box.dataset.problem = type || "connection-error";
    box.hidden = false;
  }

  // --- timers -------------------------------------------------------------------------------
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function tick() {
    var timers = /** @type {HTMLElement | null} */ (document.querySelector("[data-timers]"));
    if (!timers) return;
    var now = Date.now();
    var set = function (name, text) {
      var el = timers.querySelector('[data-timer="' + name + '"]');
      if (el) el.textContent = text;
    };
    set("elapsed", clock((now - Date.parse(timers.dataset.created)) / 1000));
    set("remaining", clock((Date.parse(timers.dataset.ends) - now) / 1000));
    if (timers.dataset.absent) set("absent", clock((Date.parse(timers.dataset.absent) - now) / 1000));
  }
  tick();
  setInterval(tick, 1000);
  // A status card swapped in over the socket starts blank: fill its timers at once.
  document.body.addEventListener("htmx:oobAfterSwap", tick);

  // --- the end: the status card says so; nothing more can be sent or joined -----------------
  // Rendered live, a page shows [data-when=live] parts (Step in, Join the video, the links to
  // copy); once the status card says it ended, the [data-when=over] words instead.
  function syncOver() {
    var badge = /** @type {HTMLElement | null} */ (document.querySelector("#live-status [data-status]"));
    var over = !!badge && (badge.dataset.status === "ended" || badge.dataset.status === "failed");
    document.querySelectorAll("#live [data-when], .page-head [data-when]").forEach(function (part) {
      var element = /** @type {HTMLElement} */ (part);
      element.hidden = (element.dataset.when === "over") !== over;
    });
    var fields = /** @type {HTMLFieldSetElement | null} */ (document.querySelector("#steer .steer-fields"));
    if (fields) fields.disabled = over;
  }
  syncOver();
  document.body.addEventListener("htmx:oobAfterSwap", syncOver);
  // The Step-in form is swapped in whole after each send: keep it closed once over.
  document.body.addEventListener("htmx:afterSwap", syncOver);

  // "Other link" closes when the person clicks elsewhere, as a menu does.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.more-links[open]").forEach(function (menu) {
      if (!menu.contains(/** @type {Node} */ (event.target))) menu.removeAttribute("open");
    });
  });

  // --- captions: follow new lines unless the reader has scrolled back ----------------------
  var stick = true;
  var jump = document.getElementById("jump-latest");
  function captions() { return document.getElementById("captions"); }
  function toBottom() { var c = captions(); if (c) c.scrollTop = c.scrollHeight; }
  document.addEventListener("scroll", function (event) {
    var c = captions();
    if (event.target !== c) return;
    stick = c.scrollTop + c.clientHeight >= c.scrollHeight - 24;
    if (jump && stick) jump.hidden = true;
  }, true);
  document.body.addEventListener("htmx:oobAfterSwap", function () {
    if (stick) toBottom(); else if (jump) jump.hidden = false;
  });
  if (jump) jump.addEventListener("click", function () { stick = true; jump.hidden = true; toBottom(); });

  // Beside the video (a wide window), the captions fill down to the bottom of the window, so
  // the latest lines show without scrolling the page, however tall the status card above is.
  // A height, not only a cap: the box keeps its size from the first line on, so the page does
  // not shift as captions arrive. A narrow window keeps the stylesheet's cap.
  var wide = window.matchMedia("(min-width: 1001px)");
  function fitCaptions() {
    var c = captions();
    if (!c) return;
    var top = c.getBoundingClientRect().top + window.scrollY;
    var room = window.innerHeight - top - 40;  // the card's bottom padding and the page's
    c.style.height = c.style.maxHeight = wide.matches ? Math.max(room, 160) + "px" : "";
    if (stick) toBottom();
  }
  // The status card's timeline keeps its newest steps in view (it scrolls when long, so that
  // the captions keep their room).
  function latestSteps() {
    var steps = document.querySelector("#live-status .timeline");
    if (steps) steps.scrollTop = steps.scrollHeight;
  }
  // Refit whenever the status card may have changed its size (pushed, the End button's own
  // answer, a resized window), once htmx has settled it: until then a swapped-in card still
  // wears the old card's classes (htmx's settle step), so it would be measured as the old one.
  function refit() { latestSteps(); fitCaptions(); }
  window.addEventListener("resize", refit);
  document.body.addEventListener("htmx:wsAfterMessage", refit);
  document.body.addEventListener("htmx:afterSettle", refit);
  refit();
  toBottom();
})();
