# A Python WebSocket server for python_servers_test.ts: the routes of fixture_server.ts, written with
# python-websockets (10.4, asyncio) or aiohttp (3.8, aiohttp.web), so wsflow's client meets peers
# nobody on this project wrote. Run with Debian's interpreter, which has both modules:
#
#   /usr/bin/python3 _python_server.py --lib websockets|aiohttp [--deflate] [--window-bits N]
#                                      [--tls cert.pem,key.pem]
#
# Listens on 127.0.0.1, port 0, and prints {"port":N} once listening. Routes:
#   /echo?id=X              echoes every message; records how the connection closed under X
#   /close?code=C&reason=R  the server starts the closing handshake at once
#   /fragmented             one 100,000-byte binary message in 16 KiB fragments (websockets only:
#                           aiohttp has no API to send fragments; it answers 501)
#   /ping                   pings the client, sends "ping ok" once the pong arrives, then echoes
#   /auth?token=T           401 unless T is "good", else echoes
#   /closes/X               JSON of how connection X closed (waits up to 3 s for it)
#   /extensions             sends the negotiated Sec-WebSocket-Extensions as text, then echoes
# Subprotocol "chat" when offered. --deflate turns permessage-deflate on (each library's defaults);
# --window-bits N (websockets) asks for N-bit windows both ways instead. No message size limit.
import argparse
import asyncio
import http
import json
import ssl
import sys
from urllib.parse import parse_qs, unquote, urlsplit

parser = argparse.ArgumentParser()
parser.add_argument("--lib", choices=["websockets", "aiohttp"], required=True)
parser.add_argument("--deflate", action="store_true")
parser.add_argument("--window-bits", type=int)
parser.add_argument("--tls")
args = parser.parse_args()

closes = {}
FRAGMENTED = bytes((i * 7) & 255 for i in range(100_000))


async def close_record(name):
    for _ in range(150):
        if name in closes:
            return closes[name]
        await asyncio.sleep(0.02)
    return None


def tls_context():
    if not args.tls:
        return None
    cert, key = args.tls.split(",")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def listening(port):
    print(json.dumps({"port": port}, separators=(",", ":")), flush=True)


# python-websockets -------------------------------------------------------------------------------

async def websockets_main():
    import websockets
    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

    async def process_request(path, headers):
        url = urlsplit(path)
        query = parse_qs(url.query)
        if url.path.startswith("/closes/"):
            record = await close_record(unquote(url.path[len("/closes/"):]))
            if record is None:
                return http.HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"no record"
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], json.dumps(record).encode()
        if url.path == "/auth" and query.get("token", [""])[0] != "good":
            return http.HTTPStatus.UNAUTHORIZED, [("WWW-Authenticate", 'Bearer realm="interop"'), ("X-Reason", "bad token")], b"bad token"
        return None

    async def echo(ws):
        try:
            async for message in ws:
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    async def handler(ws):
        url = urlsplit(ws.path)
        query = parse_qs(url.query)
        if url.path == "/close":
            await ws.close(int(query["code"][0]), query.get("reason", [""])[0])
            return
        if url.path == "/fragmented":
            await ws.send([FRAGMENTED[at:at + 16_384] for at in range(0, len(FRAGMENTED), 16_384)])
        elif url.path == "/ping":
            pong = await ws.ping(b"python")
            try:
                await asyncio.wait_for(pong, 5)
                await ws.send("ping ok")
            except asyncio.TimeoutError:
                await ws.send("no pong within 5 s")
        elif url.path == "/extensions":
            await ws.send(ws.response_headers.get("Sec-WebSocket-Extensions", ""))
        await echo(ws)
        await ws.wait_closed()
        if "id" in query:
            clean = ws.close_rcvd is not None and ws.close_sent is not None
            closes[query["id"][0]] = {"clean": clean, "closeCode": ws.close_code, "reason": ws.close_reason}

    options = {"compression": "deflate" if args.deflate else None}
    if args.window_bits:
        bits = args.window_bits
        options = {"compression": None, "extensions": [ServerPerMessageDeflateFactory(server_max_window_bits=bits, client_max_window_bits=bits)]}
    server = await websockets.serve(
        handler, "127.0.0.1", 0, subprotocols=["chat"], process_request=process_request,
        max_size=None, ssl=tls_context(), **options,
    )
    listening(server.sockets[0].getsockname()[1])
    await asyncio.Future()


# aiohttp -----------------------------------------------------------------------------------------

async def aiohttp_main():
    from aiohttp import WSMsgType, web

    async def closes_route(request):
        record = await close_record(request.match_info["id"])
        return web.json_response(record) if record is not None else web.Response(status=404, text="no record")

    async def ws_route(request):
        path = request.path
        if path == "/fragmented":
            return web.Response(status=501, text="aiohttp cannot send a message as fragments")
        if path == "/auth" and request.query.get("token") != "good":
            return web.Response(status=401, text="bad token", headers={"WWW-Authenticate": 'Bearer realm="interop"', "X-Reason": "bad token"})
        # /ping reads pongs itself: with autoping, aiohttp swallows them.
        ws = web.WebSocketResponse(protocols=("chat",), compress=args.deflate, max_msg_size=0, autoping=path != "/ping")
        await ws.prepare(request)
        if path == "/close":
            await ws.close(code=int(request.query["code"]), message=request.query.get("reason", "").encode())
            return ws
        if path == "/extensions":
            await ws.send_str(ws.headers.get("Sec-WebSocket-Extensions", ""))
        if path == "/ping":
            await ws.ping(b"python")
        record = {"clean": False, "closeCode": 1006, "reason": ""}
        while True:
            msg = await ws.receive()
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
            elif msg.type == WSMsgType.PING:
                await ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                await ws.send_str("ping ok")
            else:
                if msg.type == WSMsgType.CLOSE:
                    record = {"clean": True, "closeCode": msg.data, "reason": msg.extra or ""}
                break
        await ws.close()
        if "id" in request.query:
            closes[request.query["id"]] = record
        return ws

    app = web.Application()
    app.router.add_get("/closes/{id}", closes_route)
    app.router.add_get("/{tail:.*}", ws_route)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls_context())
    await site.start()
    listening(site._server.sockets[0].getsockname()[1])
    await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(websockets_main() if args.lib == "websockets" else aiohttp_main())
    except KeyboardInterrupt:
        sys.exit(0)
