// Daily's servers, faked for the browser tests (tests/browser/daily.py serves this file through
// Playwright routes in place of Daily's hosts; nothing reaches the network). The real daily-js,
// served by the studio, talks to it exactly as it talks to Daily's call machine: window
// messages tagged `what: "iframe-call-message"` (daily-js 0.92.2, dist/daily.js: its
// message channel and handleMessageFromCallMachine). Loaded two ways:
// - as Daily's call-machine bundle (a call object: the join page), in the page itself;
// - inside the room page Daily's call frame loads (the live page), talking to its parent.
// SCENARIO (prepended by daily.py) says how the room answers a join; the test drives the rest
// with window.__fakeDaily (in the page, or in the frame).
(function () {
  "use strict";
  const inFrame = window.parent !== window;
  const target = inFrame ? window.parent : window;
  /** @type {string[]} */
  const clients = inFrame
    ? [new URLSearchParams(window.location.search).get("emb")]
    : (window._daily && window._daily.pendings ? window._daily.pendings.slice() : []);
  const received = [];

  // A call object reads participants' tracks from its call machine's store.
  const state = { participants: {}, local: { streams: {} }, streams: {} };
  if (!inFrame) {
    clients.forEach((id) => {
      window._daily.instances[id].callMachine = { store: { getState: () => state }, reset() {} };
    });
  }

  /** A participant's camera: a painted canvas, as a track in the store daily-js reads. */
  function camera(sessionId) {
    const canvas = document.createElement("canvas");
    canvas.width = 320;
    canvas.height = 180;
    const ctx = canvas.getContext("2d");
    window.setInterval(() => {
      ctx.fillStyle = "#2b8a3e";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.fillStyle = "#fff";
      ctx.fillRect(130, 50, 60, 80);
    }, 100);
    const track = canvas.captureStream(10).getVideoTracks()[0];
    state.streams[sessionId + "-cam-video"] = { participantId: sessionId, type: "cam", pendingTrack: track };
    return { video: { state: "playable", subscribed: true }, audio: { state: "off", subscribed: true } };
  }

  function post(message) {
    clients.forEach((id) => {
      target.postMessage(
        Object.assign({}, message, { what: "iframe-call-message", from: "embedded", callClientId: id }),
        "*"
      );
    });
  }

  function participant(fields) {
    return Object.assign({
      session_id: "", user_id: "", user_name: "", local: false, owner: false,
      audio: false, video: false, screen: false, record: false, tracks: {},
      joined_at: new Date().toISOString(), will_eject_at: new Date(0).toISOString(),
      permissions: { hasPresence: true, canSend: true, canAdmin: false },
    }, fields);
  }

  const fake = {
    received,
    participant,
    /** The room turns the call away or drops it: Daily's fatal error, then left-meeting. */
    fatal(type, msg) {
      post({ action: "error", errorMsg: msg || type, error: { type, msg: msg || type } });
      post({ action: "left-meeting" });
    },
    joined(others) {
      const local = participant(Object.assign({ local: true }, SCENARIO.local || {}));
      post({ action: "joined-meeting", participants: { local } });
      (others || []).forEach((p) => fake.participantJoined(p));
    },
    participantJoined(p) {
      const fields = Object.assign({}, p);
      if (fields.camera && !inFrame) fields.tracks = camera(fields.session_id);
      delete fields.camera;
      post({ action: "participant-joined", participant: participant(fields) });
    },
    participantLeft(p) { post({ action: "participant-left", participant: participant(p) }); },
    appMessage(fromId, data) { post({ action: "app-message", fromId, data }); },
  };
  window.__fakeDaily = fake;

  window.addEventListener("message", (event) => {
    const m = event.data;
    if (!m || m.what !== "iframe-call-message" || m.from !== "module") return;
    received.push({ action: m.action, data: m.data, to: m.to });
    if (m.action === "leave-meeting") return post({ action: "left-meeting" });
    if (m.action !== "join-meeting") return;
    if (SCENARIO.join === "ok") fake.joined(SCENARIO.others);
    else fake.fatal(SCENARIO.join, SCENARIO.message);
  });

  // A call frame's room page says it has loaded (a call machine bundle is loaded by its script tag).
  if (inFrame) post({ action: "loaded" });
})();
