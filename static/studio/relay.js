// The studio's relay in a Tavus room, shared by the staff live page (live.js) and the
// participant's join page (join/*.js): what a page inside the room tells the studio over its
// websocket, and which in-room messages it believes.
//
// The protocol (studio.conversations.consumers, whose table says who may report what):
//   page → studio  {type: "room_event", event}   an app-message the replica sent (tavus-api §6.2)
//                  {type: "presence", state, participant_id, name, self}
//                                                someone joined or left, as Daily told this page
//                                                (self: this page's own person)
//                  {type: "recording", state}    Daily's recording-started (staff pages only)
//                  {type: "heartbeat"}           "this page is in the room"
//                  {type: "leaving"}             this page is leaving the room (left-meeting,
//                                                pagehide; a beacon says it too, see `leave`)
//                  {type: "command_ack", id}     a steering command went into the room
//   studio → page  {studio_command, envelope}    a supervisor's command to carry into the room
//                  {type: "ended"}               the conversation is over (join page socket)
//
// In a real room only Tavus's replica speaks for Tavus: an app-message counts only when its
// fromId is the session of a participant whose user_id names `tavus-replica`. Anyone else
// holding the room link can send app-messages too. People joining and leaving are reported by
// the page itself from Daily's participant events, each by its Daily session id; Tavus's own
// conversation.joined/left app-messages about the same people are dropped so nobody is counted
// twice. The participant's join page reports only its own person (the studio refuses more).
const StudioRelay = (() => {
  "use strict";

  /** Tavus's replica participant: its Daily user_id contains "tavus-replica". */
  function isReplica(/** @type {DailyParticipant | null | undefined} */ participant) {
    return !!participant && (participant.user_id || "").indexOf("tavus-replica") !== -1;
  }

  /** Did the replica send this app-message? (The sender must be in the room, as the replica.) */
  function fromReplica(/** @type {RelayCall} */ call, /** @type {DailyEventObjectAppMessage} */ event) {
    return !!event.fromId && isReplica(call.participants()[event.fromId]);
  }

  /** An envelope for this conversation's room, the kind the studio stores. */
  function isRoomEnvelope(/** @type {any} */ data, /** @type {string} */ conversationId) {
    if (!data || typeof data !== "object" || data.message_type !== "conversation") return false;
    return !(data.conversation_id && conversationId && data.conversation_id !== conversationId);
  }

  function isPresence(/** @type {{event_type?: string}} */ data) {
    return data.event_type === "conversation.joined" || data.event_type === "conversation.left";
  }

  /**
   * A relay to the studio. `sendText` puts one message on the socket (or queues it while the
   * socket is closed); `beacon(participantId)` tells the studio, over HTTP, that this page left
   * the room even when the socket cannot get the word out any more (the page is unloading).
   * @param {string} conversationId
   * @param {(text: string) => void} sendText
   * @param {(participantId: string) => void} beacon
   */
  function create(conversationId, sendText, beacon) {
    const send = (/** @type {object} */ message) => sendText(JSON.stringify(message));
    const relay = {
      conversationId,
      /** This page's own person in the room (its Daily session id), once it is in. */
      self: "",
      selfName: "",
      event(/** @type {object} */ envelope) { send({ type: "room_event", event: envelope }); },
      heartbeat() { send({ type: "heartbeat" }); },
      recordingStarted() { send({ type: "recording", state: "started" }); },
      /**
       * Someone joined or left, as this page saw it (`self`: the page's own person).
       * @param {"joined" | "left"} state
       * @param {{session_id: string, user_name?: string}} participant
       * @param {boolean} [self]
       */
      presence(state, participant, self = false) {
        if (self) {
          relay.self = state === "joined" ? participant.session_id : "";
          relay.selfName = participant.user_name || "";
        }
        send({
          type: "presence", state, self,
          participant_id: participant.session_id, name: participant.user_name || "",
        });
      },
      /** After the socket (re)opens: say again that this page's person is in the room. */
      rejoin() {
        if (relay.self) relay.presence("joined", { session_id: relay.self, user_name: relay.selfName }, true);
      },
      /** This page is leaving the room (Daily's left-meeting, or the tab going away). */
      leave() {
        const self = relay.self;
        if (self) relay.presence("left", { session_id: self }, true);
        send({ type: "leaving" });
        if (self) beacon(self);
      },
      /**
       * A supervisor's command: into the room through `sendToRoom`, then confirmed.
       * @param {{studio_command: unknown, envelope?: object}} message
       * @param {(envelope: object) => void} sendToRoom
       */
      command(message, sendToRoom) {
        if (!message.envelope) return;
        try {
          sendToRoom(message.envelope);
        } catch (e) {
          return;  // not in the room (yet): the studio shows it unconfirmed
        }
        send({ type: "command_ack", id: message.studio_command });
      },
    };
    return relay;
  }

  /**
   * POST a beacon that outlives the page (navigator.sendBeacon), as a form.
   * @param {string} url
   * @param {Record<string, string>} fields
   */
  function sendBeacon(url, fields) {
    const form = new FormData();
    Object.keys(fields).forEach((name) => form.append(name, fields[name]));
    try { navigator.sendBeacon(url, form); } catch (e) { /* the socket said it already, maybe */ }
  }

  /**
   * Relay a daily-js call's room (a call frame or a call object): the replica's app-messages,
   * this page's own person joining and leaving (and everyone else's when `reportOthers`),
   * recording (started when `record`, reported when `reportRecording`). Returns nothing;
   * `onEnvelope` sees each trusted envelope too (the join page shows captions from them).
   * @param {RelayCall} call
   * @param {ReturnType<typeof create>} relay
   * @param {{reportOthers: boolean, record: boolean, reportRecording: boolean, onEnvelope?: (data: any) => void}} options
   */
  function watchCall(call, relay, options) {
    call.on("app-message", (event) => {
      if (!fromReplica(call, event) || !isRoomEnvelope(event.data, relay.conversationId)) return;
      if (!isPresence(event.data)) relay.event(event.data);
      if (options.onEnvelope) options.onEnvelope(event.data);
    });
    call.on("joined-meeting", (event) => {
      relay.presence("joined", event.participants.local, true);
      if (options.record) call.startRecording();
    });
    // Left on purpose, dropped by the room, or the conversation ended: no longer in it.
    call.on("left-meeting", () => { if (relay.self) relay.leave(); });
    // The tab is closing or navigating away: left-meeting may never come.
    window.addEventListener("pagehide", () => { if (relay.self) relay.leave(); });
    if (options.reportOthers) {
      call.on("participant-joined", (event) => {
        if (!isReplica(event.participant)) relay.presence("joined", event.participant);
      });
      call.on("participant-left", (event) => {
        if (!isReplica(event.participant)) relay.presence("left", event.participant);
      });
    }
    if (options.reportRecording) call.on("recording-started", () => relay.recordingStarted());
  }

  /**
   * The fatal error's type from daily-js's "error" event, or from a join() rejection, which is
   * the same event object (a string when the call machine never loaded: then it's unknown).
   * @param {DailyEventObjectFatalError | string | undefined} failure
   * @returns {DailyFatalErrorType | undefined}
   */
  function fatalType(failure) {
    return typeof failure === "object" && failure && failure.error ? failure.error.type : undefined;
  }

  /**
   * The studio's answer on a socket, if it is one the relay handles.
   * @param {unknown} text
   * @returns {{studio_command: unknown, envelope?: object} | {type: "ended"} | null}
   */
  function parse(text) {
    if (typeof text !== "string" || text.charAt(0) !== "{") return null;  // HTML for htmx
    try {
      const message = JSON.parse(text);
      if (message && ("studio_command" in message || message.type === "ended")) return message;
    } catch (e) { /* not JSON */ }
    return null;
  }

  /**
   * A socket of the page's own (the join page has no htmx): queues while closed, reconnects
   * with backoff, and stops for good when the studio says the conversation is over (4410),
   * unknown (4404), or that the same link opened a newer socket elsewhere (4409).
   * @param {string} path
   * @param {{onMessage: (message: any) => void, onOpen: () => void, onOver: () => void, onState: (state: string) => void}} handlers
   */
  function socket(path, handlers) {
    /** @type {WebSocket | null} */
    let ws = null;
    /** @type {string[]} */
    const queue = [];
    let tries = 0;
    let stopped = false;
    const open = () => {
      if (ws || stopped) return;
      const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
      const current = new WebSocket(scheme + window.location.host + path);
      ws = current;
      current.addEventListener("open", () => {
        tries = 0;
        handlers.onState("open");
        while (queue.length) current.send(queue.shift());
        handlers.onOpen();
      });
      current.addEventListener("message", (event) => {
        const message = parse(event.data);
        if (message) handlers.onMessage(message);
      });
      current.addEventListener("close", (event) => {
        ws = null;
        handlers.onState("closed");
        if (event.code === 4410) { stopped = true; handlers.onOver(); return; }
        if (event.code === 4404 || event.code === 4409 || stopped) { stopped = true; return; }
        tries += 1;
        window.setTimeout(open, Math.min(30000, 500 * Math.pow(2, tries)));
      });
    };
    return {
      open,
      send(/** @type {string} */ text) {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
        else if (queue.length < 200) queue.push(text);
      },
      /** Close for good; `soon` lets the last relayed events go out first. */
      close(soon = false) {
        stopped = true;
        const current = ws;
        if (current) window.setTimeout(() => current.close(1000), soon ? 400 : 0);
      },
    };
  }

  return { create, watchCall, sendBeacon, isReplica, isRoomEnvelope, fatalType, parse, socket };
})();
