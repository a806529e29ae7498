// The contract the studio's page scripts and the sandbox's daily-js shim are checked against:
// daily-js's own index.d.ts, from the pinned npm package. tsconfig.json lists the files;
// tests/server/test_daily_js.py runs `tsc` on them. Global declarations only: the page
// scripts are plain (non-module) browser scripts.

type DailyCall = import("@daily-co/daily-js").DailyCall;
type DailyCallFactory = import("@daily-co/daily-js").DailyCallFactory;
type DailyCallOptions = import("@daily-co/daily-js").DailyCallOptions;
type DailyFactoryOptions = import("@daily-co/daily-js").DailyFactoryOptions;
type DailyEvent = import("@daily-co/daily-js").DailyEvent;
type DailyEventObject<T extends DailyEvent> = import("@daily-co/daily-js").DailyEventObject<T>;
type DailyEventObjectAppMessage = import("@daily-co/daily-js").DailyEventObjectAppMessage;
type DailyEventObjectFatalError = import("@daily-co/daily-js").DailyEventObjectFatalError;
type DailyFatalErrorType = import("@daily-co/daily-js").DailyFatalErrorType;
type DailyParticipant = import("@daily-co/daily-js").DailyParticipant;
type DailyParticipantsObject = import("@daily-co/daily-js").DailyParticipantsObject;
type DailyTrackState = import("@daily-co/daily-js").DailyTrackState;
type DailyMeetingState = import("@daily-co/daily-js").DailyMeetingState;
type DailyDeviceInfos = import("@daily-co/daily-js").DailyDeviceInfos;
type DailyBrowserInfo = import("@daily-co/daily-js").DailyBrowserInfo;

/** A daily-js handler registration, as DailyCall declares it, returning `Self`. */
type DailyOn<Self> = <T extends DailyEvent>(
  event: T,
  handler: (event: DailyEventObject<T>) => void
) => Self;

/**
 * The part of a daily-js call object the join page uses, with daily-js's own signatures, so the
 * part the sandbox's shim implements. (Methods that return the call return this subset: the
 * shim is not a whole DailyCall.) A real DailyCall is one: join/call.js assigns it to this type.
 */
interface JoinCall
  extends Pick<
    DailyCall,
    "join" | "leave" | "destroy" | "participants" | "meetingState" | "setInputDevicesAsync" | "startRecording"
  > {
  on: DailyOn<JoinCall>;
  off: DailyOn<JoinCall>;
  setLocalAudio(...args: Parameters<DailyCall["setLocalAudio"]>): JoinCall;
  setLocalVideo(...args: Parameters<DailyCall["setLocalVideo"]>): JoinCall;
  sendAppMessage(...args: Parameters<DailyCall["sendAppMessage"]>): JoinCall;
}

/** What the relay needs of a call frame or a call object. */
type RelayCall = Pick<JoinCall, "on" | "participants" | "startRecording">;

/** The sandbox's one addition: there is no microphone there, so the person types. */
interface SandboxCall extends JoinCall {
  sandboxSay(text: string): Promise<{ ok: boolean; error: string }>;
}

/** The sandbox's stand-in for daily-js's factory: a call object and nothing else. */
interface SandboxDaily {
  sandbox: true;
  createCallObject(properties?: DailyFactoryOptions): SandboxCall;
  supportedBrowser(): DailyBrowserInfo;
  version(): string;
}

interface Window {
  /** daily-js's factory (dist/daily.js sets it), or the sandbox's shim of it. */
  Daily: DailyCallFactory;
  StudioCompositor: {
    create(canvas: HTMLElement, video: HTMLElement, options: object): { start(): void; stop(): void };
  };
  __joinCompositor: unknown;
}
