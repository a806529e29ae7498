"""The real daily-js in Chromium, with Daily's servers faked by Playwright routes.

The studio serves the pinned daily-js (studio/daily.py); every request the browser makes to a
Daily host or to Daily's error reporting is answered here instead of by the network:
- the call-machine bundle (a call object, the join page) and the room page (a call frame, the
  live page) get fake_daily/fake.js, which answers daily-js's join like a room would (SCENARIO);
- with `reachable=False` every Daily request fails, as when the room cannot be reached;
- Daily's error reports are accepted and kept.
Every request is recorded (`requests`), and every Content-Security-Policy violation in the page
is collected (`violations()`), so a test proves the CSP blocks nothing daily-js asks for.
"""

import json
import re
import time
from pathlib import Path

HERE = Path(__file__).parent / "fake_daily"
DAILY_HOSTS = re.compile(
    r"^https://([a-z0-9-]+\.)*(daily\.co|dailywebrtc\.com|dailywebrtc\.net|sentry\.io)(/|$)"
)
CALL_MACHINE = re.compile(r"^https://c\.[a-z.]+/call-machine/versioned/[^/]+/static/[a-z-]+\.js")

CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""

REPLICA = {
    "session_id": "replica-1",
    "user_id": "tavus-replica-r79e1c033f",
    "user_name": "Anna",
    "camera": True,  # the fake paints a video track for it (call object only)
}


class FakeDaily:
    def __init__(self, context, *, join="ok", others=(), local=None, reachable=True):
        self.scenario = {"join": join, "others": list(others), "local": local or {}}
        self.reachable = reachable
        self.requests: list[str] = []
        self.error_reports: list[str] = []
        context.add_init_script(CSP_WATCH)
        context.route(DAILY_HOSTS, self._answer)

    def _script(self) -> str:
        return f"const SCENARIO = {json.dumps(self.scenario)};\n" + (HERE / "fake.js").read_text()

    def _answer(self, route):
        url = route.request.url
        self.requests.append(url)
        if "sentry.io" in url:
            self.error_reports.append(route.request.post_data or "")
            route.fulfill(status=200, content_type="application/json", body="{}")
        elif not self.reachable:
            route.abort("connectionrefused")
        elif CALL_MACHINE.match(url):
            route.fulfill(status=200, content_type="text/javascript", body=self._script())
        else:  # a room page, for a call frame
            page = (HERE / "room.html").read_text().replace("/*SCRIPT*/", self._script())
            route.fulfill(status=200, content_type="text/html", body=page)

    @staticmethod
    def violations(page) -> list[str]:
        return page.evaluate("window.__cspViolations")

    @staticmethod
    def room_frame(page):
        """The fake room page inside the live page's call frame."""
        return next(f for f in page.frames if "daily" in f.url)


def app_message(where, conversation_id, from_id, event_type, seq, **properties):
    """The fake room delivers an in-room event (a Tavus envelope) as an app-message sent by
    `from_id`. `where`: the page (a call object) or the room's frame (a call frame)."""
    envelope = {
        "message_type": "conversation",
        "event_type": event_type,
        "conversation_id": conversation_id,
        "inference_id": f"inf-{seq}",
        "seq": seq,
        "properties": properties,
    }
    where.evaluate("([id, data]) => window.__fakeDaily.appMessage(id, data)", [from_id, envelope])


def wait_for(check, seconds=15):
    """Poll `check` (a database query, a recorded request) until it answers something."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return found
