// The scripted exchange every WHATWG-shaped peer runs against a fixture server: one function,
// self-contained but for the two helpers below (no imports, no other closures over module scope),
// so the same code runs in-process (Node 24's global WebSocket, wsflow's WebSocketStream), in Deno
// and Bun (through _peer_main.ts) and in Chromium (as source text, with its helpers: `portable`).
// It returns what it observed per behaviour; the driver asserts, so failures read as diffs.

/** What a peer script is asked to do. */
export interface PeerInput {
  /** Which WHATWG interface to drive. */
  api: "WebSocket" | "WebSocketStream";
  /** `ws://host:port` or `wss://host:port` of the server under test. */
  base: string;
  /** Prefix for the ids under which the server records how connections closed. */
  id: string;
  /** Names from `PEER_BEHAVIOURS`. */
  behaviours: string[];
  /**
   * Send a short text message after the 16 MiB one, and take its echo after the large one's.
   * Deno's WebSocket over wss: can leave the end of a large message unsent until the next send
   * (denoland/deno#36862, open on Deno 2.9.6: 3 of 45 runs here stalled, with `ws` and wsflow
   * servers alike, and none over ws:).
   */
  nudgeLarge?: boolean;
}

/** The behaviours `runPeer` knows. */
export const PEER_BEHAVIOURS = [
  "connect", "subprotocol", "text", "binary", "large", "fragmented", "server ping",
  "close from peer", "close from server", "upgrade after an await", "rejection",
] as const;

/** Observations, or `{ error }` when a behaviour threw. */
export type Observations = Record<string, unknown>;

// deno-lint-ignore no-explicit-any
type Any = any;

/** Rejects with "timed out after MS ms: WHAT" unless `promise` settles first. Self-contained. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))])
    .finally(() => clearTimeout(timer));
}

/** A WebSocket or a WebSocketStream behind one small interface, messages queued for `next()`. */
export interface Conn {
  protocol: string;
  extensions: string;
  send(data: string | Uint8Array): Promise<void> | void;
  /** The next message (binary as Uint8Array), or undefined once closed. */
  next(): Promise<string | Uint8Array | undefined>;
  close(code?: number, reason?: string): void;
  /** WebSocket's `bufferedAmount` (none for a WebSocketStream, whose writes resolve once sent). */
  bufferedAmount?(): number;
  closed: Promise<{ code: number; reason: string; wasClean: boolean }>;
}

/**
 * Opens `url` with `Class`: a WebSocket, with `init` as its second constructor argument when
 * given (protocols, or ws's and Bun's options), or a WebSocketStream with `init` as its options.
 * Rejects, with the close code as `closeCode` where there is one, when the connection does not
 * open. Self-contained.
 */
export function openConnection(Class: Any, api: "WebSocket" | "WebSocketStream", url: string, init?: unknown): Promise<Conn> {
  if (api === "WebSocketStream") {
    return (async () => {
      const wss = new Class(url, init ?? {});
      wss.closed.catch(() => {}); // rejects too when opening fails
      let info: Any;
      try {
        info = await wss.opened;
      } catch (error) {
        throw Object.assign(new Error(`opened rejected: ${(error as Any)?.message}`), { closeCode: (error as Any)?.closeCode });
      }
      const reader = info.readable.getReader();
      const writer = info.writable.getWriter();
      const closed = wss.closed.then(
        (c: Any) => ({ code: c.closeCode, reason: c.reason, wasClean: true }),
        (e: Any) => ({ code: e?.closeCode ?? 1006, reason: e?.reason ?? "", wasClean: false }),
      );
      return {
        protocol: info.protocol,
        extensions: info.extensions,
        send: (data: string | Uint8Array) => writer.write(data),
        next: async () => {
          const { value, done } = await reader.read();
          return done ? undefined : value instanceof ArrayBuffer ? new Uint8Array(value) : value;
        },
        close: (code?: number, reason?: string) => wss.close(code === undefined ? {} : { closeCode: code, reason }),
        closed,
      };
    })();
  }
  return new Promise((resolve, reject) => {
    const ws = init === undefined ? new Class(url) : new Class(url, init);
    ws.binaryType = "arraybuffer";
    const queue: (string | Uint8Array | undefined)[] = [];
    const waiters: ((m: string | Uint8Array | undefined) => void)[] = [];
    const push = (m: string | Uint8Array | undefined) => (waiters.length ? waiters.shift()!(m) : queue.push(m));
    let opened = false;
    ws.onmessage = (event: Any) => push(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    ws.onerror = () => {};
    const closed = new Promise<{ code: number; reason: string; wasClean: boolean }>((done) => {
      ws.onclose = (event: Any) => {
        done({ code: event.code, reason: event.reason, wasClean: event.wasClean });
        push(undefined);
        if (!opened) reject(Object.assign(new Error(`closed before opening with ${event.code}`), { closeCode: event.code }));
      };
    });
    ws.onopen = () => {
      opened = true;
      resolve({
        protocol: ws.protocol,
        extensions: ws.extensions,
        send: (data) => ws.send(data),
        next: () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)),
        close: (code, reason) => ws.close(code, reason),
        bufferedAmount: () => ws.bufferedAmount,
        closed,
      });
    };
  });
}

