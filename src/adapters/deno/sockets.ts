// The open WebSocket connections of one wsflow/deno server, so shutdown() can close them.
import type { WebSocketStream } from "../../streams/websocket_stream.ts";

// How long shutdown() waits for peers to answer the 1001 close frame. The codec path has its own
// close timeout; Deno's native socket has none, so a silent peer would hold shutdown() forever.
const CLOSE_WAIT = 10_000;

/** @internal A server's open connections. */
export class _Sockets {
  readonly #open = new Set<WebSocketStream>();
  #closing = false;

  /** Whether shutdown has started: no new upgrades. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Tracks a connection until it closes; one added after shutdown started is closed at once. */
  add(connection: WebSocketStream): void {
    this.#open.add(connection);
    const forget = () => void this.#open.delete(connection);
    connection.closed.then(forget, forget);
    if (this.#closing) connection._goAway();
  }

  /** Closes every connection with 1001 ("going away") and waits for them, at most 10 seconds. */
  async closeAll(): Promise<void> {
    this.#closing = true;
    const all = [...this.#open];
    for (const connection of all) connection._goAway();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wait = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT)));
    await Promise.race([Promise.allSettled(all.map((c) => c.closed)), wait]);
    clearTimeout(timer);
  }
}
