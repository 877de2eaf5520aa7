// The Backplane: how a Topics hub reaches the hubs of other processes. A broker adapter
// (wsflow/redis, wsflow/nats) implements it; InProcessBackplane joins hubs of one process.

/**
 * Carries published messages between the {@linkcode Topics} hubs of several processes: a
 * broker's publish/subscribe, seen as opaque bytes per topic. A hub opens its backplane once,
 * subscribes to a topic while it has local subscribers to it, and publishes every message it
 * publishes locally; the bytes it hands over carry who published them and in what order, so
 * the hub itself drops its own messages coming back and any message seen twice.
 *
 * @example A backplane that reaches nobody (what a hub does without one)
 * ```ts
 * import type { Backplane } from "@wsflow/wsflow";
 *
 * const alone: Backplane = {
 *   open() {},
 *   async subscribe() {},
 *   async unsubscribe() {},
 *   async publish() {},
 *   async close() {},
 * };
 * ```
 */
export interface Backplane {
  /**
   * Starts delivering: `receive` is called with each message published to a subscribed topic,
   * including the hub's own (which it drops). Called once, by the hub that owns the backplane.
   */
  open(receive: (topic: string, data: Uint8Array) => void): void | Promise<void>;
  /** Receives `topic` from now on; resolves once the broker has confirmed it. */
  subscribe(topic: string): Promise<void>;
  /** Stops receiving `topic`. */
  unsubscribe(topic: string): Promise<void>;
  /** Sends `data` to every process subscribed to `topic`; resolves once the broker took it. */
  publish(topic: string, data: Uint8Array): Promise<void>;
  /** Stops delivering and lets the broker connection go (or not, when the user owns it). */
  close(): Promise<void>;
}

/**
 * A backplane between hubs of one process: each `new InProcessBackplane(peer)` joins the peer's
 * bus, and a message published on one endpoint reaches every endpoint of the bus subscribed to
 * its topic, synchronously and in order. For several servers (or tests) in one process; a
 * single hub needs no backplane at all.
 *
 * @example Two hubs, one bus
 * ```ts
 * import { InProcessBackplane, Topics } from "@wsflow/wsflow";
 *
 * const first = new InProcessBackplane();
 * const a = new Topics({ backplane: first });
 * const b = new Topics({ backplane: new InProcessBackplane(first) });
 * await a.close();
 * await b.close();
 * ```
 */
export class InProcessBackplane implements Backplane {
  readonly #bus: Set<InProcessBackplane>;
  readonly #topics = new Set<string>();
  #receive: ((topic: string, data: Uint8Array) => void) | undefined;

  /**
   * Creates an endpoint.
   *
   * @param peer An endpoint whose bus to join; without it, a new bus.
   */
  constructor(peer?: InProcessBackplane) {
    this.#bus = peer ? peer.#bus : new Set();
    this.#bus.add(this);
  }

  /**
   * Starts delivering to `receive`.
   *
   * @throws {TypeError} When the endpoint is already open (one endpoint per hub).
   */
  open(receive: (topic: string, data: Uint8Array) => void): void {
    if (this.#receive) throw new TypeError("Cannot open InProcessBackplane: it already serves a hub; give each hub its own endpoint (new InProcessBackplane(peer))");
    this.#receive = receive;
    this.#bus.add(this);
  }

  /** Receives `topic` from now on. */
  subscribe(topic: string): Promise<void> {
    this.#topics.add(topic);
    return Promise.resolve();
  }

  /** Stops receiving `topic`. */
  unsubscribe(topic: string): Promise<void> {
    this.#topics.delete(topic);
    return Promise.resolve();
  }

  /** Delivers `data` to every endpoint of the bus subscribed to `topic`, this one included. */
  publish(topic: string, data: Uint8Array): Promise<void> {
    for (const endpoint of this.#bus) {
      if (endpoint.#topics.has(topic)) endpoint.#receive?.(topic, data);
    }
    return Promise.resolve();
  }

  /** Leaves the bus. */
  close(): Promise<void> {
    this.#bus.delete(this);
    this.#receive = undefined;
    this.#topics.clear();
    return Promise.resolve();
  }
}

// The bytes a hub hands its backplane: a version byte, the kind (1 text, 2 binary), the
// publishing hub's 8-byte id, its 8-byte sequence number (a float64, big-endian), the payload.
const HEADER = 18;

/** @internal A published message as backplane bytes. */
export function _envelope(origin: Uint8Array, seq: number, text: boolean, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.byteLength);
  out[0] = 1;
  out[1] = text ? 1 : 2;
  out.set(origin, 2);
  new DataView(out.buffer).setFloat64(10, seq);
  out.set(payload, HEADER);
  return out;
}

/** @internal Backplane bytes read back; `undefined` for bytes that are not a wsflow envelope. */
export function _openEnvelope(data: Uint8Array): { origin: string; seq: number; text: boolean; payload: Uint8Array } | undefined {
  if (data.byteLength < HEADER || data[0] !== 1 || (data[1] !== 1 && data[1] !== 2)) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  return {
    origin: `${view.getUint32(2).toString(36)}.${view.getUint32(6).toString(36)}`,
    seq: view.getFloat64(10),
    text: data[1] === 1,
    payload: data.subarray(HEADER),
  };
}
