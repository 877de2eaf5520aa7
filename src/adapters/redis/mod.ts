/**
 * Topics across processes through Redis pub/sub (`wsflow/redis`): a {@linkcode Backplane} over
 * two clients you create with `redis` (node-redis, v5 or later), so wsflow itself depends on
 * no Redis package. For Node, Deno and Bun (it uses `node:buffer`, taken through `process.getBuiltinModule`). One client publishes; the other subscribes (a Redis connection in
 * subscribe mode cannot publish). node-redis reconnects by itself and subscribes again.
 *
 * What a broker restart costs: Redis pub/sub keeps nothing, so a message published while a
 * process is not subscribed (the broker down, or the subscriber's connection not yet
 * restored) does not reach that process. The hub drops any message it has seen (each carries
 * its publisher's id and sequence number), so none arrives twice or out of its publisher's order.
 *
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { Topics } from "wsflow";
 * import { redisBackplane } from "wsflow/redis";
 *
 * const publisher = await createClient({ url: "redis://127.0.0.1:6379" }).connect();
 * const subscriber = await publisher.duplicate().connect();
 * const topics = new Topics({ backplane: redisBackplane({ publisher, subscriber }) });
 * ```
 *
 * @module
 */
import type { Buffer } from "node:buffer";
import { _nodeBuiltin } from "../node/builtin.ts";
import type { Backplane } from "../../topics/backplane.ts";

export type { Backplane } from "../../topics/backplane.ts";

/**
 * The slice of a node-redis client (`createClient()` from `redis`) the backplane uses. Messages
 * go as bytes (`bufferMode`), so binary messages pass unchanged.
 */
export interface RedisClientLike {
  /** PUBLISH. */
  publish(channel: string, message: Buffer): Promise<unknown>;
  /** SUBSCRIBE, with the listener given the message's bytes. */
  subscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<unknown>;
  /** UNSUBSCRIBE the listener. */
  unsubscribe(channel: string, listener: (message: Buffer, channel: Buffer) => void, bufferMode: true): Promise<unknown>;
}

/** Options for {@linkcode redisBackplane}. */
export interface RedisBackplaneOptions {
  /** A connected client that publishes. */
  publisher: RedisClientLike;
  /** Another connected client that subscribes (`publisher.duplicate()`, connected). */
  subscriber: RedisClientLike;
  /** Prepended to each topic to make its channel name. @default {"wsflow:"} */
  prefix?: string;
}

/**
 * A backplane over Redis pub/sub: topic `t` is channel `wsflow:t`. The clients stay yours:
 * closing the backplane unsubscribes, and you close the clients.
 *
 * @throws {TypeError} When a client lacks `publish` or `subscribe`.
 * @example
 * ```ts ignore
 * import { createClient } from "redis";
 * import { Topics } from "wsflow";
 * import { redisBackplane } from "wsflow/redis";
 *
 * const publisher = await createClient({ url: process.env.REDIS_URL }).connect();
 * const subscriber = await publisher.duplicate().connect();
 * const topics = new Topics({ backplane: redisBackplane({ publisher, subscriber }) });
 * topics.publish("room", "hello from this process");
 * ```
 */
export function redisBackplane(options: RedisBackplaneOptions): Backplane {
  const { publisher, subscriber, prefix = "wsflow:" } = options;
  if (typeof publisher?.publish !== "function" || typeof subscriber?.subscribe !== "function") {
    throw new TypeError("Cannot create a Redis backplane: publisher and subscriber must be connected node-redis clients (createClient() and its duplicate())");
  }
  // node-redis runs where Node's built-ins do; taken at run time, so this module still bundles.
  const { Buffer } = _nodeBuiltin<{ Buffer: typeof import("node:buffer").Buffer }>("node:buffer", "publish to Redis");
  let receive: ((topic: string, data: Uint8Array) => void) | undefined;
  const listeners = new Map<string, (message: Uint8Array) => void>();
  return {
    open(deliver) {
      receive = deliver;
    },
    async subscribe(topic) {
      if (listeners.has(topic)) return;
      const listener = (message: Uint8Array) => receive?.(topic, message);
      listeners.set(topic, listener);
      await subscriber.subscribe(prefix + topic, listener, true);
    },
    async unsubscribe(topic) {
      const listener = listeners.get(topic);
      if (!listener) return;
      listeners.delete(topic);
      await subscriber.unsubscribe(prefix + topic, listener, true);
    },
    async publish(topic, data) {
      // node-redis takes a string or a Buffer: a Buffer view of the same bytes, no copy.
      await publisher.publish(prefix + topic, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    },
    async close() {
      receive = undefined;
      const topics = [...listeners.keys()];
      await Promise.allSettled(topics.map((topic) => this.unsubscribe(topic)));
    },
  };
}
