/**
 * Topics across processes through NATS (`wsflow/nats`): a {@linkcode Backplane} over a
 * connection you open with `@nats-io/transport-node` (nats.js v3; `@nats-io/transport-deno`
 * works the same), so wsflow itself depends on no NATS package. nats.js reconnects by itself,
 * subscribes again and sends what was published meanwhile (up to its reconnect buffer).
 *
 * What a broker restart costs: NATS core keeps nothing, so a message that reaches the server
 * while a process's subscription is not restored yet does not reach that process. The hub
 * drops any message it has seen (each carries its publisher's id and sequence number), so none
 * arrives twice or out of its publisher's order.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { Topics } from "wsflow";
 * import { natsBackplane } from "wsflow/nats";
 *
 * const connection = await connect({ servers: "127.0.0.1:4222" });
 * const topics = new Topics({ backplane: natsBackplane({ connection }) });
 * ```
 *
 * @module
 */
import type { Backplane } from "../../topics/backplane.ts";

export type { Backplane } from "../../topics/backplane.ts";

/** The slice of a nats.js `NatsConnection` the backplane uses. */
export interface NatsConnectionLike {
  /** Publishes bytes to a subject. */
  publish(subject: string, payload: Uint8Array): void;
  /** Subscribes with a callback per message. */
  subscribe(subject: string, options: { callback: (error: Error | null, message: { data: Uint8Array }) => void }): { unsubscribe(): void };
  /** Resolves once the server has processed everything sent before it. */
  flush(): Promise<void>;
}

/** Options for {@linkcode natsBackplane}. */
export interface NatsBackplaneOptions {
  /** A connected nats.js connection. */
  connection: NatsConnectionLike;
  /** The first token of every subject. @default {"wsflow"} */
  prefix?: string;
}

/**
 * A backplane over NATS core publish/subscribe. A topic made of letters, digits, `-` and `_`
 * is subject `wsflow.t.<topic>`; any other is `wsflow.b.<its UTF-8 in base64url>`, since NATS
 * gives `.`, `*`, `>` and whitespace a meaning. The connection stays yours: closing the
 * backplane unsubscribes, and you close the connection.
 *
 * @throws {TypeError} When `connection` lacks `publish`, `subscribe` or `flush`.
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { Topics } from "wsflow";
 * import { natsBackplane } from "wsflow/nats";
 *
 * const connection = await connect({ servers: process.env.NATS_URL });
 * const topics = new Topics({ backplane: natsBackplane({ connection }) });
 * topics.publish("room", "hello from this process");
 * ```
 */
export function natsBackplane(options: NatsBackplaneOptions): Backplane {
  const { connection, prefix = "wsflow" } = options;
  if (typeof connection?.publish !== "function" || typeof connection.subscribe !== "function" || typeof connection.flush !== "function") {
    throw new TypeError("Cannot create a NATS backplane: connection must be a connected nats.js connection (await connect(...) from @nats-io/transport-node)");
  }
  let receive: ((topic: string, data: Uint8Array) => void) | undefined;
  const subscriptions = new Map<string, { unsubscribe(): void }>();
  return {
    open(deliver) {
      receive = deliver;
    },
    async subscribe(topic) {
      if (subscriptions.has(topic)) return;
      subscriptions.set(topic, connection.subscribe(_subject(prefix, topic), {
        callback: (error, message) => {
          if (!error) receive?.(topic, message.data);
        },
      }));
      await connection.flush();
    },
    unsubscribe(topic) {
      subscriptions.get(topic)?.unsubscribe();
      subscriptions.delete(topic);
      return Promise.resolve();
    },
    publish(topic, data) {
      connection.publish(_subject(prefix, topic), data);
      return Promise.resolve();
    },
    close() {
      receive = undefined;
      for (const subscription of subscriptions.values()) subscription.unsubscribe();
      subscriptions.clear();
      return Promise.resolve();
    },
  };
}

function _subject(prefix: string, topic: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(topic)) return `${prefix}.t.${topic}`;
  let binary = "";
  for (const byte of new TextEncoder().encode(topic)) binary += String.fromCharCode(byte);
  return `${prefix}.b.${btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}
