// The join page's captions and speaking cue, from the in-room events the replica sends: the last
// two lines on the video (what you said, and the replica's answer as it streams) and every final
// line in a log for screen readers.
const JoinCaptions = (() => {
  "use strict";
  const $ = (/** @type {string} */ id) => document.getElementById(id);
  const CAPTION_LINGER_MS = 6000;
  const config = JSON.parse($("join-config").textContent);

  function role(/** @type {{role?: string}} */ properties) {
    const r = (properties && properties.role) || "";
    return r === "pal" ? "replica" : r;  // Tavus's era-B name for the replica
  }

  /** One in-room envelope from the replica: move the speaking cue, write captions. */
  function show(/** @type {any} */ data) {
    const p = data.properties || {};
    const stage = $("stage");
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

  /** @type {{who: string, key: string, el: HTMLElement, timer?: number}[]} */
  const lines = [];

  /**
   * @param {"user" | "replica"} who
   * @param {string} key
   * @param {string} text
   * @param {boolean} final
   */
  function caption(who, key, text, final) {
    if (!text) return;
    const name = who === "user" ? "You" : config.replicaName;
    if (final) {
      const log = document.createElement("p");
      log.textContent = name + ": " + text;
      $("caption-log").appendChild(log);
    }
    const box = $("captions");
    if (!box) return;
    let line = lines.filter((l) => l.who === who && l.key === key)[0];
    if (!line) {
      line = { who, key, el: document.createElement("div") };
      line.el.className = "caption role-" + who;
      const label = document.createElement("span");
      label.className = "who";
      label.textContent = name;
      line.el.appendChild(label);
      line.el.appendChild(document.createElement("span"));
      box.appendChild(line.el);
      lines.push(line);
      while (lines.length > 2) lines.shift().el.remove();
    }
    const current = line;
    current.el.lastChild.textContent = text;
    current.el.classList.remove("is-fading");
    window.clearTimeout(current.timer);
    current.timer = window.setTimeout(() => current.el.classList.add("is-fading"), CAPTION_LINGER_MS);
  }

  return { show };
})();
