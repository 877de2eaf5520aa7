"""A Python WebSocket client (websockets 10.4 or aiohttp 3.8) that drives a wsflow fixture server.

    /usr/bin/python3 _python_client.py --lib websockets|aiohttp --id PREFIX ws://127.0.0.1:PORT BEHAVIOUR...

Runs the behaviours one after the other and prints one JSON line per behaviour:
{"behaviour": NAME, "observed": VALUE}, or {"behaviour": NAME, "error": "..."} when it raised.
python_clients_test.ts asserts; this script only observes. Every wait is bounded.
"""
import argparse
import asyncio
import json
import sys

import aiohttp
import websockets
from websockets.frames import Opcode

LARGE = 16 * 1024 * 1024
TEXT = "hello κόσμε 🙂"
WAIT = 30  # seconds for any one message (16 MiB included), close or handshake


def pattern(length, factor):
    """bytes[i] = (i * factor) & 255; the pattern repeats every 256 bytes."""
    period = bytes((i * factor) & 255 for i in range(256))
    return (period * (length // 256 + 1))[:length]


def check(message, length, factor):
    """How a binary message compares with the pattern it should carry."""
    if not isinstance(message, bytes):
        return {"type": type(message).__name__}
    expected = pattern(length, factor)
    mismatches = 0 if message == expected else sum(a != b for a, b in zip(message, expected)) + abs(len(message) - length)
    return {"type": "binary", "length": len(message), "mismatches": mismatches}


def json_texts():
    """3 JSON-like texts of 20 KiB each (the compression interop suite's payload)."""
    texts = []
    for k in range(3):
        items, size, i = [], 1, 0
        while size < 20 * 1024 - 200:
            item = json.dumps({"id": k * 100_000 + i, "name": f"user {i}", "email": f"user{i}@example.com", "tags": ["alpha", "beta"], "active": i % 3 == 0})
            items.append(item)
            size += len(item) + 1
            i += 1
        texts.append(("[" + ",".join(items) + "]").ljust(20 * 1024))
    return texts


def wait(awaitable, what, seconds=WAIT):
    async def bounded():
        try:
            return await asyncio.wait_for(awaitable, seconds)
        except asyncio.TimeoutError:
            raise TimeoutError(f"timed out after {seconds} s: {what}") from None
    return bounded()


class WebsocketsPeer:
    """websockets' asyncio client (websockets.connect)."""

    def __init__(self, base):
        self.base = base

    async def open(self, path, subprotocols=None, autoping=True, compress=0):
        # websockets answers pings itself and offers permessage-deflate (client_max_window_bits) by default.
        return await wait(websockets.connect(self.base + path, subprotocols=subprotocols, max_size=None, ping_interval=None), f"open {path}")

    async def rejected_status(self, path):
        try:
            ws = await self.open(path)
        except websockets.exceptions.InvalidStatusCode as error:
            return error.status_code
        await ws.close()
        return None

    protocol = staticmethod(lambda ws: ws.subprotocol)
    extensions = staticmethod(lambda ws: [repr(e) for e in ws.extensions])

    async def send(self, ws, data):
        await wait(ws.send(data), "send")

    async def recv(self, ws, what):
        return await wait(ws.recv(), what)

    async def send_fragments(self, ws, pieces):
        await wait(ws.send(pieces), "send fragments")

    async def send_invalid_text(self, ws):
        await wait(ws.write_frame(True, Opcode.TEXT, b"\xff"), "write a raw frame")

    async def ping(self, ws):
        waiter = await wait(ws.ping(b"abc"), "ping")
        await wait(waiter, "the pong")  # resolves only for a pong carrying b"abc" (or a later ping's)
        return {"pong": "abc"}

    async def close(self, ws, code=1000, reason=""):
        await wait(ws.close(code, reason), "close")
        return await self.closed(ws)

    async def closed(self, ws):
        await wait(ws.wait_closed(), "the connection to close")
        return {"code": ws.close_code, "reason": ws.close_reason, "clean": ws.close_rcvd is not None and ws.close_sent is not None}


class AiohttpPeer:
    """aiohttp's client (ClientSession().ws_connect)."""

    def __init__(self, base, session):
        self.base = base
        self.session = session

    async def open(self, path, subprotocols=None, autoping=True, compress=0):
        return await wait(self.session.ws_connect(self.base + path, protocols=subprotocols or (), autoping=autoping, compress=compress, max_msg_size=0, timeout=WAIT), f"open {path}")

    async def rejected_status(self, path):
        try:
            ws = await self.open(path)
        except aiohttp.WSServerHandshakeError as error:
            return error.status
        await ws.close()
        return None

    protocol = staticmethod(lambda ws: ws.protocol)
    extensions = staticmethod(lambda ws: {"compress": ws.compress})

    async def send(self, ws, data):
        await wait(ws.send_str(data) if isinstance(data, str) else ws.send_bytes(data), "send")

    async def recv(self, ws, what):
        msg = await wait(ws.receive(), what)
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return msg.data
        raise RuntimeError(f"{what}: got {msg.type.name} {msg.data!r} {msg.extra!r}")

    async def send_invalid_text(self, ws):
        # aiohttp has no public call that sends a raw frame: its writer's _send_frame is private.
        await wait(ws._writer._send_frame(b"\xff", aiohttp.WSMsgType.TEXT), "write a raw frame")

    async def ping(self, ws):
        # Opened with autoping=False, receive() returns the PONG instead of consuming it.
        await wait(ws.ping(b"abc"), "ping")
        msg = await wait(ws.receive(), "the pong")
        return {"pong": msg.data.decode()} if msg.type == aiohttp.WSMsgType.PONG else {"got": msg.type.name}

    async def close(self, ws, code=1000, reason=""):
        # close() waits for the server's close frame; aiohttp keeps its code but not its reason.
        done = await wait(ws.close(code=code, message=reason.encode()), "close")
        return {"code": ws.close_code, "clean": done and ws.exception() is None, **self.failure(ws)}

    async def closed(self, ws):
        msg = await wait(ws.receive(), "the close frame")  # autoclose answers it
        if msg.type != aiohttp.WSMsgType.CLOSE:
            return {"got": msg.type.name, "code": ws.close_code, **self.failure(ws)}
        await wait(ws.close(), "close")  # returns at once: autoclose has answered the close frame
        return {"code": msg.data, "reason": msg.extra, "clean": ws.exception() is None, **self.failure(ws)}

    @staticmethod
    def failure(ws):
        """The error aiohttp kept, if any (it closes quietly and keeps it for ws.exception())."""
        return {"exception": repr(ws.exception())} if ws.exception() is not None else {}


async def run(peer, prefix, name):
    """One behaviour; returns what the Python side observed."""
    if name == "subprotocol":
        chosen = await peer.open("/echo", ["chat"])
        none = await peer.open("/echo")
        result = {"chosen": peer.protocol(chosen), "none": peer.protocol(none)}
        await peer.close(chosen)
        await peer.close(none)
        return result
    if name in ("text", "binary", "large", "fragments out"):
        ws = await peer.open("/echo")
        sent = {"text": TEXT, "binary": pattern(256, 1), "large": pattern(LARGE, 31), "fragments out": pattern(100_000, 7)}[name]
        if name == "fragments out":
            await peer.send_fragments(ws, [sent[i:i + 16_384] for i in range(0, len(sent), 16_384)])  # 7 frames
        else:
            await peer.send(ws, sent)
        echoed = await peer.recv(ws, f"{name} echo")
        await peer.close(ws)
        if name == "text":
            return echoed
        if name == "binary":
            return {"type": "binary", "bytes": list(echoed)} if isinstance(echoed, bytes) else {"type": type(echoed).__name__}
        return check(echoed, len(sent), 31 if name == "large" else 7)
    if name == "fragmented":
        ws = await peer.open("/fragmented")
        message = await peer.recv(ws, "the fragmented message")
        await peer.close(ws)
        return check(message, 100_000, 7)
    if name == "client ping":
        ws = await peer.open("/echo", autoping=False)
        result = await peer.ping(ws)
        await peer.close(ws)
        return result
    if name == "server ping":
        ws = await peer.open("/ping")
        answer = await peer.recv(ws, "the server's ping result")
        await peer.close(ws)
        return answer
    if name == "close from peer":
        ws = await peer.open(f"/echo?id={prefix}-close")
        return await peer.close(ws, 4001, "peer says bye")
    if name == "close from server":
        ws = await peer.open("/close?code=4003&reason=server%20says%20bye")
        return await peer.closed(ws)
    if name == "rejection":
        status = await peer.rejected_status("/auth?token=bad&delay=20")
        return {"opened": status is None, "status": status}
    if name == "compression":
        ws = await peer.open("/extensions?deflate=1", compress=15)
        result = {"python": peer.extensions(ws), "reported": await peer.recv(ws, "the server's extensions")}
        texts = []
        for text in json_texts():
            await peer.send(ws, text)
            texts.append(await peer.recv(ws, "text echo") == text)
        await peer.send(ws, pattern(100 * 1024, 7))
        result.update(texts=texts, binary=check(await peer.recv(ws, "binary echo"), 100 * 1024, 7))
        result["close"] = await peer.close(ws, 1000, "done")
        return result
    if name == "invalid utf-8":
        ws = await peer.open(f"/echo?id={prefix}-utf8")
        await peer.send_invalid_text(ws)
        return {"code": (await peer.closed(ws))["code"]}
    raise ValueError(f"unknown behaviour {name}")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["websockets", "aiohttp"], required=True)
    parser.add_argument("--id", default="python", help="prefix of the ids the server records closes under")
    parser.add_argument("base", help="ws://127.0.0.1:PORT")
    parser.add_argument("behaviours", nargs="+")
    args = parser.parse_args()
    session = aiohttp.ClientSession() if args.lib == "aiohttp" else None
    peer = AiohttpPeer(args.base, session) if session else WebsocketsPeer(args.base)
    try:
        for name in args.behaviours:
            try:
                line = {"behaviour": name, "observed": await run(peer, args.id, name)}
            except Exception as error:  # noqa: BLE001 -- every failure is an observation
                line = {"behaviour": name, "error": f"{type(error).__name__}: {error}"}
            print(json.dumps(line, ensure_ascii=False), flush=True)
    finally:
        if session:
            await wait(session.close(), "the aiohttp session to close")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
