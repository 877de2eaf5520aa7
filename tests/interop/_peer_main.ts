// Runs runPeer() in Deno or Bun with the runtime's own WebSocket (or WebSocketStream) and
// prints the observations as one JSON line:
//   deno run -A [--unstable-net] _peer_main.ts '<PeerInput as JSON>'
//   bun _peer_main.ts '<PeerInput as JSON>'
import process from "node:process";
import { type PeerInput, runPeer } from "./_peer.ts";

const input = JSON.parse(process.argv[process.argv.length - 1]) as PeerInput;
const observations = await runPeer(input);
console.log(JSON.stringify(observations));
process.exit(0);
