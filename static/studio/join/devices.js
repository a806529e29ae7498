// The join page's camera and microphone: the preview before the call, device choice, the level
// meter, mute and camera toggles, and plain help when the browser blocks or lacks a device.
// The call (join/call.js) takes the tracks from here and is told when they change.
const JoinDevices = (() => {
  "use strict";
  const $ = (/** @type {string} */ id) => document.getElementById(id);
  const audioOnly = document.body.hasAttribute("data-audio-only");
  // The sandbox's practice room has no microphone (the person types what they say): the page
  // asks for none, and offers nothing to mute or test.
  const noMicrophone = document.body.dataset.mode === "sandbox";

  /** This person's microphone and camera. @type {{audio: MediaStreamTrack | null, video: MediaStreamTrack | null}} */
  const tracks = { audio: null, video: null };
  const enabled = { audio: true, video: !audioOnly };
  /** Told when a toggle or a device switch changes what the call should send. */
  const listeners = {
    toggle: (/** @type {"audio" | "video"} */ _kind, /** @type {boolean} */ _on) => {},
    track: (/** @type {"audio" | "video"} */ _kind, /** @type {MediaStreamTrack} */ _track) => {},
  };

  function problemFor(/** @type {any} */ error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "denied";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "missing";
    if (name === "NotReadableError" || name === "AbortError") return "busy";
    return "missing";
  }

  function showProblem(/** @type {string | null} */ problem) {
    const help = $("media-help");
    help.hidden = !problem;
    help.querySelectorAll("[data-problem]").forEach((part) => {
      /** @type {HTMLElement} */ (part).hidden = /** @type {HTMLElement} */ (part).dataset.problem !== problem;
    });
    $("media-help-note").hidden = problem === "missing-mic";  // it says so itself
    if (!problem || problem === "missing-mic") return;  // the camera stays in the preview
    $("preview").dataset.state = "blocked";
    $("preview-message").textContent = problem === "denied"
      ? "Your camera and microphone are blocked."
      : "No camera or microphone to show.";
  }

  function constraint(/** @type {"audio" | "video"} */ kind) {
    const select = /** @type {HTMLSelectElement | null} */ ($(kind === "audio" ? "mic-select" : "camera-select"));
    const chosen = select && !select.disabled && select.value;
    return chosen ? { deviceId: { exact: chosen } } : true;
  }

  const getUserMedia = (/** @type {MediaStreamConstraints} */ want) => navigator.mediaDevices.getUserMedia(want);

  // Both at once (one prompt); if one device is missing or busy, whichever works on its own.
  function acquireAll() {
    const wantVideo = !audioOnly;
    const want = { audio: noMicrophone ? false : constraint("audio"), video: wantVideo ? constraint("video") : false };
    return getUserMedia(want).catch((error) => {
      if (problemFor(error) === "denied" || !wantVideo || !want.audio) throw error;
      return getUserMedia({ audio: want.audio })
        .catch(() => getUserMedia({ video: want.video }))
        .catch(() => { throw error; });
    });
  }

  function useTrack(/** @type {"audio" | "video"} */ kind, /** @type {MediaStreamTrack | null} */ track) {
    const old = tracks[kind];
    if (old && old !== track) old.stop();
    tracks[kind] = track;
    if (track) track.enabled = enabled[kind];
    if (kind === "video") attachSelf();
    if (kind === "audio") startMeter();
  }

  /** Show this person's camera in the preview and, in the call, the self-view. */
  function attachSelf() {
    const stream = tracks.video ? new MediaStream([tracks.video]) : null;
    ["preview-video", "self-video"].forEach((id) => {
      const video = /** @type {HTMLVideoElement | null} */ ($(id));
      if (!video) return;
      video.srcObject = stream;
      if (stream) video.play().catch(() => {});
    });
    const on = !!(tracks.video && enabled.video);
    const preview = $("preview");
    if (!audioOnly && preview.dataset.state !== "blocked") {
      preview.dataset.state = on ? "on" : "off";
      if (!on) $("preview-message").textContent = tracks.video ? "Your camera is off." : "No camera.";
    }
    const self = $("self-view");
    if (self) self.classList.toggle("is-off", !on);
  }

  /** @type {Promise<void>} Settles once the browser answered about camera and microphone. */
  let ready = Promise.resolve();

  /** Mute, the level meter and its test only where there is a microphone to mute or test. */
  function showMicrophone() {
    const has = !noMicrophone && !!tracks.audio;
    ["preview-mic", "call-mic", "meter-row"].forEach((id) => {
      const element = $(id);
      if (element) element.hidden = !has;
    });
  }

  function start() {
    if (noMicrophone && audioOnly) {
      ready = Promise.resolve();  // nothing to ask for: no camera, no microphone
      return ready;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showProblem("unsupported");
      ready = Promise.resolve();
      return ready;
    }
    $("preview").dataset.state = "starting";
    ready = acquireAll().then((stream) => {
      showProblem(null);
      useTrack("audio", stream.getAudioTracks()[0] || null);
      useTrack("video", stream.getVideoTracks()[0] || null);
      showMicrophone();
      if (!audioOnly && !tracks.video) showProblem("missing");
      else if (!noMicrophone && !tracks.audio) showProblem(audioOnly ? "missing" : "missing-mic");
      return listDevices();
    }).catch((error) => {
      showMicrophone();
      showProblem(problemFor(error));
      ["mic-select", "camera-select"].forEach((id) => {
        const select = /** @type {HTMLSelectElement | null} */ ($(id));
        if (select && select.disabled) select.options[0].textContent = "Not available yet";
      });
      $("meter-hint").textContent = "Microphone not available";
    });
    return ready;
  }

  function listDevices() {
    return navigator.mediaDevices.enumerateDevices().then((devices) => {
      fill("mic-select", devices, "audioinput", "Microphone", tracks.audio);
      fill("camera-select", devices, "videoinput", "Camera", tracks.video);
    });
  }

  /**
   * @param {string} id
   * @param {MediaDeviceInfo[]} devices
   * @param {MediaDeviceKind} kind
   * @param {string} word
   * @param {MediaStreamTrack | null} current
   */
  function fill(id, devices, kind, word, current) {
    const select = /** @type {HTMLSelectElement | null} */ ($(id));
    if (!select) return;
    const found = devices.filter((d) => d.kind === kind && d.deviceId);
    const currentId = current && current.getSettings ? current.getSettings().deviceId : "";
    select.innerHTML = "";
    found.forEach((device, index) => {
      const option = document.createElement("option");
      option.value = device.deviceId;
      option.textContent = device.label || word + " " + (index + 1);
      option.selected = device.deviceId === currentId;
      select.appendChild(option);
    });
    if (!found.length) {
      const none = document.createElement("option");
      none.textContent = "No " + word.toLowerCase() + " found";
      select.appendChild(none);
    }
    select.disabled = !found.length;
  }

  function switchDevice(/** @type {"audio" | "video"} */ kind) {
    getUserMedia({ [kind]: constraint(kind) }).then((stream) => {
      const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
      useTrack(kind, track);
      showMicrophone();
      listeners.track(kind, track);
    }).catch((error) => showProblem(problemFor(error)));
  }

  // --- The level meter (WebAudio) ---------------------------------------------------------------

  /** @type {AudioContext | null} */
  let audioContext = null;
  /** @type {AnalyserNode | null} */
  let analyser = null;
  /** @type {MediaStreamAudioSourceNode | null} */
  let meterSource = null;
  let meterRunning = false;

  function startMeter() {
    const track = tracks.audio;
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

  /** @type {Float32Array<ArrayBuffer> | null} */
  let samples = null;
  let level = 0;
  function meterLoop() {
    if (!meterRunning) return;
    if (!samples) samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    const rms = Math.sqrt(sum / samples.length);
    const target = enabled.audio ? Math.min(1, rms * 5) : 0;
    level = target > level ? target : level * 0.85 + target * 0.15;  // rise fast, fall gently
    $("mic-level").style.transform = "scaleX(" + level.toFixed(3) + ")";
    $("mic-meter").setAttribute("aria-valuenow", String(Math.round(level * 100)));
    $("meter-hint").textContent = !enabled.audio ? "Microphone is off"
      : level > 0.08 ? "We can hear you" : "Say something to test";
    window.requestAnimationFrame(meterLoop);
  }

  // Browsers start audio only after a click or key press.
  ["pointerdown", "keydown"].forEach((type) => {
    document.addEventListener(type, () => {
      if (audioContext && audioContext.state === "suspended") audioContext.resume();
    });
  });

  // --- Toggles ----------------------------------------------------------------------------------

  function setEnabled(/** @type {"audio" | "video"} */ kind, /** @type {boolean} */ on) {
    enabled[kind] = on;
    if (tracks[kind]) tracks[kind].enabled = on;
    listeners.toggle(kind, on);
    const pairs = kind === "audio"
      ? [["preview-mic", null], ["call-mic", on ? "Mute" : "Unmute"]]
      : [["preview-camera", null], ["call-camera", on ? "Stop video" : "Start video"]];
    pairs.forEach(([id, label]) => {
      const button = $(id);
      if (!button) return;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      if (label) button.querySelector(".control-label").textContent = label;
    });
    if (kind === "video") attachSelf();
  }

  /** @type {[string, "audio" | "video"][]} */
  const toggles = [["preview-mic", "audio"], ["call-mic", "audio"], ["preview-camera", "video"], ["call-camera", "video"]];
  toggles.forEach(([id, kind]) => {
    const button = $(id);
    if (button) button.addEventListener("click", () => setEnabled(kind, !enabled[kind]));
  });
  ["mic-select", "camera-select"].forEach((id) => {
    const select = $(id);
    if (select) select.addEventListener("change", () => switchDevice(id === "mic-select" ? "audio" : "video"));
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", () => { listDevices().catch(() => {}); });
  }
  $("media-retry").addEventListener("click", () => { start(); });

  return {
    tracks,
    enabled,
    listeners,
    start,
    /** Settles once the browser answered about camera and microphone. */
    ready: () => ready,
    attachSelf,
    stopMeter() { meterRunning = false; },
    stop() {
      meterRunning = false;
      ["audio", "video"].forEach((/** @type {"audio" | "video"} */ kind) => { if (tracks[kind]) tracks[kind].stop(); });
    },
  };
})();
