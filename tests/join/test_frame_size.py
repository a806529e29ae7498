"""How big a relayed message may be: Daily's own measure of an app-message, and the server's
websocket max size (uvicorn's --ws-max-size), as `make run`, the container and the test server
all serve it."""

import re
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from studio.conversations.models import Utterance
from studio.tavus.events import app_message_length
from tests.conftest import WS_MAX_SIZE
from tests.join.conftest import joinable

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_the_container_and_the_test_server_cap_websocket_messages_alike():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^WS_MAX_SIZE := (\d+)$", makefile, re.M)[1] == str(WS_MAX_SIZE)
    assert "--ws-max-size $(WS_MAX_SIZE)" in makefile
    assert f"--ws-max-size {WS_MAX_SIZE} " in (ROOT / "Dockerfile").read_text()


@pytest.mark.django_db(transaction=True)
def test_a_15_mb_frame_is_closed_unread(studio_server, operator):
    conversation = joinable(operator)
    url = studio_server.url.replace("http", "ws") + f"/ws/join/{conversation.join_token}/"
    with connect(url, origin=studio_server.url, max_size=None) as socket:
        socket.send("x" * (15 * 1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd.code == 1009  # "message too big"
    assert not Utterance.objects.exists()


def test_an_app_message_is_measured_as_daily_js_measures_it():
    # JSON.stringify(data).length: UTF-16 code units, no spaces; not UTF-8 bytes.
    assert app_message_length({"a": "😀"}) == 10  # '{"a":"' + 2 units + '"}'
    assert app_message_length({"speech": "नमस्ते"}) == len('{"speech":""}') + 6
    assert app_message_length({"n": 1.5, "ok": True}) == len('{"n":1.5,"ok":true}')
