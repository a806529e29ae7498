// The sandbox's stand-in for daily-js's call object (Daily.createCallObject), so a page written
// for real Tavus rooms runs unchanged against the sandbox. It implements what the studio's join
// page uses (JoinCall in types/pages.d.ts) with daily-js's own signatures, and emits only events
// daily-js has, in the shapes its index.d.ts gives them; `tsc -p tsconfig.json` checks both
// against the pinned package (tests/server/test_daily_js.py). Like a real room it turns a
// join away with a Daily fatal error (an "error" event, then "left-meeting"; join() rejects
// with the same event object), delivers in-room events as app-messages from the replica's
// session while the replica is in the room, and ends a call whose conversation ended with
// "no-room" (Tavus deletes the room).
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
      this.audio = new window.AudioContext();
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

  /** A whole participant as daily-js describes one (index.d.ts: DailyParticipant). */
  function participant(/** @type {Partial<DailyParticipant>} */ fields) {
    /** @type {DailyParticipant} */
    const whole = {
      audio: false,
      video: false,
      screen: false,
      tracks: { audio: trackState(null), video: trackState(null), screenAudio: trackState(null), screenVideo: trackState(null) },
      user_id: "",
      user_name: "",
      session_id: randomId(),
      joined_at: new Date(),
      will_eject_at: new Date(0),
      local: false,
      owner: false,
      record: false,
      permissions: { hasPresence: true, canSend: true, canReceive: { base: true }, canAdmin: false },
      cam_info: {},
      screen_info: {},
    };
    return Object.assign(whole, fields);
  }

  /**
   * A track as daily-js reports it: `track` only while playable, `persistentTrack` whenever
   * there is one.
   * @param {MediaStreamTrack | null} track
   * @param {boolean} [on]
   * @returns {DailyTrackState}
   */
  function trackState(track, on = true) {
    if (!track) return { subscribed: true, state: "off", off: { byUser: true } };
    if (!on) return { subscribed: true, state: "off", off: { byUser: true }, persistentTrack: track };
    return { subscribed: true, state: "playable", track, persistentTrack: track };
  }

  function copyParticipant(/** @type {DailyParticipant} */ p) {
    return Object.assign({}, p, { tracks: Object.assign({}, p.tracks) });
  }

  // The sandbox room's refusals (rooms.py) as the Daily fatal errors a real room gives for them:
  // Tavus deletes an ended conversation's room, so joining it finds no room.
  /** @type {Record<string, DailyFatalErrorType>} */
  const REFUSALS = { missing: "no-room", ended: "no-room", not_allowed: "not-allowed", full: "meeting-full" };

  /** @implements {SandboxCall} */
  class CallObject {
    constructor(/** @type {DailyFactoryOptions} */ options) {
      this.callClientId = randomId();
      this._options = options || {};
      /** @type {{[name: string]: Function[]}} */
      this._handlers = {};
      /** @type {DailyMeetingState} */
      this._state = "new";
      this._leaving = false;
      this._session = randomId();
      this._lastSeq = 0;
      this._lastTurn = 0;
      /** @type {any} */
      this._room = null;
      /** @type {{[name: string]: string}} */
      this._urls = {};
      /** @type {Painter | null} */
      this._painter = null;
      /** @type {DailyParticipant | null} */
      this._replica = null;
      /** In-room events that came before the replica: Daily delivers app-messages from a
       * participant in the room, so they wait for it. @type {object[]} */
      this._early = [];
      /** @type {MediaStreamTrack[]} tracks this shim acquired itself (it stops only those) */
      this._owned = [];
      this._local = participant({ local: true });
      this._polling = false;
      this._lastPoll = 0;
      this._lastBeat = 0;
      /** @type {Worker | null} */
      this._worker = null;
      this._timer = 0;
      this._onPageHide = () => { this._goodbye(true); };
    }

    /**
     * @template {DailyEvent} T
     * @param {T} name
     * @param {(event: DailyEventObject<T>) => void} handler
     */
    on(name, handler) {
      (this._handlers[name] = this._handlers[name] || []).push(handler);
      return this;
    }

    /**
     * @template {DailyEvent} T
     * @param {T} name
     * @param {(event: DailyEventObject<T>) => void} handler
     */
    off(name, handler) {
      this._handlers[name] = (this._handlers[name] || []).filter((h) => h !== handler);
      return this;
    }

    /**
     * Tell the page, as daily-js does: each event object carries its action and the call's id,
     * and has the shape index.d.ts gives that event.
     * @template {DailyEvent} T
     * @param {T} action
     * @param {Omit<DailyEventObject<T>, "action" | "callClientId">} payload
     */
    _emit(action, payload) {
      const event = Object.assign({}, payload, { action, callClientId: this.callClientId });
      (this._handlers[action] || []).slice().forEach((handler) => {
        try { handler(event); } catch (e) { window.setTimeout(() => { throw e; }); }
      });
      return event;
    }

    meetingState() { return this._state; }

    participants() {
      /** @type {DailyParticipantsObject} */
      const all = { local: copyParticipant(this._local) };
      if (this._replica) all[this._replica.session_id] = copyParticipant(this._replica);
      return all;
    }

    // --- Local tracks -------------------------------------------------------------------------

    _setLocalTrack(/** @type {"audio" | "video"} */ kind, /** @type {MediaStreamTrack | null} */ track) {
      const old = this._local.tracks[kind].persistentTrack;
      if (old && old !== track && this._owned.indexOf(old) !== -1) old.stop();
      const on = track ? (old ? this._local[kind] : true) : false;  // a replaced device keeps its on / off
      if (track) track.enabled = on;
      this._local[kind] = on;
      this._local.tracks[kind] = trackState(track, on);
    }

    /**
     * A source as daily-js takes it: a MediaStreamTrack, a device id, false (none) or
     * true/undefined (the default device).
     * @param {"audio" | "video"} kind
     * @param {MediaStreamTrack | string | boolean | null | undefined} source
     * @returns {Promise<MediaStreamTrack | null>}
     */
    _acquire(kind, source) {
      if (source === false || source === null) return Promise.resolve(null);
      if (source && typeof source === "object" && "kind" in source) return Promise.resolve(source);
      const constraint = typeof source === "string" ? { deviceId: { exact: source } } : true;
      return navigator.mediaDevices.getUserMedia({ [kind]: constraint }).then((stream) => {
        const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
        this._owned.push(track);
        return track;
      }).catch(() => null);
    }

    setLocalAudio(/** @type {boolean} */ on) { this._toggle("audio", on); return this; }
    setLocalVideo(/** @type {boolean} */ on) { this._toggle("video", on); return this; }

    _toggle(/** @type {"audio" | "video"} */ kind, /** @type {boolean} */ on) {
      const track = this._local.tracks[kind].persistentTrack || null;
      if (track) track.enabled = !!on;
      this._local[kind] = !!on && !!track;
      this._local.tracks[kind] = trackState(track, !!on);
      this._emit("participant-updated", { participant: copyParticipant(this._local) });
    }

    /** @param {Parameters<DailyCall["setInputDevicesAsync"]>[0]} devices */
    setInputDevicesAsync(devices) {
      devices = devices || {};
      /** @type {Promise<void>[]} */
      const jobs = [];
      /** @type {["audio" | "video", "audioSource" | "videoSource", "audioDeviceId" | "videoDeviceId"][]} */
      const names = [["audio", "audioSource", "audioDeviceId"], ["video", "videoSource", "videoDeviceId"]];
      names.forEach(([kind, sourceKey, idKey]) => {
        const source = devices[sourceKey] !== undefined ? devices[sourceKey] : devices[idKey];
        if (source === undefined) return;
        jobs.push(this._acquire(kind, source).then((track) => this._setLocalTrack(kind, track)));
      });
      return Promise.all(jobs).then(() => {
        this._emit("participant-updated", { participant: copyParticipant(this._local) });
        const id = (/** @type {"audio" | "video"} */ kind) => {
          const track = this._local.tracks[kind].persistentTrack;
          return track && track.getSettings ? { deviceId: track.getSettings().deviceId } : {};
        };
        /** @type {DailyDeviceInfos} */
        const infos = { camera: id("video"), mic: id("audio"), speaker: {} };
        return infos;
      });
    }

    // --- Joining and leaving ------------------------------------------------------------------

    /**
     * The room turned the call away, as a Daily room does: an "error" event with a
     * DailyFatalErrorType, then "left-meeting"; join() rejects with the same event object.
     * @param {DailyFatalErrorType} type
     * @param {string} message
     */
    _fail(type, message) {
      this._state = "error";
      this._teardown();
      /** @type {DailyEventObjectFatalError["error"]} */
      const error = type === "connection-error"
        ? { type, msg: message, details: { on: "join", sourceError: {} } }
        : { type, msg: message };
      const event = this._emit("error", { errorMsg: message, error });
      this._emit("left-meeting", {});
      return Promise.reject(event);
    }

    /** @param {DailyCallOptions} [options] */
    join(options) {
      options = Object.assign({}, this._options, options || {});
      if (this._state === "joined-meeting" || this._state === "joining-meeting") {
        console.warn("already joined meeting, call leave() before joining again");
        return Promise.resolve();
      }
      const room = new URL(options.url, window.location.href);
      const token = options.token || room.searchParams.get("t") || "";
      const session = onThisOrigin(room.pathname.replace(/\/?$/, "/") + "session" +
        (token ? "?t=" + encodeURIComponent(token) : ""));
      this._state = "joining-meeting";
      this._emit("joining-meeting", {});
      this._local.user_name = (options.userName || "Guest").slice(0, 60);
      return fetch(session, { credentials: "same-origin" })
        .catch(() => null)
        .then((response) => {
          if (!response) return this._fail("connection-error", "Couldn't reach the room.");
          return response.json().catch(() => ({})).then((data) => {
            if (!response.ok) {
              return this._fail(REFUSALS[data.status] || "connection-error", data.message || data.error || "Can't join this call.");
            }
            this._room = data;
            // The room's id for this person, as Daily's session_id is (and Daily's user_id is
            // the session id too when no meeting token names one): the sandbox's own
            // conversation.joined/left carry the same id, so the studio counts one person.
            this._local.session_id = data.participant_id;
            this._local.user_id = data.participant_id;
            Object.keys(data.urls).forEach((name) => { this._urls[name] = onThisOrigin(data.urls[name]); });
            return Promise.all([
              this._acquire("audio", options.audioSource),
              this._acquire("video", options.videoSource),
            ]).then((tracks) => {
              this._setLocalTrack("audio", tracks[0]);
              this._setLocalTrack("video", tracks[1]);
              return this._presenceJoin();
            }).then((joined) => {
              this._state = "joined-meeting";
              this._painter = new Painter(this._room);
              if (joined.replica_joined) this._addReplica(false);
              this._emit("joined-meeting", { participants: this.participants() });
              this._deliver(joined.joined);
              window.addEventListener("pagehide", this._onPageHide);
              this._startClock();
              return this.participants();
            });
          });
        });
    }

    _presenceJoin() {
      return post(this._urls.presence, {
        action: "join", session: this._session, name: this._local.user_name,
      }).then((res) => {
        const data = res.data;
        if (data.status === "ended" || res.status === 410) return this._fail("no-room", "This conversation has ended.");
        if (data.status === "full") return this._fail("meeting-full", data.message || "This call is full.");
        if (!res.ok || !data.joined) return this._fail("connection-error", data.message || "Can't join this call.");
        this._lastSeq = Math.max(this._lastSeq, data.joined.seq - 1);
        return data;
      });
    }

    _addReplica(/** @type {boolean} */ announce) {
      if (this._replica) return;
      const room = this._room;
      this._painter.start();
      const video = this._painter.videoTrack, audio = this._painter.audioTrack;
      this._replica = participant({
        session_id: "replica-" + room.conversation_id,
        // Tavus's replica participant is recognised by this (tavus-api.md §6.1).
        user_id: "tavus-replica-" + room.replica_id,
        user_name: room.replica_name,
        owner: true,
        audio: !!audio,
        video: !!video,
        tracks: Object.assign({}, this._local.tracks, { video: trackState(video), audio: trackState(audio) }),
      });
      if (announce) {
        const replica = copyParticipant(this._replica);
        this._emit("participant-joined", { participant: replica });
        if (video) this._emit("track-started", { participant: replica, track: video, type: "video" });
        if (audio) this._emit("track-started", { participant: replica, track: audio, type: "audio" });
      }
      const early = this._early;
      this._early = [];
      early.forEach((envelope) => this._appMessage(envelope));
    }

    // Each in-room event once, in seq order, as Daily delivers Tavus's app-messages: from the
    // replica's session, and only while the replica is in the room.
    _deliver(/** @type {any} */ envelope) {
      if (!envelope || typeof envelope.seq !== "number" || envelope.seq <= this._lastSeq) return;
      this._lastSeq = envelope.seq;
      this._lastTurn = envelope.turn_idx;
      const p = envelope.properties || {};
      if (this._painter && (p.role === "replica" || /replica/.test(envelope.event_type))) {
        if (/started_speaking$/.test(envelope.event_type)) this._painter.speaking = true;
        if (/stopped_speaking$|replica_interrupted$/.test(envelope.event_type)) this._painter.speaking = false;
      }
      if (this._replica) this._appMessage(envelope); else this._early.push(envelope);
    }

    _appMessage(/** @type {object} */ envelope) {
      this._emit("app-message", { data: envelope, fromId: this._replica.session_id });
    }

    _onState(/** @type {any} */ data) {
      if (this._state !== "joined-meeting") return;
      if (data.status === "ended") return this._roomClosed();
      if (data.replica_joined && !this._replica) this._addReplica(true);
    }

    _poll() {
      this._polling = true;
      this._lastPoll = Date.now();
      const url = new URL(this._urls.events);
      url.searchParams.set("after", String(this._lastSeq));
      fetch(url.toString(), { credentials: "same-origin" })
        .then((response) => response.json())
        .then((data) => {
          if (this._state !== "joined-meeting") return;
          (data.events || []).forEach((/** @type {any} */ e) => this._deliver(e));
          this._onState(data);
        })
        .catch(() => { this._lastPoll = Date.now() + 2000; })
        .finally(() => { this._polling = false; });
    }

    _heartbeat() {
      this._lastBeat = Date.now();
      post(this._urls.presence, { action: "heartbeat", session: this._session }).then((res) => {
        if (this._state !== "joined-meeting") return;
        if (res.data.status === "ended" || res.status === 410) this._roomClosed();
        else if (res.data.status === "rejoin") {
          this._presenceJoin().then((data) => this._deliver(data.joined), () => {});
        }
      }).catch(() => {});
    }

    _tick() {
      if (this._state !== "joined-meeting") return;
      const now = Date.now();
      if (!this._polling && now - this._lastPoll >= POLL_MS) this._poll();
      if (now - this._lastBeat >= HEARTBEAT_MS) this._heartbeat();
    }

    // A worker's timer keeps running in a background tab, where page timers are throttled and
    // the heartbeat would look dead to the sandbox (as the sandbox room page does).
    _startClock() {
      this._lastPoll = 0;
      this._lastBeat = Date.now();
      const tick = () => this._tick();
      try {
        this._worker = new Worker(this._room.clock_js);
        this._worker.onmessage = tick;
      } catch (e) {
        this._timer = window.setInterval(tick, 250);
      }
    }

    _stopClock() {
      if (this._worker) this._worker.terminate();
      if (this._timer) window.clearInterval(this._timer);
      this._worker = null;
      this._timer = 0;
    }

    _teardown() {
      this._stopClock();
      window.removeEventListener("pagehide", this._onPageHide);
      if (this._painter) this._painter.stop();
      this._owned.forEach((track) => track.stop());
      this._owned = [];
    }

    // The conversation ended: Tavus deletes the room, and Daily drops everyone in it with a
    // no-room fatal error about the deletion (daily-js doesn't even report that one to its own
    // error tracker: it is expected), then left-meeting.
    _roomClosed() {
      if (this._state !== "joined-meeting") return;
      const replica = this._replica;
      if (replica) {
        this._replica = null;
        this._emit("participant-left", { participant: copyParticipant(replica) });
      }
      this._fail("no-room", "Meeting has ended because the room was deleted.").catch(() => {});
    }

    // Leaving: the sandbox room's own "conversation.left", with the next seq (the server keeps
    // that number), exactly as its room page sends it while unloading.
    _goodbye(/** @type {boolean} */ unloading) {
      if (this._state !== "joined-meeting" || this._leaving) return null;
      const seq = this._lastSeq + 1;
      const inferenceId = randomId();
      this._deliver({
        message_type: "conversation",
        event_type: "conversation.left",
        conversation_id: this._room.conversation_id,
        inference_id: inferenceId,
        seq,
        turn_idx: this._lastTurn,
        timestamp: Date.now() / 1000,
        properties: { role: "user", participant_id: this._room.participant_id, name: this._local.user_name },
      });
      this._leaving = true;
      const body = { action: "leave", session: this._session, seq, inference_id: inferenceId };
      if (unloading) {
        navigator.sendBeacon(this._urls.presence, new Blob([JSON.stringify(body)], { type: "application/json" }));
        this._teardown();
        this._state = "left-meeting";
        return null;
      }
      return post(this._urls.presence, body).catch(() => {});
    }

    leave() {
      const sent = this._goodbye(false);
      if (!sent) {
        if (this._state !== "error") this._state = "left-meeting";
        this._teardown();
        return Promise.resolve();
      }
      return sent.then(() => {
        this._teardown();
        this._replica = null;
        this._state = "left-meeting";
        this._leaving = false;
        this._emit("left-meeting", {});
      });
    }

    destroy() {
      return this.leave().then(() => { this._handlers = {}; });
    }

    // --- Talking to the room -----------------------------------------------------------------

    /**
     * @param {any} data
     * @param {string | string[]} [_to]
     */
    sendAppMessage(data, _to) {
      if (this._state !== "joined-meeting") throw new Error("not in a meeting");
      if (data && data.message_type === "conversation") {
        post(this._urls.command, data).then(() => { this._lastPoll = 0; });
      }
      return this;
    }

    startRecording() {
      if (this._state !== "joined-meeting") return;
      post(this._urls.command, { message_type: "sandbox", event_type: "start_recording" })
        .then((res) => {
          const reply = res.data.reply || {};
          if (reply.event_type === "recording-started") this._emit("recording-started", {});
          else this._emit("recording-error", { errorMsg: (reply.properties || {}).message || "" });
        });
    }

    /** Sandbox only: the person typed what they would have said (there is no microphone). */
    sandboxSay(/** @type {string} */ text) {
      if (this._state !== "joined-meeting") {
        return Promise.resolve({ ok: false, error: "You're not in the call." });
      }
      return post(this._urls.say, { text }).then((res) => {
        this._lastPoll = 0;
        return { ok: res.ok, error: res.data.error || "" };
      });
    }
  }

  /** @type {SandboxDaily} */
  const factory = {
    sandbox: true,
    createCallObject: (options) => new CallObject(options),
    supportedBrowser: () => ({ supported: true, mobile: false, name: "Chrome", version: "", supportsFullscreen: true, supportsScreenShare: false, supportsSfu: true, supportsVideoProcessing: false, supportsAudioProcessing: false }),
    version: () => "sandbox",
  };
  // The page calls only what both have (join/call.js types its call as JoinCall).
  window.Daily = /** @type {DailyCallFactory} */ (/** @type {unknown} */ (factory));
})();
