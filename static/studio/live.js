// The live page: relays in-room events to the conversation's websocket, starts recording,
// runs the timers and keeps the captions scrolled. The htmx ws extension owns the socket
// (and reconnects with backoff); the server pushes HTML that htmx swaps in by id.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;

  var socket = null;
  var pending = [];
  var recordingAsked = false;
  var conversationId = root.dataset.conversationId;
  var wantsRecording = root.dataset.record === "1";

  // --- relay ------------------------------------------------------------------------------
  root.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    root.dataset.socket = "open";
    while (pending.length) socket.send(pending.shift());
  });
  root.addEventListener("htmx:wsClose", function () { root.dataset.socket = "closed"; });

  function relay(envelope) {
    var message = JSON.stringify({ type: "room_event", event: envelope });
    // The wrapper queues while it reconnects; before the first open we queue ourselves.
    if (socket) socket.send(message); else pending.push(message);
  }

  function studioEvent(eventType, properties, key) {
    return {
      message_type: "conversation",
      event_type: eventType,
      conversation_id: conversationId,
      inference_id: key,
      properties: properties || {},
    };
  }

  // Steering commands from a supervisor arrive as JSON (everything else is HTML to swap):
  // send them into the room and confirm back.
  root.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.indexOf('{"studio_command"') !== 0) return;
    event.preventDefault();
    var command = JSON.parse(text);
    if (!window.__sendToRoom) return;
    window.__sendToRoom(command.envelope);
    if (socket) socket.send(JSON.stringify({ type: "command_ack", id: command.studio_command }));
  });

  // The page in the room says it is still open, so the reconciler can tell a closed tab.
  if (root.dataset.roomMode !== "observer") {
    var beat = function () { if (socket) socket.send(JSON.stringify({ type: "heartbeat" })); };
    root.addEventListener("htmx:wsOpen", beat);
    setInterval(beat, 20000);
  }

  // --- sandbox room: same envelopes, through postMessage ---------------------------------
  var frame = document.getElementById("room-frame");
  if (root.dataset.roomMode === "sandbox" && frame) {
    window.addEventListener("message", function (event) {
      // Only the room (same origin). A page unloading posts with event.source === null, so
      // the last "left" event is recognised by origin and conversation id, not by source.
      if (event.origin !== window.location.origin) return;
      if (event.source !== frame.contentWindow && event.source !== null) return;
      var data = event.data;
      if (!data || typeof data !== "object") return;
      if (data.conversation_id && conversationId && data.conversation_id !== conversationId) return;
      if (data.message_type === "conversation") {
        relay(data);
        if (data.event_type === "conversation.joined" && wantsRecording && !recordingAsked) {
          recordingAsked = true;
          frame.contentWindow.postMessage(
            { message_type: "sandbox", event_type: "start_recording" }, window.location.origin);
        }
      } else if (data.message_type === "sandbox" && data.event_type === "recording-started") {
        relay(data);
      }
    });
    window.__sendToRoom = function (envelope) {
      frame.contentWindow.postMessage(envelope, window.location.origin);
    };
  }

  // --- real Tavus room: daily-js call frame -----------------------------------------------
  var container = document.getElementById("daily-room");
  if (root.dataset.roomMode === "daily" && container && window.Daily) {
    var call = window.Daily.createFrame(container, {
      iframeStyle: { width: "100%", height: "100%", border: "0" },
      showLeaveButton: true,
    });
    var isReplica = function (p) { return (p.user_id || "").indexOf("tavus-replica") !== -1; };
    call.on("app-message", function (event) { if (event && event.data) relay(event.data); });
    call.on("joined-meeting", function (event) {
      var me = event.participants.local;
      relay(studioEvent("conversation.joined", { role: "user", participant_id: me.session_id },
        "join-" + me.session_id));
      if (wantsRecording && !recordingAsked) { recordingAsked = true; call.startRecording(); }
    });
    call.on("participant-joined", function (event) {
      var p = event.participant;
      if (isReplica(p)) return;
      relay(studioEvent("conversation.joined", { role: "user", participant_id: p.session_id },
        "join-" + p.session_id));
    });
    call.on("participant-left", function (event) {
      var p = event.participant;
      if (isReplica(p)) return;
      relay(studioEvent("conversation.left", { role: "user", participant_id: p.session_id },
        "left-" + p.session_id));
    });
    call.on("recording-started", function () {
      relay({ message_type: "sandbox", event_type: "recording-started" });
    });
    var options = { url: root.dataset.roomUrl };
    if (root.dataset.roomToken) options.token = root.dataset.roomToken;
    call.join(options);
    window.__sendToRoom = function (envelope) { call.sendAppMessage(envelope, "*"); };
  }

  // --- timers -------------------------------------------------------------------------------
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }
  function tick() {
    var timers = document.querySelector("[data-timers]");
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
  toBottom();
})();
