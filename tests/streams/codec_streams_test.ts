import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  FrameDecoderStream,
  FrameEncoderStream,
  type FramePart,
  MessageDecoderStream,
  MessageEncoderStream,
  ProtocolError,
} from "../../mod.ts";
import { concat, hex, streamOf, toHex } from "../_util.ts";

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
}

function bytesOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return streamOf(chunks.map((c) => c.slice()));
}

describe("FrameDecoderStream", () => {
  test("decodes frames from chunks split anywhere", async () => {
    const bytes = hex("01 03 48 65 6c 89 00 80 02 6c 6f");
    for (let i = 1; i < bytes.length; i++) {
      const frames = await collect(bytesOf(bytes.subarray(0, i), bytes.subarray(i)).pipeThrough(new FrameDecoderStream({ role: "client" })));
      assert.deepEqual(frames.map((f) => [f.opcode, f.fin, toHex(f.payload)]), [[1, false, "48 65 6c"], [9, true, ""], [0, true, "6c 6f"]]);
    }
  });

  test("gathers a frame whole by default and hands out parts when asked", async () => {
    const bytes = concat(hex("82 7e 01 00"), new Uint8Array(256).fill(1));
    const whole = await collect(bytesOf(bytes.subarray(0, 100), bytes.subarray(100)).pipeThrough(new FrameDecoderStream({ role: "client" })));
    assert.deepEqual(whole.map((f) => f.payload.length), [256]);
    const parts = await collect(
      bytesOf(bytes.subarray(0, 100), bytes.subarray(100)).pipeThrough(new FrameDecoderStream({ role: "client", partial: true })),
    );
    assert.deepEqual(parts.map((f: FramePart) => [f.offset, f.payload.length, f.length]), [[0, 96, 256], [96, 160, 256]]);
  });

  test("errors with a ProtocolError that carries the close code", async () => {
    const stream = bytesOf(hex("83 00")).pipeThrough(new FrameDecoderStream({ role: "client" }));
    await assert.rejects(collect(stream), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1002);
  });

  test("errors with 1006 when the bytes end inside a frame", async () => {
    const stream = bytesOf(hex("81 05 48 65")).pipeThrough(new FrameDecoderStream({ role: "client" }));
    await assert.rejects(collect(stream), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1006);
  });
});

describe("MessageDecoderStream", () => {
  test("turns frames into messages and passes control frames to a callback", async () => {
    const control: number[] = [];
    const messages = await collect(
      bytesOf(hex("01 03 48 65 6c 89 01 70 80 02 6c 6f 82 02 01 02"))
        .pipeThrough(new FrameDecoderStream({ role: "client", partial: true }))
        .pipeThrough(new MessageDecoderStream({ onControlFrame: (f) => control.push(f.opcode) })),
    );
    assert.deepEqual(messages, ["Hello", hex("01 02")]);
    assert.deepEqual(control, [9]);
  });

  test("errors with 1007 on invalid UTF-8", async () => {
    const stream = bytesOf(hex("81 02 c3 28")).pipeThrough(new FrameDecoderStream({ role: "client" })).pipeThrough(new MessageDecoderStream());
    await assert.rejects(collect(stream), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007);
  });

  test("errors with 1006 when the frames end inside a message", async () => {
    const stream = bytesOf(hex("01 01 61")).pipeThrough(new FrameDecoderStream({ role: "client" })).pipeThrough(new MessageDecoderStream());
    await assert.rejects(collect(stream), (e: unknown) => e instanceof ProtocolError && e.closeCode === 1006);
  });
});

describe("MessageEncoderStream and FrameEncoderStream", () => {
  test("encode messages to the RFC 6455 section 5.7 bytes", async () => {
    const bytes = await collect(
      streamOf<string | Uint8Array>(["Hello"])
        .pipeThrough(new MessageEncoderStream({ fragmentSize: 3 }))
        .pipeThrough(new FrameEncoderStream({ role: "server" })),
    );
    assert.equal(toHex(concat(...bytes)), "01 03 48 65 6c 80 02 6c 6f");
  });

  test("round-trip text and binary messages through all four streams as client to server", async () => {
    const sent: (string | Uint8Array)[] = ["", "Hello", "κόσμε".repeat(1000), new Uint8Array(70000).map((_, i) => i), new Uint8Array(0)];
    const received = await collect(
      streamOf<string | Uint8Array>(sent)
        .pipeThrough(new MessageEncoderStream({ fragmentSize: 1000 }))
        .pipeThrough(new FrameEncoderStream({ role: "client" }))
        .pipeThrough(new FrameDecoderStream({ role: "server" }))
        .pipeThrough(new MessageDecoderStream()),
    );
    assert.deepEqual(received, sent);
  });
});
