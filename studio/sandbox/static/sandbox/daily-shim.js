// The sandbox's stand-in for daily-js's call object (Daily.createCallObject), so a page written
// for real Tavus rooms runs unchanged against the sandbox. It implements only what the studio's
// join page uses: join / leave, participants() with real MediaStreamTracks, on / off events
// (joined-meeting, participant-joined / -updated / -left, track-started, app-message,
// left-meeting, error, recording-started), sendAppMessage, setLocalAudio / setLocalVideo,
// setInputDevicesAsync and startRecording.
//
// It talks to the sandbox room's own endpoints (session, presence, events, say, command), as the
// sandbox room page does, and draws the simulated replica into a canvas whose captureStream()
// is the replica's camera track: on the sandbox's green, rgb(0,255,155), when the conversation
// asked for apply_greenscreen. So the page's compositor and captions run for real in tests.
//
// Sandbox only: there is no microphone in the sandbox, so the person types what they say;
// call.sandboxSay(text) is the one method real daily-js doesn't have.
(function () {
  "use strict";
  if (window.Daily) return;  // real daily-js is loaded: never shadow it

  var GREEN = "rgb(0, 255, 155)";
  var POLL_MS = 300;
  var HEARTBEAT_MS = 5000;
  var WIDTH = 960, HEIGHT = 540, FPS = 24;

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
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

  // The sandbox runs inside the studio's own server, and its seat cookie is same-origin only:
  // reach the room's endpoints on this page's origin even if conversation_url names another
  // host for the same server (127.0.0.1 vs localhost).
  function onThisOrigin(url) {
    var u = new URL(url, window.location.href);
    return window.location.origin + u.pathname + u.search;
  }

  // --- The simulated replica, drawn (the sandbox room page's face, as canvas paths) ---------

  var PATHS = {
    hairLong: new Path2D("M58 104 C 52 36, 188 36, 182 104 L 190 206 C 160 224, 80 224, 50 206 Z"),
    body: new Path2D("M22 262 C 30 204, 76 186, 120 186 C 164 186, 210 204, 218 262 Z"),
    collar: new Path2D("M96 190 L 120 214 L 144 190 Z"),
    hairShort: new Path2D("M64 100 C 58 48, 92 34, 122 35 C 154 36, 184 52, 176 100 C 170 80, 150 64, 122 66 C 96 66, 74 78, 64 100 Z"),
    hairOther: new Path2D("M63 108 C 56 50, 96 36, 124 37 C 158 38, 188 60, 177 108 C 166 84, 146 66, 112 70 C 96 72, 78 86, 63 108 Z"),
    browLeft: new Path2D("M86 88 q 13 -9 26 0"),
    browRight: new Path2D("M128 88 q 13 -9 26 0"),
    nose: new Path2D("M120 112 q -6 14 2 17"),
    smile: new Path2D("M103 141 q 17 15 34 0"),
  };

  function Painter(room) {
    this.look = room.look || {};
    this.greenscreen = !!room.greenscreen;
    this.audioOnly = !!room.audio_only;
    this.speaking = false;
    this.canvas = document.createElement("canvas");
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx = this.canvas.getContext("2d");
    this.timer = null;
    this.videoTrack = null;
    this.audioTrack = null;
  }

  Painter.prototype.start = function () {
    var self = this;
    this.paint();
    if (!this.audioOnly) {
      this.videoTrack = this.canvas.captureStream(FPS).getVideoTracks()[0];
    }
    try {
      // The replica's voice: silent (the sandbox speaks in captions), but a real track, so
      // the page's audio path runs as it does with Tavus.
      this.audio = new (window.AudioContext || window.webkitAudioContext)();
      this.audioTrack = this.audio.createMediaStreamDestination().stream.getAudioTracks()[0];
    } catch (e) {
      this.audioTrack = null;
    }
    this.timer = window.setInterval(function () { self.paint(); }, 1000 / FPS);
  };

  Painter.prototype.stop = function () {
    window.clearInterval(this.timer);
    if (this.videoTrack) this.videoTrack.stop();
    if (this.audioTrack) this.audioTrack.stop();
    if (this.audio) this.audio.close().catch(function () {});
  };

  Painter.prototype.paint = function () {
    var ctx = this.ctx, look = this.look, t = performance.now() / 1000;
    if (this.greenscreen) {
      ctx.fillStyle = GREEN;
      ctx.fillRect(0, 0, WIDTH, HEIGHT);
    } else {
      var sky = ctx.createRadialGradient(WIDTH / 2, HEIGHT * 0.2, 10, WIDTH / 2, HEIGHT * 0.2, WIDTH * 0.7);
      sky.addColorStop(0, "#23304d");
      sky.addColorStop(0.55, "#121a2c");
      sky.addColorStop(1, "#0a0e18");
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, WIDTH, HEIGHT);
    }
    if (this.audioOnly) return;
    var s = (HEIGHT * 0.92) / 260;
    var breathe = Math.sin(t * Math.PI / 3) * 3;
    ctx.save();
    ctx.translate(WIDTH / 2 - 120 * s, HEIGHT - 258 * s + breathe * s * 0.5);
    ctx.scale(s, s);
    var fill = function (color, shape, alpha) {
      ctx.globalAlpha = alpha === undefined ? 1 : alpha;
      ctx.fillStyle = color;
      ctx.fill(shape);
      ctx.globalAlpha = 1;
    };
    var ellipse = function (x, y, rx, ry) {
      var p = new Path2D();
      p.ellipse(x, y, rx, ry, 0, 0, Math.PI * 2);
      return p;
    };
    var rounded = function (x, y, w, h, r) {
      var p = new Path2D();
      p.roundRect(x, y, w, h, r);
      return p;
    };
    var stroke = function (color, shape, width, alpha) {
      ctx.globalAlpha = alpha === undefined ? 1 : alpha;
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.lineCap = "round";
      ctx.stroke(shape);
      ctx.globalAlpha = 1;
    };
    if (look.style === "long") fill(look.hair, PATHS.hairLong);
    if (look.style === "bun") fill(look.hair, ellipse(120, 34, 24, 24));
    fill(look.accent, PATHS.body);
    fill("#ffffff", PATHS.collar, 0.9);
    fill(look.skin, rounded(102, 156, 36, 40, 14));
    fill("#000000", rounded(102, 156, 36, 24, 10), 0.08);
    fill(look.skin, ellipse(65, 112, 9, 14));
    fill(look.skin, ellipse(175, 112, 9, 14));
    fill(look.skin, ellipse(120, 106, 55, 64));
    fill(look.hair, look.style === "short" ? PATHS.hairShort : PATHS.hairOther);
    stroke(look.hair, PATHS.browLeft, 4.5);
    stroke(look.hair, PATHS.browRight, 4.5);
    var blink = (t % 5) < 0.12 ? 0.1 : 1;  // a blink every five seconds
    fill("#1f2430", ellipse(99, 106, 7, 8 * blink));
    fill("#1f2430", ellipse(141, 106, 7, 8 * blink));
    if (blink === 1) {
      fill("#ffffff", ellipse(101.5, 103, 2.2, 2.2));
      fill("#ffffff", ellipse(143.5, 103, 2.2, 2.2));
    }
    fill("#ff7b7b", ellipse(86, 128, 10, 10), 0.22);
    fill("#ff7b7b", ellipse(154, 128, 10, 10), 0.22);
    stroke("#000000", PATHS.nose, 3, 0.16);
    if (this.speaking) {
      var open = 0.3 + 0.75 * Math.abs(Math.sin(t * Math.PI / 0.24));
      fill("#6b2330", ellipse(120, 145, 13, 9 * open));
    } else {
      stroke("#8a3b3b", PATHS.smile, 4.5);
    }
    ctx.restore();
  };

  // --- The call object ------------------------------------------------------------------------

  function CallObject(options) {
    this._options = options || {};
    this._handlers = {};
    this._state = "new";
    this._session = randomId();
    this._lastSeq = 0;
    this._lastTurn = 0;
    this._room = null;
    this._painter = null;
    this._replica = null;
    this._owned = [];  // tracks this shim acquired itself (it stops only those)
    this._local = {
      session_id: randomId(),
      user_id: "",
      user_name: "",
      local: true,
      owner: false,
      audio: false,
      video: false,
      tracks: { audio: { state: "off" }, video: { state: "off" } },
    };
    var self = this;
    this._onPageHide = function () { self._goodbye(true); };
  }

  CallObject.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };

  CallObject.prototype.off = function (name, handler) {
    var list = this._handlers[name] || [];
    this._handlers[name] = list.filter(function (h) { return h !== handler; });
    return this;
  };

  CallObject.prototype._emit = function (name, event) {
    event = Object.assign({ action: name }, event || {});
    (this._handlers[name] || []).slice().forEach(function (handler) {
      try { handler(event); } catch (e) { window.setTimeout(function () { throw e; }); }
    });
  };

  CallObject.prototype.meetingState = function () { return this._state; };

  function copyParticipant(p) {
    return Object.assign({}, p, {
      tracks: {
        audio: Object.assign({}, p.tracks.audio),
        video: Object.assign({}, p.tracks.video),
      },
    });
  }

  CallObject.prototype.participants = function () {
    var all = { local: copyParticipant(this._local) };
    if (this._replica) all[this._replica.session_id] = copyParticipant(this._replica);
    return all;
  };

  CallObject.prototype.localAudio = function () { return this._local.audio; };
  CallObject.prototype.localVideo = function () { return this._local.video; };

  // --- Local tracks -------------------------------------------------------------------------

  CallObject.prototype._setLocalTrack = function (kind, track) {
    var slot = this._local.tracks[kind];
    var old = slot.persistentTrack;
    if (old && old !== track && this._owned.indexOf(old) !== -1) old.stop();
    if (!track) {
      this._local.tracks[kind] = { state: "off" };
      this._local[kind] = false;
      return;
    }
    var on = old ? this._local[kind] : true;  // a replaced device keeps its on / off
    track.enabled = on;
    this._local[kind] = on;
    this._local.tracks[kind] = {
      state: on ? "playable" : "off",
      persistentTrack: track,
      track: on ? track : undefined,
    };
  };

  // A source as daily-js takes it: a MediaStreamTrack, a device id, false (none) or
  // true/undefined (the default device).
  CallObject.prototype._acquire = function (kind, source) {
    var self = this;
    if (source === false || source === null) return Promise.resolve(null);
    if (source && typeof source === "object" && "kind" in source) return Promise.resolve(source);
    var constraint = typeof source === "string" ? { deviceId: { exact: source } } : true;
    var want = {};
    want[kind] = constraint;
    return navigator.mediaDevices.getUserMedia(want).then(function (stream) {
      var track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      self._owned.push(track);
      return track;
    }).catch(function () { return null; });
  };

  CallObject.prototype.setLocalAudio = function (on) { this._toggle("audio", on); };
  CallObject.prototype.setLocalVideo = function (on) { this._toggle("video", on); };

  CallObject.prototype._toggle = function (kind, on) {
    var slot = this._local.tracks[kind];
    this._local[kind] = !!on;
    if (slot.persistentTrack) {
      slot.persistentTrack.enabled = !!on;
      slot.state = on ? "playable" : "off";
      slot.track = on ? slot.persistentTrack : undefined;
    }
    this._emit("participant-updated", { participant: copyParticipant(this._local) });
  };

  CallObject.prototype.setInputDevicesAsync = function (devices) {
    var self = this;
    devices = devices || {};
    var jobs = [];
    [["audio", "audioSource", "audioDeviceId"], ["video", "videoSource", "videoDeviceId"]]
      .forEach(function (names) {
        var source = devices[names[1]] !== undefined ? devices[names[1]] : devices[names[2]];
        if (source === undefined) return;
        jobs.push(self._acquire(names[0], source).then(function (track) {
          self._setLocalTrack(names[0], track);
        }));
      });
    return Promise.all(jobs).then(function () {
      self._emit("participant-updated", { participant: copyParticipant(self._local) });
      var id = function (kind) {
        var track = self._local.tracks[kind].persistentTrack;
        return track && track.getSettings ? { deviceId: track.getSettings().deviceId } : {};
      };
      return { camera: id("video"), mic: id("audio"), speaker: {} };
    });
  };

  // --- Joining and leaving ------------------------------------------------------------------

  CallObject.prototype._fail = function (message, kind) {
    this._state = "error";
    this._stopClock();
    this._emit("error", { errorMsg: message, error: { type: kind || "connection-error", msg: message } });
    var error = new Error(message);
    error.type = kind || "connection-error";
    return Promise.reject(error);
  };

  CallObject.prototype.join = function (options) {
    var self = this;
    options = Object.assign({}, this._options, options || {});
    if (this._state === "joined-meeting" || this._state === "joining-meeting") {
      return Promise.reject(new Error("already joined or joining"));
    }
    var room = new URL(options.url, window.location.href);
    var token = options.token || room.searchParams.get("t") || "";
    var session = onThisOrigin(room.pathname.replace(/\/?$/, "/") + "session" +
      (token ? "?t=" + encodeURIComponent(token) : ""));
    this._state = "joining-meeting";
    this._local.user_name = (options.userName || "Guest").slice(0, 60);
    return fetch(session, { credentials: "same-origin" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            return self._fail(data.message || data.error || "Can't join this call.", data.status);
          }
          self._room = data;
          self._local.user_id = data.participant_id;
          self._urls = {};
          Object.keys(data.urls).forEach(function (name) {
            self._urls[name] = onThisOrigin(data.urls[name]);
          });
          return Promise.all([
            self._acquire("audio", options.audioSource),
            self._acquire("video", options.videoSource),
          ]);
        });
      })
      .then(function (tracks) {
        self._setLocalTrack("audio", tracks[0]);
        self._setLocalTrack("video", tracks[1]);
        return self._presenceJoin();
      })
      .then(function (joined) {
        self._state = "joined-meeting";
        self._painter = new Painter(self._room);
        if (joined.replica_joined) self._addReplica(false);
        self._emit("joined-meeting", { participants: self.participants() });
        self._deliver(joined.joined);
        window.addEventListener("pagehide", self._onPageHide);
        self._startClock();
        return self.participants();
      });
  };

  CallObject.prototype._presenceJoin = function () {
    var self = this;
    return post(this._urls.presence, {
      action: "join", session: this._session, name: this._local.user_name,
    }).then(function (res) {
      var data = res.data;
      if (data.status === "ended" || res.status === 410) {
        return self._fail("This conversation has ended.", "ended");
      }
      if (data.status === "full") return self._fail(data.message || "This call is full.", "full");
      if (!res.ok || !data.joined) return self._fail(data.message || "Can't join this call.");
      self._lastSeq = Math.max(self._lastSeq, data.joined.seq - 1);
      return data;
    });
  };

  CallObject.prototype._addReplica = function (announce) {
    if (this._replica) return;
    var room = this._room;
    this._painter.start();
    var video = this._painter.videoTrack, audio = this._painter.audioTrack;
    this._replica = {
      session_id: "replica-" + room.conversation_id,
      // Tavus's replica participant is recognised by this (tavus-api.md §6.1).
      user_id: "tavus-replica-" + room.replica_id,
      user_name: room.replica_name,
      local: false,
      owner: false,
      audio: !!audio,
      video: !!video,
      tracks: {
        video: video ? { state: "playable", persistentTrack: video, track: video } : { state: "off" },
        audio: audio ? { state: "playable", persistentTrack: audio, track: audio } : { state: "off" },
      },
    };
    if (!announce) return;
    var participant = copyParticipant(this._replica);
    this._emit("participant-joined", { participant: participant });
    if (video) this._emit("track-started", { participant: participant, track: video, type: "video" });
    if (audio) this._emit("track-started", { participant: participant, track: audio, type: "audio" });
  };

  // Each in-room event once, in seq order, as Daily delivers Tavus's app-messages.
  CallObject.prototype._deliver = function (envelope) {
    if (!envelope || typeof envelope.seq !== "number" || envelope.seq <= this._lastSeq) return;
    this._lastSeq = envelope.seq;
    this._lastTurn = envelope.turn_idx;
    var p = envelope.properties || {};
    if (this._painter && (p.role === "replica" || /replica/.test(envelope.event_type))) {
      if (/started_speaking$/.test(envelope.event_type)) this._painter.speaking = true;
      if (/stopped_speaking$|replica_interrupted$/.test(envelope.event_type)) this._painter.speaking = false;
    }
    this._emit("app-message", {
      data: envelope,
      fromId: this._replica ? this._replica.session_id : "replica-" + this._room.conversation_id,
    });
  };

  CallObject.prototype._onState = function (data) {
    if (this._state !== "joined-meeting") return;
    if (data.status === "ended") return this._roomClosed();
    if (data.replica_joined && !this._replica) this._addReplica(true);
  };

  CallObject.prototype._poll = function () {
    var self = this;
    this._polling = true;
    this._lastPoll = Date.now();
    var url = new URL(this._urls.events);
    url.searchParams.set("after", String(this._lastSeq));
    fetch(url.toString(), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (self._state !== "joined-meeting") return;
        (data.events || []).forEach(function (e) { self._deliver(e); });
        self._onState(data);
      })
      .catch(function () { self._lastPoll = Date.now() + 2000; })
      .finally(function () { self._polling = false; });
  };

  CallObject.prototype._heartbeat = function () {
    var self = this;
    this._lastBeat = Date.now();
    post(this._urls.presence, { action: "heartbeat", session: this._session }).then(function (res) {
      if (self._state !== "joined-meeting") return;
      if (res.data.status === "ended" || res.status === 410) self._roomClosed();
      else if (res.data.status === "rejoin") {
        self._presenceJoin().then(function (data) { self._deliver(data.joined); }, function () {});
      }
    }).catch(function () {});
  };

  CallObject.prototype._tick = function () {
    if (this._state !== "joined-meeting") return;
    var now = Date.now();
    if (!this._polling && now - this._lastPoll >= POLL_MS) this._poll();
    if (now - this._lastBeat >= HEARTBEAT_MS) this._heartbeat();
  };

  // A worker's timer keeps running in a background tab, where page timers are throttled and
  // the heartbeat would look dead to the sandbox (as the sandbox room page does).
  CallObject.prototype._startClock = function () {
    var self = this;
    this._lastPoll = 0;
    this._lastBeat = Date.now();
    var tick = function () { self._tick(); };
    try {
      this._worker = new Worker(this._room.clock_js);
      this._worker.onmessage = tick;
    } catch (e) {
      this._timer = window.setInterval(tick, 250);
    }
  };

  CallObject.prototype._stopClock = function () {
    if (this._worker) this._worker.terminate();
    if (this._timer) window.clearInterval(this._timer);
    this._worker = this._timer = null;
  };

  CallObject.prototype._teardown = function () {
    this._stopClock();
    window.removeEventListener("pagehide", this._onPageHide);
    if (this._painter) this._painter.stop();
    this._owned.forEach(function (track) { track.stop(); });
    this._owned = [];
  };

  // The room shut down (the conversation ended): Daily drops everyone from the meeting.
  CallObject.prototype._roomClosed = function () {
    if (this._state !== "joined-meeting") return;
    var replica = this._replica;
    this._state = "left-meeting";
    this._teardown();
    if (replica) {
      this._replica = null;
      this._emit("participant-left", { participant: copyParticipant(replica) });
    }
    this._emit("left-meeting", {});
  };

  // Leaving: the sandbox room's own "conversation.left", with the next seq (the server keeps
  // that number), exactly as its room page sends it while unloading.
  CallObject.prototype._goodbye = function (unloading) {
    if (this._state !== "joined-meeting") return null;
    var seq = this._lastSeq + 1;
    var inferenceId = randomId();
    var envelope = {
      message_type: "conversation",
      event_type: "conversation.left",
      conversation_id: this._room.conversation_id,
      inference_id: inferenceId,
      seq: seq,
      turn_idx: this._lastTurn,
      timestamp: Date.now() / 1000,
      properties: { role: "user", participant_id: this._room.participant_id, name: this._local.user_name },
    };
    this._deliver(envelope);
    this._state = "leaving-meeting";
    var body = { action: "leave", session: this._session, seq: seq, inference_id: inferenceId };
    if (unloading) {
      var blob = new Blob([JSON.stringify(body)], { type: "application/json" });
      navigator.sendBeacon(this._urls.presence, blob);
      this._teardown();
      this._state = "left-meeting";
      return null;
    }
    return post(this._urls.presence, body).catch(function () {});
  };

  CallObject.prototype.leave = function () {
    var self = this;
    var sent = this._goodbye(false);
    if (!sent) {
      if (this._state !== "left-meeting") this._state = "left-meeting";
      return Promise.resolve();
    }
    return sent.then(function () {
      self._teardown();
      self._replica = null;
      self._state = "left-meeting";
      self._emit("left-meeting", {});
    });
  };

  CallObject.prototype.destroy = function () {
    var self = this;
    return this.leave().then(function () { self._handlers = {}; self._state = "destroyed"; });
  };

  // --- Talking to the room -----------------------------------------------------------------

  CallObject.prototype.sendAppMessage = function (data, to) {
    var self = this;
    if (this._state !== "joined-meeting") throw new Error("not in a meeting");
    if (!data || data.message_type !== "conversation") return "";
    post(this._urls.command, data).then(function () { self._lastPoll = 0; });
    return randomId();
  };

  CallObject.prototype.startRecording = function () {
    var self = this;
    if (this._state !== "joined-meeting") return;
    post(this._urls.command, { message_type: "sandbox", event_type: "start_recording" })
      .then(function (res) {
        var reply = res.data.reply || {};
        if (reply.event_type === "recording-started") self._emit("recording-started", {});
        else self._emit("recording-error", { errorMsg: (reply.properties || {}).message || "" });
      });
  };

  // Sandbox only: the person typed what they would have said (there is no microphone).
  CallObject.prototype.sandboxSay = function (text) {
    var self = this;
    if (this._state !== "joined-meeting") {
      return Promise.resolve({ ok: false, error: "You're not in the call." });
    }
    return post(this._urls.say, { text: text }).then(function (res) {
      self._lastPoll = 0;
      return { ok: res.ok, error: res.data.error || "" };
    });
  };

  window.Daily = {
    sandbox: true,
    createCallObject: function (options) { return new CallObject(options); },
    supportedBrowser: function () { return { supported: true, mobile: false }; },
  };
})();
