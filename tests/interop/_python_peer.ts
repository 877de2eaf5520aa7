// wsflow's client (WebSocketStream) against the Python servers of _python_server.py: the scripted
// exchange python_servers_test.ts asserts on. It runs in-process under Node 24, and in Deno and
// Bun as a script that prints the observations as one JSON line:
//   deno run -A _python_peer.ts '<PythonPeerInput as JSON>'
//   bun _python_peer.ts '<PythonPeerInput as JSON>'
// It returns what it observed per behaviour ({ error } when one threw); the driver asserts.
import process from "node:process";
import { WebSocketStream } from "../../mod.ts";
import { within } from "./_peer.ts";

/** What the peer is asked to do. */
export interface PythonPeerInput {
  /** `ws://127.0.0.1:port` or `wss://127.0.0.1:port`. */
  base: string;
  /** Prefix for the ids under which the server records how connections closed. */
  id: string;
  /** Names from `PYTHON_BEHAVIOURS`. */
  behaviours: string[];
  /** The CA (PEM) to trust over wss:. */
  ca?: string;
  /** Where the compression behaviour connects instead of `base` (a byte-counting proxy). */
  compressionBase?: string;
}

/** The behaviours `runPythonPeer` knows. */
export const PYTHON_BEHAVIOURS = [
  "subprotocol", "text", "binary", "large", "streamed", "fragmented", "server ping", "client ping",
  "close from client", "close from server", "rejection", "compression",
] as const;

type Options = ConstructorParameters<typeof WebSocketStream>[1];
type Conn = Awaited<ReturnType<typeof openPath>>;

const LARGE = 16 * 1024 * 1024;

function pattern(length: number, factor: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * factor) & 255;
  return bytes;
}

function check(message: unknown, length: number, factor: number) {
  if (!(message instanceof Uint8Array)) return { kind: typeof message };
  let mismatches = 0;
  for (let i = 0; i < message.length; i++) if (message[i] !== ((i * factor) & 255)) mismatches++;
  return { kind: "binary", length: message.length, mismatches, expectedLength: length };
}

/** 20 KiB of JSON-like text, different for each `k`. */
function jsonText(k: number): string {
  let s = "[";
  for (let i = 0; s.length < 20 * 1024 - 200; i++) {
    s += (i ? "," : "") + JSON.stringify({ id: k * 100_000 + i, name: `user ${i}`, email: `user${i}@example.com`, tags: ["alpha", "beta"], active: i % 3 === 0 });
  }
  return (s + "]").padEnd(20 * 1024, " ");
}

/** 6 KiB of pseudo-random text, the same every time. */
function farText(): string {
  let seed = 12345;
  let s = "";
  while (s.length < 6 * 1024) s += "abcdefghijklmnopqrstuvwxyz0123456789 "[(seed = (seed * 1103515245 + 12345) >>> 0) % 37];
  return s;
}

async function openPath(url: string, options: Options) {
  const wss = new WebSocketStream(url, options);
  wss.closed.catch(() => {}); // rejects too when opening fails
  const info = await within(wss.opened, 10_000, `open ${url}`);
  const reader = info.readable.getReader();
  const writer = info.writable.getWriter();
  const closed = wss.closed.then(
    (c) => ({ code: c.closeCode, reason: c.reason, wasClean: true }),
    (e) => ({ code: e?.closeCode ?? 1006, reason: e?.reason ?? "", wasClean: false, error: String(e?.message ?? e) }),
  );
  return { wss, info, reader, writer, closed };
}

