// What every fixture server does the same (fixture_server.ts, _ws_server.ts and the native Deno
// and Bun servers): record how connections closed for /closes/X, wait before upgrading as an auth
// check would, and refuse /auth without the good token. Web APIs only: it runs in Node 20 and 24,
// Deno and Bun.

/** How a connection closed, as /closes/X reports it. */
export interface CloseRecord {
  clean: boolean;
  closeCode: number;
  reason: string;
}

/** The headers of the refusal of /auth?token=T when T is not "good". */
export const REFUSAL_HEADERS = { "www-authenticate": 'Bearer realm="interop"', "x-reason": "bad token" } as const;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One server's close records, by the id its connections were opened with (?id=X). */
export class CloseRecords {
  #records = new Map<string, CloseRecord>();

  /** Records how the connection opened with `id` closed; nothing without an id. */
  set(id: string | null, record: CloseRecord): void {
    if (id) this.#records.set(id, record);
  }

  /** The record for `id`, waiting up to 3 s for it. */
  async get(id: string): Promise<CloseRecord | undefined> {
    for (let i = 0; i < 150 && !this.#records.has(id); i++) await sleep(20);
    return this.#records.get(id);
  }
}

/**
 * Waits as an auth check would (every upgrade comes after an await), then for /auth?token=T&delay=MS
 * waits MS ms more; false when the upgrade must be refused.
 */
export async function authorized(url: URL): Promise<boolean> {
  await sleep(5);
  if (url.pathname !== "/auth") return true;
  await sleep(Number(url.searchParams.get("delay") ?? 0));
  return url.searchParams.get("token") === "good";
}

/**
 * The answer of a fetch-style server before it upgrades: JSON of /closes/X, or the refusal of a bad
 * /auth token; undefined when the request goes on to the upgrade.
 */
export async function beforeUpgrade(url: URL, closes: CloseRecords): Promise<Response | undefined> {
  if (url.pathname.startsWith("/closes/")) {
    const record = await closes.get(decodeURIComponent(url.pathname.slice("/closes/".length)));
    return record ? Response.json(record) : new Response("no record", { status: 404 });
  }
  if (!(await authorized(url))) return new Response("bad token", { status: 401, headers: REFUSAL_HEADERS });
  return undefined;
}

/** Whether the request offers the "chat" subprotocol, the one every fixture server picks. */
export function offersChat(request: Request): boolean {
  return (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).includes("chat");
}
