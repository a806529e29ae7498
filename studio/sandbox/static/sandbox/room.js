// The sandbox room page: joins, keeps a heartbeat, polls the server for in-room events and
// relays each one to the parent window exactly as a Tavus app-message. It also takes Tavus
// interactions (echo, respond, interrupt, context) and sandbox recording controls from the parent.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("room-config").textContent);
  var body = document.body;
  var statusChip = document.getElementById("room-status");
  var clock = document.getElementById("room-clock");
  var rec = document.getElementById("room-rec");
  var captions = document.getElementById("room-captions");
  var overlay = document.getElementById("room-overlay");
  var log = document.getElementById("room-log");
  var form = document.getElementById("room-composer");
  var input = document.getElementById("room-say");
  var send = form.querySelector("button");

  var POLL_MS = 300;
  var HEARTBEAT_MS = 5000;
  var session = randomId();
  var lastSeq = 0;
  var lastTurn = 0;
  var joined = false;
  var finished = false;
  var replicaJoined = false;
  var polling = false;
  var lastPoll = 0;
  var lastBeat = 0;
  var captionTimer = null;
  var clockWorker = null;
  var clockTimer = null;

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function withQuery(url, name, value) {
    var u = new URL(url, window.location.href);
    u.searchParams.set(name, value);
    return u.toString();
  }

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { ok: response.ok, status: response.status, data: data || {} };
      });
    });
  }

  function toParent(message) {
    if (window.parent !== window) window.parent.postMessage(message, "*");
  }

  // --- What the person sees -----------------------------------------------------------------

  function setState(state, label) {
    body.dataset.state = state;
    statusChip.textContent = label;
    var usable = state === "live";
    input.disabled = !usable;
    send.disabled = !usable;
    if (usable && document.activeElement === document.body) input.focus();
  }

  function showOverlay(title, text) {
    overlay.querySelector(".overlay-title").textContent = title;
    overlay.querySelector(".overlay-text").textContent = text;
    overlay.hidden = false;
  }

  function finish(state, label, title, text) {
    finished = true;
    joined = false;
    body.classList.remove("is-speaking");
    setState(state, label);
    showOverlay(title, text);
    if (clockWorker) clockWorker.terminate();
    if (clockTimer) window.clearInterval(clockTimer);
  }

  function showEnded() {
    if (!finished) {
      finish("ended", "Ended", "This conversation has ended", "The call is over. You can close this.");
    }
  }

  function caption(who, text) {
    if (!captions) return;
    window.clearTimeout(captionTimer);
    captions.querySelector(".caption-who").textContent = who;
    captions.querySelector(".caption-text").textContent = text;
    captions.classList.remove("is-fading");
    captions.hidden = false;
  }

  function fadeCaption() {
    if (!captions) return;
    window.clearTimeout(captionTimer);
    captionTimer = window.setTimeout(function () { captions.classList.add("is-fading"); }, 3500);
  }

  function logLine(who, text) {
    var line = document.createElement("p");
    line.textContent = who + ": " + text;
    log.appendChild(line);
  }

  function setRecording(on) {
    if (rec) rec.hidden = !on;
  }

  function tickClock() {
    var seconds = Math.max(0, Math.floor(Date.now() / 1000 - config.created_at));
    var minutes = Math.floor(seconds / 60);
    clock.textContent = String(minutes).padStart(2, "0") + ":" + String(seconds % 60).padStart(2, "0");
  }

  function show(envelope) {
    var p = envelope.properties || {};
    switch (envelope.event_type) {
      case "conversation.started_speaking":
        if (p.role === "replica") body.classList.add("is-speaking");
        break;
      case "conversation.stopped_speaking":
        if (p.role === "replica") {
          body.classList.remove("is-speaking");
          fadeCaption();
        }
        break;
      case "conversation.utterance.streaming":
        if (p.role === "replica") caption(config.replica_name, p.speech);
        if (p.role === "replica" && p.final) logLine(config.replica_name, p.speech);
        break;
      case "conversation.utterance":
        if (p.role === "user") {
          caption("You", p.speech);
          logLine("You", p.speech);
        }
        break;
      case "conversation.replica_interrupted":
        body.classList.remove("is-speaking");
        break;
    }
  }

  // Every envelope goes to the parent once, in seq order; seq comes from the server, so a
  // reloaded page never repeats a number.
  function deliver(envelope) {
    if (typeof envelope.seq !== "number" || envelope.seq <= lastSeq) return;
    lastSeq = envelope.seq;
    lastTurn = envelope.turn_idx;
    show(envelope);
    toParent(envelope);
  }

  function onState(data) {
    if (data.status === "ended") return showEnded();
    if (data.replica_joined && !replicaJoined) {
      replicaJoined = true;
      setState("live", "Live");
    }
    setRecording(data.recording);
  }

  // --- Talking to the server ------------------------------------------------------------------

  function join() {
    return post(config.urls.presence, { action: "join", session: session, name: config.name })
      .then(function (res) {
        if (res.data.status === "ended" || res.status === 410) return showEnded();
        if (res.data.status === "full") {
          return finish("full", "Full", "This call is full", res.data.message || "");
        }
        if (!res.ok || !res.data.joined) {
          return finish("error", "Error", "Can't join this call", res.data.message || "");
        }
        joined = true;
        // Who this page is in the room, as a call frame's joined-meeting tells its parent
        // (participants.local): the parent reports its own person by this id.
        toParent({
          message_type: "sandbox", event_type: "joined-meeting",
          participant_id: config.participant_id, name: config.name,
        });
        lastSeq = res.data.joined.seq - 1;
        deliver(res.data.joined);
        if (!res.data.replica_joined) setState("waiting", "Waiting for the replica");
        onState(res.data);
      })
      .catch(function () {
        window.setTimeout(join, 2000);
      });
  }

  function poll() {
    polling = true;
    lastPoll = Date.now();
    fetch(withQuery(config.urls.events, "after", lastSeq), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        (data.events || []).forEach(deliver);
        onState(data);
      })
      .catch(function () { lastPoll = Date.now() + 2000; })
      .finally(function () { polling = false; });
  }

  function heartbeat() {
    lastBeat = Date.now();
    post(config.urls.presence, { action: "heartbeat", session: session }).then(function (res) {
      if (res.data.status === "ended") showEnded();
      else if (res.data.status === "rejoin") join();
    }).catch(function () {});
  }

  function onClock() {
    if (finished) return;
    tickClock();
    if (!joined) return;
    var now = Date.now();
    if (!polling && now - lastPoll >= POLL_MS) poll();
    if (now - lastBeat >= HEARTBEAT_MS) heartbeat();
  }

  // A worker's timer keeps running at full speed when this tab is in the background, where
  // page timers get throttled to once a minute and the heartbeat would look dead.
  function startClock() {
    try {
      clockWorker = new Worker(config.clock_js);
      clockWorker.onmessage = onClock;
    } catch (e) {
      clockWorker = null;
      clockTimer = window.setInterval(onClock, 250);
    }
  }

  // --- The person types what they say -----------------------------------------------------------

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || !replicaJoined || finished) return;
    input.value = "";
    post(config.urls.say, { text: text }).then(function () { lastPoll = 0; });
  });

  // --- Commands from the parent window (the studio's live page) ---------------------------------

  window.addEventListener("message", function (event) {
    if (window.parent === window || event.source !== window.parent) return;
    var message = event.data;
    if (!message || typeof message !== "object" || typeof message.event_type !== "string") return;
    if (message.message_type === "conversation") {
      if (message.conversation_id && message.conversation_id !== config.conversation_id) return;
      post(config.urls.command, message).then(function () { lastPoll = 0; });
    } else if (message.message_type === "sandbox") {
      post(config.urls.command, message).then(function (res) {
        if (res.data.reply) toParent(res.data.reply);
        setRecording(res.data.recording);
      });
    }
  });

  // --- Leaving ----------------------------------------------------------------------------------

  window.addEventListener("pagehide", function () {
    if (!joined || finished) return;
    joined = false;
    // The page is going away: tell the parent now, with the next seq, and let the server know
    // by beacon (it keeps that seq so nothing after it reuses the number).
    var seq = lastSeq + 1;
    var inferenceId = randomId();
    toParent({
      message_type: "conversation",
      event_type: "conversation.left",
      conversation_id: config.conversation_id,
      inference_id: inferenceId,
      seq: seq,
      turn_idx: lastTurn,
      timestamp: Date.now() / 1000,
      properties: { role: "user", participant_id: config.participant_id, name: config.name },
    });
    lastSeq = seq;
    var payload = JSON.stringify({ action: "leave", session: session, seq: seq, inference_id: inferenceId });
    navigator.sendBeacon(config.urls.presence, new Blob([payload], { type: "application/json" }));
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted && !finished) join();  // back from the back-forward cache
  });

  tickClock();
  startClock();
  join();
})();
