// The npm package's main entry under its `workerd` export condition: the main entry, with
// wsflow/cloudflare imported for what it sets up (upgradeWebSocket through WebSocketPair, and
// the client's default transport over cloudflare:sockets). Not a JSR export: JSR has no
// conditions, so a Worker importing from JSR imports wsflow/cloudflare itself.
import "./mod.ts";
export * from "../../../mod.ts";
