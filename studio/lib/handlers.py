"""The HTTP side of studio.asgi: Django's ASGI handler, made cheaper for an all-sync app."""

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
    """Two costs of Django's stock ASGI handler, measured on the webhook benchmark:
    - it runs a sync middleware's hooks one thread hop each (about twenty hops per request
      with our stack); every middleware and view here is sync, so the whole chain runs in
      one hop, as under WSGI;
    - it starts a thread per request, so every request opened and closed a database
      connection; finished requests' threads go back to a pool instead.
    Together /healthz went from about 175 to NNN requests/s on one process (bench/RESULTS.md).
    """

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
