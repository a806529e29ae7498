// The join page's end screens: the person left, the conversation ended (with the studio's own
// reason), or the video room turned them away, each in plain words with what to do next.
const JoinEnd = (() => {
  "use strict";
  const $ = (/** @type {string} */ id) => document.getElementById(id);
  // An invitation's page learns its conversation's addresses on Join (configure).
  let config = JSON.parse($("join-config").textContent);

  /**
   * Daily's fatal errors (daily-js index.d.ts, DailyFatalErrorType), for the person in the call.
   * `retry`: trying again may work, so the page offers it.
   * @type {Record<DailyFatalErrorType, {title: string, text: string, retry: boolean}>}
   */
  const PROBLEMS = {
    "connection-error": {
      title: "We couldn't connect you to the call",
      text: "Check your internet connection, then try again. On a work or school network, video calls may be blocked: try another network.",
      retry: true,
    },
    "meeting-full": {
      title: "This call is full",
      text: "Someone else may already be using this link. Wait a few minutes and try again, or ask whoever sent you the link.",
      retry: true,
    },
    "exp-room": {
      title: "This conversation's time is up",
      text: "Its video room has closed. Ask whoever sent you the link if you need a new one.",
      retry: false,
    },
    "no-room": {
      title: "This conversation has ended",
      text: "Its video room has closed. Ask whoever sent you the link if you need a new one.",
      retry: false,
    },
    "ejected": {
      title: "You were removed from the call",
      text: "The organiser took you out of this conversation. If you think that's a mistake, ask whoever sent you the link.",
      retry: false,
    },
    "not-allowed": {
      title: "This link doesn't let you into the call",
      text: "Ask whoever sent you the link for a new one.",
      retry: false,
    },
    "exp-token": {
      title: "This link has expired",
      text: "Ask whoever sent you the link for a new one.",
      retry: false,
    },
    "nbf-token": {
      title: "This call hasn't opened yet",
      text: "Wait a few minutes, then try again.",
      retry: true,
    },
    "nbf-room": {
      title: "This call hasn't opened yet",
      text: "Wait a few minutes, then try again.",
      retry: true,
    },
    "end-of-life": {
      title: "This page can't join calls any more",
      text: "Its video software is out of date. Please tell whoever sent you the link.",
      retry: false,
    },
  };

  /** The words for a fatal error (an unknown one reads as a connection problem). */
  function describe(/** @type {DailyFatalErrorType | undefined} */ type) {
    return PROBLEMS[type] || PROBLEMS["connection-error"];
  }

  /** Which part of the page shows: before the call, in the call, or an end screen. */
  function screen(/** @type {"prejoin" | "call" | "ended"} */ name) {
    document.body.dataset.screen = name;
    $("prejoin").hidden = name !== "prejoin";
    $("call").hidden = name !== "call";
    $("ended").hidden = name !== "ended";
  }

  /**
   * @param {string} title
   * @param {string} reason
   * @param {{kind?: "done" | "problem", rejoin?: boolean}} [options]
   */
  function showEnd(title, reason, options = {}) {
    screen("ended");
    $("ended").dataset.kind = options.kind || "done";
    $("ended-title").textContent = title;
    $("ended-reason").textContent = reason;
    $("rejoin").hidden = true;
    $("ended-title").focus();
    if (!options.rejoin) return;
    // Rejoining is offered only while the conversation is still on.
    studioState().then((state) => { $("rejoin").hidden = !state.live; }).catch(() => {});
  }

  /** @returns {Promise<{live: boolean, reason: string}>} */
  function studioState() {
    return fetch(config.stateUrl, { credentials: "same-origin" }).then((response) => response.json());
  }

  /** The studio says why it ended once it knows (Tavus's shutdown can lag the room closing). */
  function askWhy(/** @type {number} */ attempt) {
    studioState().then((state) => {
      if (!state.live && state.reason) {
        $("ended-reason").textContent = state.reason;
      } else if (attempt < 8) {
        window.setTimeout(() => askWhy(attempt + 1), 1500);
      } else {
        $("ended-reason").textContent = "The call is over.";
      }
    }).catch(() => { $("ended-reason").textContent = "The call is over."; });
  }

  $("rejoin").addEventListener("click", () => window.location.reload());

  return {
    PROBLEMS,
    describe,
    screen,
    configure(/** @type {typeof config} */ started) { config = started; },
    /** An invitation link that cannot start a conversation (used, withdrawn, out of its time). */
    closed(/** @type {string} */ title, /** @type {string} */ reason) {
      showEnd(title, reason, { kind: "problem" });
    },
    left() { showEnd("You've left the conversation", "Thank you for taking part.", { rejoin: true }); },
    over() { showEnd("This conversation has ended", ""); askWhy(0); },
    /** The video room turned this person away, or dropped them. */
    problem(/** @type {DailyFatalErrorType | undefined} */ type) {
      const words = describe(type);
      showEnd(words.title, words.text, { kind: "problem", rejoin: words.retry });
    },
  };
})();
