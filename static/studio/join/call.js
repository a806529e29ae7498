// The participant's join page: the call. It joins the room with daily-js's call object (or the
// sandbox's shim of it), shows the replica from its own tracks with the preset's background
// composited in the browser (compositor.js), and relays the room to the studio over
// ws/join/<token>/ (relay.js). Its other jobs have their own files: the camera, microphone and
// meter (join/devices.js), captions (join/captions.js) and the end screens (join/end.js).
(function () {
  "use strict";
  const $ = (/** @type {string} */ id) => document.getElementById(id);
  const config = JSON.parse($("join-config").textContent);
  const HEARTBEAT_MS = 15000;
  const REPLICA_PATIENCE_MS = 45000;

  /** @type {JoinCall | null} */
  let call = null;
  let joining = false;
  let inCall = false;        // joined the room
  let failed = false;        // the room turned this call away (a fatal error)
  let replicaHere = false;
  let leftOnPurpose = false;
  let finished = false;
  /** @type {{start(): void, stop(): void} | null} */
  let compositor = null;
  let callStarted = 0;
  let heartbeat = 0;

  // The studio's socket and relay for this conversation. An invitation's page has no
  // conversation until Join (startUrl): they are made once the studio has started it.
  /** @type {ReturnType<typeof StudioRelay.socket> | null} */
  let socket = null;
  /** @type {ReturnType<typeof StudioRelay.create> | null} */
  let relay = null;

  function wire() {
    if (socket) return;
    socket = StudioRelay.socket(config.socketPath, {
      onMessage(message) {
        if (!("studio_command" in message)) return conversationOver();
        relay.command(message, (envelope) => {
          if (!call || !inCall) throw new Error("not in the call");
          call.sendAppMessage(envelope, "*");
        });
      },
      onOpen() { if (inCall) { relay.heartbeat(); relay.rejoin(); } },
      onOver() { conversationOver(); },
      onState(state) { document.body.dataset.socket = state; },
    });
    relay = StudioRelay.create(
      config.conversationId,
      (text) => socket.send(text),
      (participantId) => StudioRelay.sendBeacon(config.leftUrl, { participant_id: participantId }),
    );
  }

  function closeSocket(/** @type {boolean} */ soon) {
    if (socket) socket.close(soon);
  }

  function setStatus(/** @type {string} */ text, /** @type {string} */ kind) {
    const status = $("join-status");
    status.textContent = text;
    status.className = "join-status" + (kind ? " is-" + kind : "");
    if (kind === "error") status.scrollIntoView({ block: "nearest" });  // below the fold on a phone
  }

  // A device toggled or switched in the call: tell the room.
  JoinDevices.listeners.toggle = (kind, on) => {
    if (!call || !inCall) return;
    if (kind === "audio") call.setLocalAudio(on); else call.setLocalVideo(on);
  };
  JoinDevices.listeners.track = (kind, track) => {
    if (!call || !inCall) return;
    const source = kind === "audio" ? { audioSource: track } : { videoSource: track };
    call.setInputDevicesAsync(source).catch(() => {});
  };

  // --- Joining ----------------------------------------------------------------------------------

  function join(/** @type {Event} */ event) {
    event.preventDefault();
    if (joining || inCall) return;
    if (!window.Daily) {
      setStatus("The video service didn't load. Check your connection and reload the page.", "error");
      return;
    }
    joining = true;
    /** @type {HTMLButtonElement} */ ($("join-button")).disabled = true;
    setStatus("Waiting for your browser to allow the camera and microphone…", "waiting");
    JoinDevices.ready().then(() => (config.roomUrl ? connect() : start()));
  }

  // --- An invitation: the conversation starts now ------------------------------------------------

  const RETRY_STARTING_MS = 1000;

  /**
   * Ask the studio to start the conversation (or to say it is on already), then join it.
   * @param {boolean} [waiting] asking again after "being started": if that start has failed
   *   since, the studio says so instead of starting another one.
   */
  function start(waiting = false) {
    setStatus("Starting…", "waiting");
    fetch(config.startUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": config.csrfToken, "Accept": "application/json" },
      body: new URLSearchParams(waiting ? { waiting: "1" } : {}),
    }).then((response) => response.json().then((answer) => ({ status: response.status, answer })))
      .then(({ status, answer }) => {
        if (status === 200 && answer.config) {
          Object.assign(config, answer.config);
          JoinEnd.configure(config);
          return connect();
        }
        if (status === 202) {  // being started (by another tab, or Tavus is slow to answer)
          window.setTimeout(() => start(true), RETRY_STARTING_MS);
          return;
        }
        // Every host busy is no error: a calm word and another try. A failure reads as one.
        if (answer.retry) return notStarted(answer.message, answer.busy ? "busy" : "error");
        // The link cannot start a conversation: say why, as its own page would.
        joining = false;
        JoinEnd.closed(answer.title, answer.message);
      })
      .catch(() => notStarted("We couldn't reach the studio. Check your connection and try again."));
  }

  /**
   * Not started, but trying again may work (every host busy, a hiccup): offer it.
   * @param {string} message
   * @param {string} [kind]
   */
  function notStarted(message, kind = "error") {
    joining = false;
    const button = /** @type {HTMLButtonElement} */ ($("join-button"));
    button.disabled = false;
    button.textContent = "Try again";
    setStatus(message, kind);
  }

  function connect() {
    setStatus(config.startUrl ? "Starting…" : "Connecting…", "waiting");
    wire();
    socket.open();
    const name = /** @type {HTMLInputElement} */ ($("join-name")).value.trim().slice(0, 60);
    try { window.sessionStorage.setItem("studio-join-name", name); } catch (e) { /* private mode */ }
    failed = false;
    /** @type {JoinCall} */
    const current = window.Daily.createCallObject({
      audioSource: JoinDevices.tracks.audio || false,
      videoSource: JoinDevices.tracks.video || false,
      // Load Daily's call machine as a script rather than eval: the page's CSP has no
      // 'unsafe-eval' (studio/daily.py allows Daily's call-machine hosts instead).
      dailyConfig: { avoidEval: true },
    });
    call = current;
    // The person's own page reports the person and the replica's words, nothing more: the
    // studio takes no word from it about anyone else, or about the recording (relay.js).
    StudioRelay.watchCall(current, relay, {
      reportOthers: false,
      record: config.record,
      reportRecording: false,
      onEnvelope: JoinCaptions.show,
    });
    current.on("joined-meeting", (e) => { if (current === call) onJoined(e.participants); });
    current.on("participant-joined", (e) => onParticipant(e.participant));
    current.on("participant-updated", (e) => onParticipant(e.participant));
    current.on("track-started", (e) => { if (e.participant) onParticipant(e.participant); });
    current.on("participant-left", (e) => onParticipantLeft(e.participant));
    current.on("left-meeting", () => { if (current === call) onLeftMeeting(); });
    current.on("error", (e) => { if (current === call) onFatal(StudioRelay.fatalType(e)); });
    /** @type {DailyCallOptions} */
    const options = { url: config.roomUrl, userName: name || "Guest" };
    if (config.roomToken) options.token = config.roomToken;
    // A refused join rejects with daily-js's fatal-error event, {action, errorMsg, error: {type}}
    // (the "error" event says the same; onFatal acts once).
    current.join(options).catch((failure) => {
      if (current === call) onFatal(StudioRelay.fatalType(failure));
    });
  }

  function onJoined(/** @type {DailyParticipantsObject} */ participants) {
    inCall = true;
    joining = false;
    relay.heartbeat();
    heartbeat = window.setInterval(() => relay.heartbeat(), HEARTBEAT_MS);
    if (!JoinDevices.enabled.audio) call.setLocalAudio(false);
    if (!JoinDevices.enabled.video && JoinDevices.tracks.video) call.setLocalVideo(false);
    Object.keys(participants).forEach((id) => { if (id !== "local") onParticipant(participants[id]); });
    if (replicaHere) return;
    // An invitation's conversation has just started: the replica is on its way in.
    setStatus(config.startUrl ? "Starting…" : "The replica is getting ready…", "waiting");
    window.setTimeout(() => {
      if (inCall && !replicaHere) {
        setStatus("This is taking a little longer than usual. Please keep this page open.", "waiting");
      }
    }, REPLICA_PATIENCE_MS);
  }

  /**
   * The room turned this call away or dropped it (a Daily fatal error). Before the call, a
   * problem worth retrying stays on the join form; otherwise an end screen says what happened.
   * @param {DailyFatalErrorType | undefined} type
   */
  function onFatal(type) {
    if (failed || finished || leftOnPurpose) return;
    failed = true;
    const wasIn = inCall;
    inCall = false;
    joining = false;
    window.clearInterval(heartbeat);
    // The room closed under a joined call: Tavus ended the conversation (or its time ran out).
    if (wasIn && (type === "no-room" || type === "exp-room")) return conversationOver();
    const words = JoinEnd.describe(type);
    if (!wasIn && words.retry) {
      const old = call;
      call = null;
      old.destroy().catch(() => {});  // a fresh call object joins next time
      const button = /** @type {HTMLButtonElement} */ ($("join-button"));
      button.disabled = false;
      button.textContent = "Try again";
      setStatus(words.title + ". " + words.text, "error");
      return;
    }
    finished = true;
    stopEverything();
    closeSocket(true);
    JoinEnd.problem(type);
  }

  // --- The replica -------------------------------------------------------------------------------

  function onParticipant(/** @type {DailyParticipant} */ p) {
    if (!p || p.local || !StudioRelay.isReplica(p)) return;
    const video = p.tracks && p.tracks.video, audio = p.tracks && p.tracks.audio;
    attachTrack($("replica-audio"), audio && audio.state === "playable" ? audio.persistentTrack : null);
    let ready = false;
    if (config.audioOnly) {
      ready = !!(audio && audio.persistentTrack);
    } else {
      const track = video && video.state === "playable" ? video.persistentTrack : null;
      attachTrack($("replica-video"), track);
      ready = !!track;
    }
    if (ready) replicaArrived();
  }

  function attachTrack(/** @type {HTMLElement | null} */ element, /** @type {MediaStreamTrack | null} */ track) {
    const media = /** @type {HTMLMediaElement | null} */ (element);
    if (!media) return;
    const stream = /** @type {MediaStream | null} */ (media.srcObject);
    const current = stream && stream.getTracks()[0];
    if (current === track || (!track && !current)) return;
    media.srcObject = track ? new MediaStream([track]) : null;
    if (track) media.play().catch(() => {});
  }

  function replicaArrived() {
    if (replicaHere) return;
    replicaHere = true;
    $("stage").dataset.replica = "here";
    if (!callStarted) enterCall();
    const input = /** @type {HTMLInputElement | null} */ ($("say-input"));
    if (input) {
      input.disabled = false;
      $("say-form").querySelector("button").disabled = false;
    }
  }

  function onParticipantLeft(/** @type {DailyParticipant} */ p) {
    if (!p || !StudioRelay.isReplica(p)) return;
    replicaHere = false;
    $("stage").dataset.replica = "waiting";
  }

  function enterCall() {
    callStarted = Date.now();
    JoinDevices.stopMeter();
    JoinEnd.screen("call");
    // The device choices move into the call's Devices panel: one set of controls, one truth.
    $("devices-panel").appendChild($("device-fields"));
    JoinDevices.attachSelf();
    const canvas = $("replica-canvas");
    if (canvas && window.StudioCompositor) {
      const force2d = new URLSearchParams(window.location.search).get("compositor") === "2d";
      compositor = window.StudioCompositor.create(canvas, $("replica-video"), {
        backgroundUrl: config.backgroundUrl,
        force2d,
      });
      compositor.start();
      window.__joinCompositor = compositor;  // for diagnostics and the browser tests
    }
    window.setInterval(tickClock, 1000);
    const focus = $("say-input") || $("call-mic");
    if (focus) focus.focus();
  }

  function tickClock() {
    const seconds = Math.floor((Date.now() - callStarted) / 1000);
    const m = Math.floor(seconds / 60), s = seconds % 60;
    $("call-clock").textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  // --- Sandbox: typing instead of speaking --------------------------------------------------------

  const sayForm = $("say-form");
  if (sayForm) {
    sayForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const input = /** @type {HTMLInputElement} */ ($("say-input"));
      const text = input.value.trim();
      const say = call && /** @type {Partial<SandboxCall>} */ (call).sandboxSay;
      if (!text || !inCall || typeof say !== "function") return;
      input.value = "";
      say.call(call, text).then((result) => {
        $("say-hint").textContent = result.ok
          ? "This practice room has no microphone, so you type instead of speaking."
          : result.error || "That didn't go through. Try again.";
      });
    });
  }

  $("call-devices").addEventListener("click", () => {
    const panel = $("devices-panel");
    panel.hidden = !panel.hidden;
    $("call-devices").setAttribute("aria-expanded", panel.hidden ? "false" : "true");
  });

  // --- Leaving, and the end ------------------------------------------------------------------------

  function stopEverything() {
    window.clearInterval(heartbeat);
    JoinDevices.stop();
    if (compositor) compositor.stop();
  }

  function leave() {
    if (!call || leftOnPurpose) return;
    leftOnPurpose = true;
    call.leave().catch(() => {}).then(() => {
      inCall = false;
      stopEverything();
      closeSocket(true);
      JoinEnd.left();
    });
  }
  $("call-leave").addEventListener("click", leave);

  // daily-js also says left-meeting after a fatal error and after leave(): only a joined call
  // that the room closed without either means the conversation is over.
  function onLeftMeeting() {
    const wasIn = inCall;
    inCall = false;
    if (wasIn && !failed && !leftOnPurpose) conversationOver();
  }

  // The room closed or the studio says it's over: show why, once the studio knows.
  function conversationOver() {
    if (finished) return;
    finished = true;
    inCall = false;
    stopEverything();
    if (call && call.meetingState() === "joined-meeting") call.leave().catch(() => {});
    closeSocket(false);
    JoinEnd.over();
  }

  // --- Start -----------------------------------------------------------------------------------------

  // An invitation knows whom it is for: their name is there to keep or change. Otherwise the
  // name typed last time in this tab.
  let saved = config.personName || "";
  try { saved = saved || window.sessionStorage.getItem("studio-join-name") || ""; } catch (e) { /* private mode */ }
  if (saved) /** @type {HTMLInputElement} */ ($("join-name")).value = saved;
  $("prejoin-form").addEventListener("submit", join);
  JoinEnd.screen("prejoin");
  JoinDevices.start();
})();