/** Runs the behaviours one after the other and returns what each observed. */
export async function runPythonPeer(input: PythonPeerInput): Promise<Record<string, unknown>> {
  const tls: Options = input.ca ? { tls: { ca: input.ca } } : {};
  const open = (path: string, options: Options = {}) => openPath(input.base + path, { ...tls, ...options });
  const next = async (c: Conn, what: string) => (await within(c.reader.read(), 30_000, what)).value;
  const shut = async (c: Conn) => {
    c.wss.close({ closeCode: 1000 });
    return await within(c.closed, 5000, "closed");
  };

  const behaviours: Record<(typeof PYTHON_BEHAVIOURS)[number], () => Promise<unknown>> = {
    async subprotocol() {
      const chosen = await open("/echo", { protocols: ["chat"] });
      const none = await open("/echo");
      const result = { chosen: chosen.info.protocol, none: none.info.protocol };
      await Promise.all([shut(chosen), shut(none)]);
      return result;
    },
    async text() {
      const c = await open("/echo");
      await c.writer.write("hello κόσμε 🙂");
      const echoed = await next(c, "text echo");
      await shut(c);
      return echoed;
    },
    async binary() {
      const c = await open("/echo");
      await c.writer.write(pattern(256, 1));
      const echoed = await next(c, "binary echo");
      await shut(c);
      return echoed instanceof Uint8Array ? { kind: "binary", bytes: Array.from(echoed) } : { kind: typeof echoed };
    },
    async large() {
      const c = await open("/echo");
      await within(c.writer.write(pattern(LARGE, 31)), 30_000, "the 16 MiB write");
      const echoed = await next(c, "16 MiB echo");
      await shut(c);
      return check(echoed, LARGE, 31);
    },
    async streamed() {
      // One message written as a stream of 7 pieces: wsflow sends a fragment per piece.
      const c = await open("/echo");
      const whole = pattern(100_000, 13);
      let at = 0;
      const pieces = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(whole.slice(at, at + 16_384));
          at += 16_384;
          if (at >= whole.length) controller.close();
        },
      });
      await within(c.writer.write(pieces), 10_000, "the streamed write");
      const echoed = await next(c, "streamed echo");
      await shut(c);
      return check(echoed, 100_000, 13);
    },
    async fragmented() {
      const c = await open("/fragmented");
      const message = await next(c, "fragmented message");
      await shut(c);
      return check(message, 100_000, 7);
    },
    async "server ping"() {
      const c = await open("/ping");
      const answer = await next(c, "the server's ping result");
      await shut(c);
      return answer;
    },
    async "client ping"() {
      const c = await open("/echo");
      const rtt = await within(c.wss.ping(), 5000, "pong");
      await c.writer.write("after the ping");
      const echoed = await next(c, "echo after the ping");
      await shut(c);
      return { rtt: typeof rtt === "number" && Number.isFinite(rtt) && rtt >= 0 && rtt < 5000 ? "in range" : rtt, echoed };
    },
    async "close from client"() {
      const c = await open(`/echo?id=${input.id}-close`);
      c.wss.close({ closeCode: 4001, reason: "client says bye" });
      return await within(c.closed, 5000, "closed");
    },
    async "close from server"() {
      const c = await open("/close?code=4003&reason=server%20says%20bye");
      return await within(c.closed, 5000, "closed");
    },
    async rejection() {
      try {
        const c = await open("/auth?token=bad");
        c.wss.close();
        return { opened: true };
      } catch (error) {
        const e = error as { name?: string; message?: string; closeCode?: number; response?: { status: number; headers: Headers } };
        const response = e?.response && { status: e.response.status, authenticate: e.response.headers.get("www-authenticate") };
        return { opened: false, name: e?.name, message: e?.message, closeCode: e?.closeCode, response };
      }
    },
    async compression() {
      const c = await openPath(`${input.compressionBase ?? input.base}/extensions`, { ...tls, compression: true });
      const out: Record<string, unknown> = { extensions: c.info.extensions, reported: await next(c, "the server's extensions") };
      const texts = [];
      for (const text of [0, 1, 2].map(jsonText)) {
        await c.writer.write(text);
        texts.push((await next(c, "text echo")) === text);
      }
      out.texts = texts;
      // The same 6 KiB twice: a compressor with a window over 4 KiB refers the second copy back to
      // the first, which a server that asked for 10- or 12-bit windows cannot inflate (1007).
      const repeats = [];
      for (const text of [farText(), farText()]) {
        await c.writer.write(text);
        repeats.push((await next(c, "repeated text echo")) === text);
      }
      out.repeats = repeats;
      await c.writer.write(pattern(100 * 1024, 7));
      out.binary = check(await next(c, "binary echo"), 100 * 1024, 7);
      c.wss.close({ closeCode: 1000, reason: "done" });
      out.close = await within(c.closed, 5000, "closed");
      return out;
    },
  };

  const out: Record<string, unknown> = {};
  for (const name of input.behaviours) {
    try {
      out[name] = await behaviours[name as keyof typeof behaviours]();
    } catch (error) {
      out[name] = { error: String((error as Error)?.message ?? error) };
    }
  }
  return out;
}

if (import.meta.main) {
  const input = JSON.parse(process.argv[process.argv.length - 1]) as PythonPeerInput;
  console.log(JSON.stringify(await runPythonPeer(input)));
  process.exit(0);
}
