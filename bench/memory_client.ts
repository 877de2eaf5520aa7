// The memory benchmark's client process (see bench/memory.ts): opens connections with the `ws`
// package's client (the same client against both servers), each sending one compressible text
// message and waiting for its echo, then keeps them open and silent.
//
// IPC, driver -> client: { type: "open", url, count, compression, text } and { type: "close" }.
// Client -> driver: { type: "opened", count, deflated } and { type: "closed" }; { type: "error" }.
import process from "node:process";
import { WebSocket } from "ws";

const BATCH = 50; // connections being opened at once (well under the server's listen backlog)
const sockets: WebSocket[] = [];
// Never outlive the driver.
process.on("disconnect", () => process.exit(0));

function one(url: string, compression: boolean, text: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // perMessageDeflate: true offers "permessage-deflate; client_max_window_bits" (ws's default).
    const ws = new WebSocket(url, { perMessageDeflate: compression });
    ws.once("error", reject);
    ws.once("open", () => ws.send(text));
    ws.once("message", (data, isBinary) => {
      if (isBinary || data.toString() !== text) return reject(new Error("memory_client: the echo differs from the message sent"));
      resolve(ws);
    });
  });
}

async function open(url: string, count: number, compression: boolean, text: string): Promise<void> {
  for (let done = 0; done < count; done += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - done) }, () => one(url, compression, text));
    sockets.push(...(await Promise.all(batch)));
  }
  const deflated = sockets.filter((ws) => ws.extensions.includes("permessage-deflate")).length;
  process.send!({ type: "opened", count: sockets.length, deflated });
}

async function closeAll(): Promise<void> {
  await Promise.all(sockets.map((ws) => new Promise<void>((resolve) => {
    ws.once("close", () => resolve());
    ws.close(1000);
  })));
  sockets.length = 0;
  process.send!({ type: "closed" });
}

process.on("message", (message: { type: string; url: string; count: number; compression: boolean; text: string }) => {
  const job = message.type === "open" ? open(message.url, message.count, message.compression, message.text) : closeAll();
  job.catch((error: Error) => process.send!({ type: "error", message: String(error?.stack ?? error) }));
});
