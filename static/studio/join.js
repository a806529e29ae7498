// The participant's join page. Before the call: camera and microphone preview, device choice,
// a level meter and plain help when the browser blocks them. In the call: the replica rendered
// from its own tracks (daily-js call object, or the sandbox's shim of it), with the preset's
// background composited in the browser; self-view, mute, camera, captions, leave.
//
// It is also the studio's relay in the room: every in-room event goes to ws/join/<token>/ (the
// server validates, stores and fans out to the staff pages), and supervisors' steering commands
// come back over the same socket to be sent into the room.
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("join-config").textContent);
  var body = document.body;
  var $ = function (id) { return document.getElementById(id); };

  var HEARTBEAT_MS = 15000;
  var REPLICA_PATIENCE_MS = 45000;
  var CAPTION_LINGER_MS = 6000;

  // --- State ----------------------------------------------------------------------------------
  var tracks = { audio: null, video: null };  // this person's microphone and camera
  var enabled = { audio: true, video: !config.audioOnly };
  var call = null;
  var joining = false;
  var inCall = false;        // joined the room
  var replicaHere = false;
  var leftOnPurpose = false;
  var finished = false;
  var compositor = null;
  var callStarted = 0;

  function show(screen) {
    body.dataset.screen = screen;
    $("prejoin").hidden = screen !== "prejoin";
    $("call").hidden = screen !== "call";
    $("ended").hidden = screen !== "ended";
  }

  function setStatus(text, kind) {
    var status = $("join-status");
    status.textContent = text;
    status.className = "join-status" + (kind ? " is-" + kind : "");
  }

  // --- Camera and microphone ------------------------------------------------------------------

  function problemFor(error) {
    var name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "missing";
    if (name === "NotReadableError" || name === "AbortError") return "busy";
    return "missing";
  }

  function showProblem(problem) {
    var help = $("media-help");
    help.hidden = !problem;
    help.querySelectorAll("[data-problem]").forEach(function (part) {
      part.hidden = part.dataset.problem !== problem;
    });
    $("preview").dataset.state = problem ? "blocked" : $("preview").dataset.state;
    if (problem) {
      $("preview-message").textContent = problem === "denied"
        ? "Your camera and microphone are blocked."
        : "No camera or microphone to show.";
    }
  }

  function constraint(kind) {
    var select = $(kind === "audio" ? "mic-select" : "camera-select");
    var chosen = select && !select.disabled && select.value;
    return chosen ? { deviceId: { exact: chosen } } : true;
  }

  function getUserMedia(want) { return navigator.mediaDevices.getUserMedia(want); }

  // Both at once (one prompt); if one device is missing or busy, whichever works on its own.
  function acquireAll() {
    var wantVideo = !config.audioOnly;
    var want = { audio: constraint("audio"), video: wantVideo ? constraint("video") : false };
    return getUserMedia(want).catch(function (error) {
      if (problemFor(error) === "denied" || !wantVideo) throw error;
      return getUserMedia({ audio: want.audio }).catch(function () {
        return getUserMedia({ video: want.video });
      }).catch(function () { throw error; });
    });
  }

  function useTrack(kind, track) {
    var old = tracks[kind];
    if (old && old !== track) old.stop();
    tracks[kind] = track;
    if (track) track.enabled = enabled[kind];
    if (kind === "video") attachSelf();
    if (kind === "audio") startMeter();
  }

  function attachSelf() {
    var stream = tracks.video ? new MediaStream([tracks.video]) : null;
    ["preview-video", "self-video"].forEach(function (id) {
      var video = $(id);
      if (!video) return;
      video.srcObject = stream;
      if (stream) video.play().catch(function () {});
    });
    var on = !!(tracks.video && enabled.video);
    var preview = $("preview");
    if (!config.audioOnly && preview.dataset.state !== "blocked") {
      preview.dataset.state = on ? "on" : "off";
      if (!on) $("preview-message").textContent = tracks.video ? "Your camera is off." : "No camera.";
    }
    var self = $("self-view");
    if (self) self.classList.toggle("is-off", !on);
  }

  var previewReady = null;  // settles once the browser answered about camera and microphone

  function startPreview() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showProblem("unsupported");
      previewReady = Promise.resolve();
      return previewReady;
    }
    $("preview").dataset.state = "starting";
    previewReady = acquireAll().then(function (stream) {
      showProblem(null);
      useTrack("audio", stream.getAudioTracks()[0] || null);
      useTrack("video", stream.getVideoTracks()[0] || null);
      if (!tracks.audio || (!config.audioOnly && !tracks.video)) showProblem("missing");
      return listDevices();
    }).catch(function (error) {
      showProblem(problemFor(error));
      ["mic-select", "camera-select"].forEach(function (id) {
        var select = $(id);
        if (select && select.disabled) select.options[0].textContent = "Not available yet";
      });
      $("meter-hint").textContent = "Microphone not available";
    });
    return previewReady;
  }

  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      fill("mic-select", devices, "audioinput", "Microphone", tracks.audio);
      fill("camera-select", devices, "videoinput", "Camera", tracks.video);
    });
  }

  function fill(id, devices, kind, word, current) {
    var select = $(id);
    if (!select) return;
    var found = devices.filter(function (d) { return d.kind === kind && d.deviceId; });
    var currentId = current && current.getSettings ? current.getSettings().deviceId : "";
    select.innerHTML = "";
    found.forEach(function (device, index) {
      var option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || word + " " + (index + 1);
      option.selected = device.deviceId === currentId;
      select.appendChild(option);
    });
    if (!found.length) {
      var none = document.createElement("option");
      none.textContent = "No " + word.toLowerCase() + " found";
      select.appendChild(none);
    }
    select.disabled = !found.length;
  }

  function switchDevice(kind) {
    var want = {};
    want[kind] = constraint(kind);
    getUserMedia(want).then(function (stream) {
      var track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      useTrack(kind, track);
      if (call && inCall) {
        var devices = {};
        devices[kind === "audio" ? "audioSource" : "videoSource"] = track;
        call.setInputDevicesAsync(devices).catch(function () {});
      }
    }).catch(function (error) { showProblem(problemFor(error)); });
  }

  // --- The level meter (WebAudio) ---------------------------------------------------------------

  var audioContext = null, analyser = null, meterSource = null, meterRunning = false;

  function startMeter() {
    var track = tracks.audio;
    if (!track || !window.AudioContext) return;
    try {
      audioContext = audioContext || new AudioContext();
      analyser = analyser || audioContext.createAnalyser();
      analyser.fftSize = 1024;
      if (meterSource) meterSource.disconnect();
      meterSource = audioContext.createMediaStreamSource(new MediaStream([track]));
      meterSource.connect(analyser);
    } catch (e) {
      return;
    }
    if (!meterRunning) {
      meterRunning = true;
      meterLoop();
    }
  }

  var samples = null, level = 0;
  function meterLoop() {
    if (!meterRunning) return;
    if (!samples) samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    var sum = 0;
    for (var i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    var rms = Math.sqrt(sum / samples.length);
    var target = enabled.audio ? Math.min(1, rms * 5) : 0;
    level = target > level ? target : level * 0.85 + target * 0.15;  // rise fast, fall gently
    $("mic-level").style.transform = "scaleX(" + level.toFixed(3) + ")";
    var meter = $("mic-meter");
    meter.setAttribute("aria-valuenow", String(Math.round(level * 100)));
    $("meter-hint").textContent = !enabled.audio ? "Microphone is off"
      : level > 0.08 ? "We can hear you" : "Say something to test";
    window.requestAnimationFrame(meterLoop);
  }

  function stopMeter() {
    meterRunning = false;
  }

  // Browsers start audio only after a click or key press.
  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () {
      if (audioContext && audioContext.state === "suspended") audioContext.resume();
    });
  });

  // --- Toggles ----------------------------------------------------------------------------------

  function setEnabled(kind, on) {
    enabled[kind] = on;
    if (tracks[kind]) tracks[kind].enabled = on;
    if (call && inCall) {
      if (kind === "audio") call.setLocalAudio(on); else call.setLocalVideo(on);
    }
    var pairs = kind === "audio"
      ? [["preview-mic", null], ["call-mic", on ? "Mute" : "Unmute"]]
      : [["preview-camera", null], ["call-camera", on ? "Stop video" : "Start video"]];
    pairs.forEach(function (pair) {
      var button = $(pair[0]);
      if (!button) return;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (pair[1]) button.querySelector(".control-label").textContent = pair[1];
    });
    if (kind === "video") attachSelf();
  }

  [["preview-mic", "audio"], ["call-mic", "audio"], ["preview-camera", "video"], ["call-camera", "video"]]
    .forEach(function (pair) {
      var button = $(pair[0]);
      if (button) button.addEventListener("click", function () { setEnabled(pair[1], !enabled[pair[1]]); });
    });

  // --- The studio socket: relay out, steering commands in ----------------------------------------

  var socket = null, queue = [], tries = 0, heartbeat = null;

  function openSocket() {
    if (socket || finished) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + config.socketPath);
    socket.addEventListener("open", function () {
      tries = 0;
      body.dataset.socket = "open";
      while (queue.length) socket.send(queue.shift());
      if (inCall) beat();
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message && message.studio_command !== undefined) carryCommand(message);
      else if (message && message.type === "ended") conversationOver();
    });
    socket.addEventListener("close", function (event) {
      socket = null;
      body.dataset.socket = "closed";
      if (event.code === 4410) return conversationOver();
      if (event.code === 4404 || finished || leftOnPurpose) return;
      tries += 1;
      window.setTimeout(openSocket, Math.min(30000, 500 * Math.pow(2, tries)));
    });
  }

  function send(message) {
    var text = JSON.stringify(message);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
    else if (queue.length < 200) queue.push(text);
  }

  function beat() { send({ type: "heartbeat" }); }

  function relay(envelope) { send({ type: "room_event", event: envelope }); }

  // A supervisor's command: into the room, then confirmed to the studio.
  function carryCommand(message) {
    if (!call || !inCall || !message.envelope) return;
    try {
      call.sendAppMessage(message.envelope, "*");
    } catch (e) {
      return;
    }
    send({ type: "command_ack", id: message.studio_command });
  }

  function studioEvent(eventType, participant, key) {
    return {
      message_type: "conversation",
      event_type: eventType,
      conversation_id: config.conversationId,
      inference_id: key + participant.session_id,
      properties: { role: "user", participant_id: participant.session_id, name: participant.user_name || "" },
    };
  }

  // --- The room ---------------------------------------------------------------------------------

  function isReplica(p) { return !!p && (p.user_id || "").indexOf("tavus-replica") !== -1; }

  function join(event) {
    event.preventDefault();
    if (joining || inCall) return;
    if (!window.Daily) {
      setStatus("The video service didn't load. Check your connection and reload the page.", "error");
      return;
    }
    joining = true;
    $("join-button").disabled = true;
    setStatus("Waiting for your browser to allow the camera and microphone…", "waiting");
    previewReady.then(connect);
  }

  function connect() {
    setStatus("Connecting…", "waiting");
    openSocket();
    var name = $("join-name").value.trim().slice(0, 60);
    try { window.sessionStorage.setItem("studio-join-name", name); } catch (e) { /* private mode */ }
    call = window.Daily.createCallObject({
      audioSource: tracks.audio || false,
      videoSource: tracks.video || false,
      // Load Daily's call machine as a script rather than eval: the page's CSP has no
      // 'unsafe-eval' (the join view allows https://*.daily.co scripts instead).
      dailyConfig: { avoidEval: true },
    });
    call.on("joined-meeting", onJoined);
    call.on("participant-joined", function (e) { onParticipant(e.participant, "joined"); });
    call.on("participant-updated", function (e) { onParticipant(e.participant, "updated"); });
    call.on("track-started", function (e) { if (e.participant) onParticipant(e.participant, "updated"); });
    call.on("participant-left", function (e) { onParticipantLeft(e.participant); });
    call.on("app-message", onAppMessage);
    call.on("recording-started", function () {
      relay({ message_type: "sandbox", event_type: "recording-started" });
    });
    call.on("left-meeting", onLeftMeeting);
    call.on("error", function () { if (inCall && !leftOnPurpose) conversationOver(); });
    var options = { url: config.roomUrl, userName: name || "Guest" };
    if (config.roomToken) options.token = config.roomToken;
    call.join(options).catch(function (error) {
      joining = false;
      if (error && error.type === "ended") return conversationOver();
      $("join-button").disabled = false;
      setStatus(error && error.type === "full"
        ? "This call is full. Please try again later."
        : "We couldn't connect you. Check your internet connection and try again.", "error");
    });
  }

  function onJoined(event) {
    inCall = true;
    joining = false;
    beat();
    heartbeat = window.setInterval(beat, HEARTBEAT_MS);
    if (!enabled.audio) call.setLocalAudio(false);
    if (!enabled.video && tracks.video) call.setLocalVideo(false);
    var participants = (event && event.participants) || call.participants();
    // Real Tavus rooms don't announce people in app-messages: say who joined, as the live page
    // does (the same keys, so two pages relaying it store it once). The sandbox room does.
    if (config.mode === "daily" && participants.local) {
      relay(studioEvent("conversation.joined", participants.local, "join-"));
    }
    if (config.record) call.startRecording();
    Object.keys(participants).forEach(function (id) {
      if (id !== "local") onParticipant(participants[id], "present");
    });
    if (!replicaHere) {
      setStatus("The replica is getting ready…", "waiting");
      window.setTimeout(function () {
        if (inCall && !replicaHere) {
          setStatus("This is taking a little longer than usual. Please keep this page open.", "waiting");
        }
      }, REPLICA_PATIENCE_MS);
    }
  }

  function onParticipant(p, how) {
    if (!p || p.local) return;
    if (!isReplica(p)) {
      if (config.mode === "daily" && how === "joined") {
        relay(studioEvent("conversation.joined", p, "join-"));
      }
      return;
    }
    var video = p.tracks && p.tracks.video, audio = p.tracks && p.tracks.audio;
    attachTrack($("replica-audio"), audio && audio.state === "playable" ? audio.persistentTrack : null);
    var ready = false;
    if (config.audioOnly) {
      ready = !!(audio && audio.persistentTrack);
    } else {
      var track = video && video.state === "playable" ? video.persistentTrack : null;
      attachTrack($("replica-video"), track);
      ready = !!track;
    }
    if (ready) replicaArrived();
  }

  function attachTrack(element, track) {
    if (!element) return;
    var current = element.srcObject && element.srcObject.getTracks()[0];
    if (current === track || (!track && !current)) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    if (track) element.play().catch(function () {});
  }

  function replicaArrived() {
    if (replicaHere) return;
    replicaHere = true;
    $("stage").dataset.replica = "here";
    if (!callStarted) enterCall();
    var input = $("say-input");
    if (input) {
      input.disabled = false;
      $("say-form").querySelector("button").disabled = false;
    }
  }

  function onParticipantLeft(p) {
    if (!p) return;
    if (isReplica(p)) {
      replicaHere = false;
      $("stage").dataset.replica = "waiting";
      return;
    }
    if (config.mode === "daily" && !p.local) relay(studioEvent("conversation.left", p, "left-"));
  }

  function enterCall() {
    callStarted = Date.now();
    stopMeter();
    show("call");
    // The device choices move into the call's Devices panel: one set of controls, one truth.
    $("devices-panel").appendChild($("device-fields"));
    attachSelf();
    var canvas = $("replica-canvas");
    if (canvas && window.StudioCompositor) {
      var force2d = new URLSearchParams(window.location.search).get("compositor") === "2d";
      compositor = window.StudioCompositor.create(canvas, $("replica-video"), {
        backgroundUrl: config.backgroundUrl,
        force2d: force2d,
      });
      compositor.start();
      window.__joinCompositor = compositor;  // for diagnostics and the browser tests
    }
    window.setInterval(tickClock, 1000);
    var focus = $("say-input") || $("call-mic");
    if (focus) focus.focus();
  }

  function tickClock() {
    var seconds = Math.floor((Date.now() - callStarted) / 1000);
    var m = Math.floor(seconds / 60), s = seconds % 60;
    $("call-clock").textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  // --- In-room events: relay every one, show captions -------------------------------------------

  function onAppMessage(event) {
    var data = event && event.data;
    if (!data || typeof data !== "object") return;
    if (data.conversation_id && config.conversationId && data.conversation_id !== config.conversationId) return;
    if (data.message_type !== "conversation") return;
    // In a real room this page reports presence itself from Daily's participant events (as
    // the live page does); a room-sent twin would count the same person twice.
    var presence = data.event_type === "conversation.joined" || data.event_type === "conversation.left";
    if (!(presence && config.mode === "daily")) relay(data);
    showEvent(data);
  }

  function role(p) {
    var r = (p && p.role) || "";
    return r === "pal" ? "replica" : r;
  }

  function showEvent(data) {
    var p = data.properties || {};
    var stage = $("stage");
    switch (data.event_type) {
      case "conversation.started_speaking":
      case "conversation.replica.started_speaking":
        if (data.event_type.indexOf(".replica.") !== -1 || role(p) === "replica") stage.classList.add("is-speaking");
        break;
      case "conversation.stopped_speaking":
      case "conversation.replica.stopped_speaking":
      case "conversation.replica_interrupted":
        if (data.event_type !== "conversation.stopped_speaking" || role(p) === "replica") {
          stage.classList.remove("is-speaking");
        }
        break;
      case "conversation.utterance.streaming":
        if (role(p) === "replica") caption("replica", data.inference_id, p.speech, p.final);
        break;
      case "conversation.utterance":
        if (role(p) === "user") caption("user", data.inference_id, p.speech, true);
        break;
    }
  }

  // Captions: the last two lines (what you said, and the replica's answer as it streams).
  var lines = [];
  function caption(who, key, text, final) {
    if (!text) return;
    var box = $("captions");
    if (final) {
      var log = document.createElement("p");
      log.textContent = (who === "user" ? "You" : config.replicaName) + ": " + text;
      $("caption-log").appendChild(log);
    }
    if (!box) return;
    var line = lines.filter(function (l) { return l.who === who && l.key === key; })[0];
    if (!line) {
      line = { who: who, key: key, el: document.createElement("div") };
      line.el.className = "caption role-" + who;
      var label = document.createElement("span");
      label.className = "who";
      label.textContent = who === "user" ? "You" : config.replicaName;
      line.el.appendChild(label);
      line.el.appendChild(document.createElement("span"));
      box.appendChild(line.el);
      lines.push(line);
      while (lines.length > 2) lines.shift().el.remove();
    }
    line.el.lastChild.textContent = text;
    line.el.classList.remove("is-fading");
    window.clearTimeout(line.timer);
    line.timer = window.setTimeout(function () {
      line.el.classList.add("is-fading");
    }, CAPTION_LINGER_MS);
  }

  // --- Sandbox: typing instead of speaking --------------------------------------------------------

  var sayForm = $("say-form");
  if (sayForm) {
    sayForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("say-input");
      var text = input.value.trim();
      if (!text || !call || !inCall || typeof call.sandboxSay !== "function") return;
      input.value = "";
      call.sandboxSay(text).then(function (result) {
        $("say-hint").textContent = result.ok
          ? "This practice room has no microphone, so you type instead of speaking."
          : result.error || "That didn't go through. Try again.";
      });
    });
  }

  // --- Devices panel in the call ------------------------------------------------------------------

  $("call-devices").addEventListener("click", function () {
    var panel = $("devices-panel");
    panel.hidden = !panel.hidden;
    $("call-devices").setAttribute("aria-expanded", panel.hidden ? "false" : "true");
  });
  ["mic-select", "camera-select"].forEach(function (id) {
    var select = $(id);
    if (select) select.addEventListener("change", function () { switchDevice(id === "mic-select" ? "audio" : "video"); });
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", function () { listDevices().catch(function () {}); });
  }

  // --- Leaving, and the end ------------------------------------------------------------------------

  function stopEverything() {
    window.clearInterval(heartbeat);
    stopMeter();
    if (compositor) compositor.stop();
    ["audio", "video"].forEach(function (kind) { if (tracks[kind]) tracks[kind].stop(); });
  }

  function closeSocketSoon() {
    // Let the last relayed events go out before the socket says goodbye.
    window.setTimeout(function () { if (socket) socket.close(1000); }, 400);
  }

  function leave() {
    if (!call || leftOnPurpose) return;
    leftOnPurpose = true;
    var local = call.participants().local;
    if (config.mode === "daily" && local) relay(studioEvent("conversation.left", local, "left-"));
    call.leave().catch(function () {}).then(function () {
      inCall = false;
      stopEverything();
      closeSocketSoon();
      showEnd("You've left the conversation", "Thank you for taking part.", true);
    });
  }
  $("call-leave").addEventListener("click", leave);

  function onLeftMeeting() {
    inCall = false;
    if (leftOnPurpose) return;
    conversationOver();
  }

  // The room closed or the studio says it's over: show why, once the studio knows.
  function conversationOver() {
    if (finished) return;
    finished = true;
    inCall = false;
    stopEverything();
    if (call && call.meetingState && call.meetingState() === "joined-meeting") call.leave().catch(function () {});
    if (socket) socket.close(1000);
    showEnd("This conversation has ended", "", false);
    askWhy(0);
  }

  function askWhy(attempt) {
    fetch(config.stateUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (!state.live && state.reason) {
          $("ended-reason").textContent = state.reason;
        } else if (attempt < 8) {
          window.setTimeout(function () { askWhy(attempt + 1); }, 1500);
        } else {
          $("ended-reason").textContent = "The call is over.";
        }
      })
      .catch(function () { $("ended-reason").textContent = "The call is over."; });
  }

  function showEnd(title, reason, canRejoin) {
    show("ended");
    $("ended-title").textContent = title;
    $("ended-reason").textContent = reason;
    $("rejoin").hidden = true;
    $("ended-title").focus();
    if (!canRejoin) return;
    // Rejoining is offered only while the conversation is still on.
    fetch(config.stateUrl, { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) { $("rejoin").hidden = !state.live; })
      .catch(function () {});
  }
  $("rejoin").addEventListener("click", function () { window.location.reload(); });

  // --- Start -----------------------------------------------------------------------------------------

  try {
    var saved = window.sessionStorage.getItem("studio-join-name");
    if (saved) $("join-name").value = saved;
  } catch (e) { /* private mode */ }
  $("prejoin-form").addEventListener("submit", join);
  $("media-retry").addEventListener("click", function () { startPreview(); });
  show("prejoin");
  startPreview();
})();
