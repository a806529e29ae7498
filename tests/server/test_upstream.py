"""studio/lib/ replaces parts of Django, Channels and asgiref: this fails loudly on an upgrade.

Each file there overrides or leans on specific upstream code, written against the versions
pinned in pyproject.toml. The digests below are of that code's source as it was then. When an
upgrade changes one, this test names it: read the new upstream code, check the studio/lib/ file
still does what its docstring says (and is still worth it: re-run the benchmark it names), then
record the new digest here.
"""

import hashlib
import importlib
import inspect

import asgiref
import channels
import django
import pytest

# (upstream code, its source's sha256, first 16 hex digits); the lib file that relies on it.
RELIED_ON = {
    "studio/lib/handlers.py": [
        ("django.core.handlers.asgi.ASGIHandler.__init__", "41379d4f4b69f900"),
        ("django.core.handlers.asgi.ASGIHandler.__call__", "f756809e9c9308dc"),
        ("django.core.handlers.asgi.ASGIHandler.handle", "c91f27c7fcdc3fff"),
        ("django.core.handlers.base.BaseHandler.load_middleware", "b75c13d1041e06d9"),
        ("django.core.handlers.base.BaseHandler.get_response_async", "ad82c920df0cebbb"),
        ("asgiref.sync.ThreadSensitiveContext.__init__", "588b5c0a4d8d60f3"),
        ("asgiref.sync.ThreadSensitiveContext.__aenter__", "b0355bf6b275a7c2"),
        ("asgiref.sync.ThreadSensitiveContext.__aexit__", "5571fec562fa6e84"),
    ],
    "studio/lib/sqlite/base.py": [
        (
            "django.db.backends.sqlite3.base.DatabaseWrapper._start_transaction_under_autocommit",
            "7315cfc61c1dde12",
        ),
        ("django.db.backends.sqlite3.base.DatabaseWrapper._commit", "8ebc361e1e8fcb8d"),
        ("django.db.backends.sqlite3.base.DatabaseWrapper._rollback", "d671ec3bb3c8ed44"),
        ("django.db.backends.sqlite3.base.DatabaseWrapper._close", "d1a3f0e9a11cd084"),
    ],
    "studio/lib/layers.py": [
        ("channels.layers.InMemoryChannelLayer.__init__", "a868dc26b1c1947d"),
        ("channels.layers.InMemoryChannelLayer._clean_expired", "604032dae1cc01d2"),
        ("channels.layers.InMemoryChannelLayer.send", "a4dab1cd8aff886e"),
        ("channels.layers.InMemoryChannelLayer.receive", "e615f8ae40b60e12"),
        ("channels.layers.InMemoryChannelLayer.group_add", "7c4f2ffd2d8f7a91"),
        ("channels.layers.InMemoryChannelLayer.group_discard", "bf83f0ac1f55405d"),
        ("channels.layers.InMemoryChannelLayer.group_send", "693c3172deb6431b"),
        ("channels.layers.InMemoryChannelLayer.flush", "bb5c15a2185e0aa7"),
    ],
    "studio/lib/consumers.py": [
        ("channels.consumer.AsyncConsumer.__call__", "e52238720872dbc3"),
        ("channels.consumer.AsyncConsumer.dispatch", "39f34e7d4fb0f655"),
        ("channels.utils.await_many_dispatch", "30ef889498560da3"),
        ("channels.generic.websocket.AsyncWebsocketConsumer.close", "c2f5b8bca1838db4"),
    ],
    # Not in studio/lib/, but leaning on asgiref the same way: sync code finds the event loop
    # its worker thread serves as async_to_sync does (push._serving_loop).
    "studio/conversations/push.py": [
        ("asgiref.sync.SyncToAsync.thread_handler", "5927d6cf684e6e85"),
        ("asgiref.sync.AsyncToSync.__call__", "811b9e33968648b2"),
    ],
}


def _resolve(dotted: str):
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            target = getattr(target, name)  # through the MRO, as the override sees it
        return target
    raise ImportError(dotted)


def _digest(dotted: str) -> str:
    return hashlib.sha256(inspect.getsource(_resolve(dotted)).encode()).hexdigest()[:16]


def test_the_pinned_minor_versions_are_installed():
    versions = {
        "Django": (django.__version__, "6.1."),
        "Channels": (channels.__version__, "4.3."),
        "asgiref": (asgiref.__version__, "3.13."),
    }
    for name, (installed, written_for) in versions.items():
        assert installed.startswith(written_for), (
            f"{name} {installed} is installed; studio/lib/ was written against {written_for}x. "
            "Check each file there against the new version (tests/server/test_upstream.py)."
        )


@pytest.mark.parametrize(
    ("lib_file", "dotted", "digest"),
    [
        pytest.param(lib_file, dotted, digest, id=dotted)
        for lib_file, rows in RELIED_ON.items()
        for dotted, digest in rows
    ],
)
def test_the_upstream_code_studio_lib_relies_on_is_unchanged(lib_file, dotted, digest):
    assert _digest(dotted) == digest, (
        f"{dotted} changed upstream (Django {django.__version__}, Channels "
        f"{channels.__version__}, asgiref {asgiref.__version__}). {lib_file} overrides or relies "
        f"on it: read the new code, check {lib_file} against it (and re-run the benchmark its "
        f"docstring names), then record the new digest in tests/server/test_upstream.py."
    )
