"""A lean websocket *watcher* for the fan-out benchmark: receive-only, one asyncio Protocol.

With 200 watchers at 50 events/s the benchmark process must take in 10,000 messages a second on
a shared 2-CPU machine; a full client library spends more time per message than the servers
being measured. This one does the handshake a browser does (including Chrome's offer of
permessage-deflate, so servers compress as they would for real pages), parses frames, inflates
them with zlib, answers pings, and hands each whole text message to a callback. RFC 6455 and
RFC 7692; the sending side (one relay socket) uses the `websockets` package.
"""

import asyncio
import base64
import os
import struct
import time
import zlib
from collections.abc import Callable

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
TAIL = b"\x00\x00\xff\xff"  # RFC 7692: removed by the sender, appended before inflating


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked  # control frames: < 126


class Watcher(asyncio.Protocol):
    def __init__(self, request: bytes, on_message: Callable[[bytes, float], None]):
        self.request, self.on_message = request, on_message
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.handshaken = False
        self.inflater = None
        self.reset_inflater = False
        self.fragments: list[bytes] = []
        self.compressed = False
        self.wire_bytes = 0  # what arrived on the socket after the handshake, frames and all

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes):
        now = time.perf_counter()
        self.buffer += data
        if self.handshaken:
            self.wire_bytes += len(data)
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            del self.buffer[: end + 4]
            if not head.startswith("HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.splitlines()[0]))
                self.transport.close()
                return
            extensions = [
                line.split(":", 1)[1].lower()
                for line in head.split("\r\n")
                if line.lower().startswith("sec-websocket-extensions:")
            ]
            if any("permessage-deflate" in e for e in extensions):
                self.inflater = zlib.decompressobj(-15)
                self.reset_inflater = any("server_no_context_takeover" in e for e in extensions)
            self.handshaken = True
            self.opened.set_result(True)
        self._frames(now)

    def _frames(self, now: float):
        buf = self.buffer
        while len(buf) >= 2:
            first, second = buf[0], buf[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, offset = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, offset = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < offset + length:
                return
            payload = bytes(buf[offset : offset + length])
            del buf[: offset + length]
            opcode, fin = first & 0x0F, first & 0x80
            if opcode == OP_PING:
                self.transport.write(_masked_frame(OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self.transport.write(_masked_frame(OP_CLOSE, payload[:2]))
                self.transport.close()
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if opcode != OP_CONT:
                    self.compressed = bool(first & 0x40)
                self.fragments.append(payload)
                if fin:
                    message = b"".join(self.fragments)
                    self.fragments = []
                    if self.compressed and self.inflater is not None:
                        message = self.inflater.decompress(message + TAIL)
                        if self.reset_inflater:
                            self.inflater = zlib.decompressobj(-15)
                    self.on_message(message, now)

    def close(self):
        if not self.transport.is_closing():
            self.transport.write(_masked_frame(OP_CLOSE, struct.pack("!H", 1000)))
            self.transport.close()


async def watch(
    host: str, port: int, path: str, headers: dict, on_message: Callable[[bytes, float], None]
) -> Watcher:
    """Open a websocket and call on_message(payload, receive time) for each message."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(
        lambda: Watcher(request, on_message), host=host, port=port
    )
    await asyncio.wait_for(protocol.opened, 60)
    return protocol