/**
 * Source text of an expression whose value is `main` with `within` and `openConnection` in scope,
 * for a realm that cannot import them: Chromium's page, or a script written to a file.
 */
export function portable(main: (input: never) => Promise<unknown>): string {
  return `(() => { const within = ${within}; const openConnection = ${openConnection}; return ${main}; })()`;
}

/**
 * Runs the behaviours one after the other and returns what each observed. `Impl` is the
 * WebSocket or WebSocketStream class (the global one by default); `options` go to a
 * WebSocketStream constructor (wsflow's `tls`, for instance).
 */
export async function runPeer(input: PeerInput, Impl?: Any, options?: Record<string, unknown>): Promise<Observations> {
  const Class: Any = Impl ?? (globalThis as Any)[input.api];
  const LARGE = 16 * 1024 * 1024;
  const open = (path: string, protocols?: string[]) =>
    within(
      openConnection(Class, input.api, input.base + path, input.api === "WebSocket" ? protocols : { ...options, protocols: protocols ?? [] }),
      5000,
      `open ${path}`,
    );
  const next = (c: Conn, what: string) => within(c.next(), 20_000, what);
  const shut = async (c: Conn) => {
    c.close(1000, "");
    return await within(c.closed, 5000, "closed");
  };
  const pattern = (length: number, factor: number) => {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = (i * factor) & 255;
    return bytes;
  };
  const check = (message: unknown, length: number, factor: number) => {
    if (!(message instanceof Uint8Array)) return { kind: typeof message };
    let mismatches = 0;
    for (let i = 0; i < message.length; i++) if (message[i] !== ((i * factor) & 255)) mismatches++;
    return { kind: "binary", length: message.length, mismatches, expectedLength: length };
  };

  const behaviours: Record<string, () => Promise<unknown>> = {
    async connect() {
      const c = await open("/echo");
      return { protocol: c.protocol, closeCode: (await shut(c)).code };
    },
    async subprotocol() {
      const chosen = await open("/echo", ["x-other", "chat"]);
      const none = await open("/echo");
      const result = { chosen: chosen.protocol, none: none.protocol };
      await Promise.all([shut(chosen), shut(none)]);
      return result;
    },
    async text() {
      const c = await open("/echo");
      await c.send("hello κόσμε 🙂");
      const echoed = await next(c, "text echo");
      await shut(c);
      return echoed;
    },
    async binary() {
      const c = await open("/echo");
      await c.send(pattern(256, 1));
      const echoed = await next(c, "binary echo");
      await shut(c);
      return echoed instanceof Uint8Array ? { kind: "binary", bytes: Array.from(echoed) } : { kind: typeof echoed };
    },
    async large() {
      const c = await open("/echo");
      await c.send(pattern(LARGE, 31));
      if (input.nudgeLarge) {
        // After the runtime says it has sent everything: the stalled tail goes with the next send.
        for (let i = 0; i < 400 && (c.bufferedAmount?.() ?? 0) > 0; i++) await new Promise((r) => setTimeout(r, 25));
        await new Promise((r) => setTimeout(r, 100));
        await c.send("nudge");
      }
      const echoed = await next(c, "16 MiB echo");
      if (input.nudgeLarge && (await next(c, "the nudge's echo")) !== "nudge") return { error: "the nudge did not echo after the large message" };
      await shut(c);
      return check(echoed, LARGE, 31);
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
    async "close from peer"() {
      const c = await open(`/echo?id=${input.id}-close`);
      c.close(4001, "peer says bye");
      return await within(c.closed, 5000, "closed");
    },
    async "close from server"() {
      const c = await open("/close?code=4003&reason=server%20says%20bye");
      return await within(c.closed, 5000, "closed");
    },
    async "upgrade after an await"() {
      const started = Date.now();
      const c = await open("/auth?token=good&delay=100");
      const waited = Date.now() - started >= 90;
      await c.send("after an await");
      const echoed = await next(c, "echo after an await");
      await shut(c);
      return { waited, echoed };
    },
    async rejection() {
      try {
        const c = await open("/auth?token=bad&delay=20");
        c.close();
        return { opened: true };
      } catch (error) {
        return { opened: false, closeCode: (error as Any).closeCode };
      }
    },
  };

  const out: Observations = {};
  for (const name of input.behaviours) {
    try {
      out[name] = await behaviours[name]();
    } catch (error) {
      out[name] = { error: String((error as Any)?.message ?? error) };
    }
  }
  return out;
}
