"""The HTTP side of studio.asgi: Django's ASGI handler, made cheaper for an all-sync app.

Upstream: Django's `ASGIHandler` loads the middleware chain for async and adapts each sync
middleware (every `MiddlewareMixin`) separately, so a request crosses from the event loop to a
thread and back once per middleware hook; and it runs each request's sync code in a
`ThreadSensitiveContext` of its own, a new thread per request, so the thread-local database
connection is opened and closed with every request.

Why replaced: every middleware and view here is sync. `OneHopASGIHandler` loads the chain as
WSGI does and runs all of it in one hop, on a thread taken from a small pool of request threads
(asgiref's `ThreadSensitiveContext(executor=...)`), so a connection outlives its request
(`CONN_MAX_AGE` in settings.py).

Measured (bench/webhooks.py's floor, GET /healthz on one process; bench/RESULTS.md "Findings
and fixes, second pass", 1 and 2): about 20 hops per request removed, 175 → 300 requests/s;
reused threads and connections (opening a SQLite one with its PRAGMAs was 15 % of a webhook),
300 → 430–520 requests/s.

Written against Django 6.1 and asgiref 3.13 (pyproject.toml); tests/server/test_upstream.py
fails when an upgrade changes the code this relies on.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler


class RequestThread(ThreadPoolExecutor):
    """The one thread a request's sync code runs on; kept for later requests so its
    thread-local database connection is kept too."""

    def __init__(self):
        super().__init__(max_workers=1, thread_name_prefix="request")
        self.last = None

    def submit(self, fn, /, *args, **kwargs):
        self.last = super().submit(fn, *args, **kwargs)
        return self.last

    def idle(self) -> bool:
        # One worker runs calls in order, so the last one done means all are.
        return self.last is None or self.last.done()


class OneHopASGIHandler(ASGIHandler):
    """Django's ASGI handler with the sync middleware chain run in one thread hop, on a
    request thread that is kept for later requests (see the module's docstring)."""

    IDLE_THREADS = 32  # more than the requests one process usually serves at once

    def __init__(self):
        super().__init__()
        self.threads: list[RequestThread] = []

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope, receive, send):
        thread = self.threads.pop() if self.threads else RequestThread()
        try:
            async with ThreadSensitiveContext(executor=thread):
                await super().__call__(scope, receive, send)
        finally:
            # A request the client gave up on may still be running its view: that thread
            # is not handed to the next request.
            if thread.idle() and len(self.threads) < self.IDLE_THREADS:
                self.threads.append(thread)
            else:
                thread.shutdown(wait=False)
