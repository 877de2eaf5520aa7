// A text echo piped to its own connection (`readable.pipeTo(writable)`) sends each text message's
// bytes back without making its string, where the runtime has node:buffer's isUtf8: the peer
// must see the same text frames as before, multi-byte text intact, bad UTF-8 answered with 1007
// and not echoed, and a reader that is not a pipe still gets strings; text the server makes goes
// out as its exact UTF-8. A raw TCP peer, on every server path of this runtime.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { upgradeWebSocket } from "../../mod.ts";
import { runtime, serve, type ServeHandle } from "../../src/adapters/serve.ts";
import { expectReceived, masked, plain, rawEcho, until } from "./_raw_ws.ts";

const modes = runtime() === "node" ? ["codec"] as const : ["native", "codec"] as const;

const texts = ["a", "héllo", "𝄞 ".repeat(2000), "日本語のテキスト".repeat(700), "x".repeat(16_384)];

// /echo pipes; /types answers each message with the type the reader got; /compose with a new
// string made of it (see composed).
async function handler(request: Request): Promise<Response> {
  const { socket, response } = await upgradeWebSocket(request);
  const path = new URL(request.url).pathname;
  void socket?.opened.then(({ readable, writable }) =>
    path === "/echo"
      ? readable.pipeTo(writable)
      : path === "/types"
      ? answerTypes(readable, writable)
      : path === "/burst"
      ? burst(writable)
      : answerComposed(readable, writable)
  ).catch(() => {});
  return response;
}

// Text the server makes (not the text it received): twice the message around a lone surrogate,
// which goes out as U+FFFD (EF BF BD), as TextEncoder encodes it. On Deno and Bun, text of 256
// code units or more goes to the transport as a string after its header; Node's takes bytes.
const composed = (text: string) => text + "\uD800" + text;
// The frames a server sends for these texts: each as TextEncoder encodes it.
const textFrames = (texts: string[]) => Buffer.concat(texts.map((text) => plain(0x81, new TextEncoder().encode(text))));

// Long texts written at once, more than the socket buffers take before the peer reads (about
// 9 MB): they wait in the transport, then go out in order; one is over 64 KiB of UTF-8.
const burstTexts = Array.from({ length: 300 }, (_, i) => composed(`${i}:` + (i === 150 ? "€".repeat(40_000) : "ü€x".repeat(2500 + i))));
async function burst(writable: WritableStream<string>): Promise<void> {
  const writer = writable.getWriter();
  await Promise.all(burstTexts.map((text) => writer.write(text)));
}

async function answerComposed(readable: ReadableStream<unknown>, writable: WritableStream<string>): Promise<void> {
  const writer = writable.getWriter();
  for await (const message of readable) await writer.write(composed(message as string));
}

async function answerTypes(readable: ReadableStream<unknown>, writable: WritableStream<string>): Promise<void> {
  const writer = writable.getWriter();
  for await (const message of readable) await writer.write(typeof message);
}

for (const mode of modes) {
  describe(`${runtime()} server, mode ${mode}: text echoed through a pipe`, { timeout: 60_000 }, () => {
    let server: ServeHandle;
    before(async () => {
      server = await serve({ port: 0, mode }, handler);
    });
    after(() => server.shutdown());

    test("comes back as the same text frames, multi-byte characters intact", async () => {
      const { socket, received } = await rawEcho(server.port, "/echo");
      try {
        const payloads = texts.map((text) => Buffer.from(text));
        socket.write(Buffer.concat(payloads.map((payload) => masked(0x81, payload))));
        const expected = Buffer.concat(payloads.map((payload) => plain(0x81, payload)));
        await expectReceived(received, expected);
      } finally {
        socket.destroy();
      }
    });

    // In native mode the runtime reads the frames and answers bad UTF-8 its own way.
    test("bad UTF-8 in a whole frame gets a close with 1007 and no echo", { skip: mode === "native" && "the runtime's framing" }, async () => {
      const { socket, received } = await rawEcho(server.port, "/echo");
      try {
        const bad = Buffer.concat([Buffer.from("x".repeat(1000)), Buffer.of(0xc3, 0x28)]);
        socket.write(Buffer.concat([masked(0x81, Buffer.from("fine")), masked(0x81, bad)]));
        const got = await until(received, plain(0x81, Buffer.from("fine")).length + 4);
        assert.deepEqual([...got.subarray(0, 6)], [...plain(0x81, Buffer.from("fine"))], "the message before it is echoed");
        assert.deepEqual([...got.subarray(6, 10)], [0x88, 0x02, 0x03, 0xef], "then a close frame with 1007");
      } finally {
        socket.destroy();
      }
    });

    test("text the server makes goes out as its UTF-8, its length in the header, either side of 256 and 4,096 code units", async () => {
      const { socket, received } = await rawEcho(server.port, "/compose");
      try {
        const sent = [...texts, "z".repeat(127), "z".repeat(128), "y".repeat(2047), "y".repeat(2048), "é".repeat(3000)];
        socket.write(Buffer.concat(sent.map((text) => masked(0x81, Buffer.from(text)))));
        const expected = textFrames(sent.map(composed));
        await expectReceived(received, expected);
      } finally {
        socket.destroy();
      }
    });

    test("long text written faster than the peer reads arrives whole and in order", async () => {
      const { socket, received } = await rawEcho(server.port, "/burst");
      try {
        socket.pause();
        await new Promise((resolve) => setTimeout(resolve, 500));
        socket.resume();
        const expected = textFrames(burstTexts);
        await expectReceived(received, expected);
      } finally {
        socket.destroy();
      }
    });

    test("a reader that is not a pipe gets strings", async () => {
      const { socket, received } = await rawEcho(server.port, "/types");
      try {
        socket.write(Buffer.concat(texts.map((text) => masked(0x81, Buffer.from(text)))));
        const expected = Buffer.concat(texts.map(() => plain(0x81, Buffer.from("string"))));
        const got = await until(received, expected.length);
        assert.ok(got.equals(expected), got.toString("latin1"));
      } finally {
        socket.destroy();
      }
    });
  });
}
