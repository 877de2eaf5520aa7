// A Worker with wsflow's client, bundled by workerd_test.ts with wrangler's settings: the default
// transport (cloudflare:sockets, from the package's workerd condition) to the wsflow server on
// Node whose URL is in `?to=`, with `compression: true` when `?compression=1`. Answers with
// what it saw, as JSON.
import { WebSocketStream } from "wsflow";

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      const wss = new WebSocketStream(url.searchParams.get("to"), url.searchParams.get("compression") === "1" ? { compression: true } : {});
      const { readable, writable, extensions } = await wss.opened;
      const reader = readable.getReader();
      const writer = writable.getWriter();
      const text = "from a Worker ".repeat(1000);
      await writer.write(text);
      const echoedText = (await reader.read()).value;
      const binary = new Uint8Array(200_000).map((_, i) => i % 251);
      await writer.write(binary);
      const echoed = (await reader.read()).value;
      wss.close({ closeCode: 4000, reason: "done" });
      const closed = await wss.closed;
      return Response.json({
        extensions,
        text: echoedText === text,
        binary: echoed instanceof Uint8Array && echoed.length === binary.length && echoed.every((b, i) => b === binary[i]),
        closed,
      });
    } catch (error) {
      return Response.json({ error: `${error.name}: ${error.message}` });
    }
  },
};
