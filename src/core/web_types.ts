// Two web platform types of the public surface, spelled out here: the DOM lib names them
// (`BufferSource`, `HeadersInit`) but @types/node does not, so a consumer whose tsconfig has no
// DOM lib could not check wsflow's declarations, and with `skipLibCheck` the options typed with
// them would silently become `any`. Each is the DOM lib's definition, so a value of the DOM type
// is a value of these and the other way round.

/**
 * Binary data to send: an `ArrayBuffer` or any view of one (a `Uint8Array`, a `DataView`, ...),
 * what the WHATWG APIs call a `BufferSource`.
 *
 * @example
 * ```ts
 * import type { BufferSourceLike } from "@wsflow/wsflow";
 *
 * const data: BufferSourceLike = new Uint8Array([1, 2, 3]);
 * console.log(data.byteLength); // 3
 * ```
 */
export type BufferSourceLike = ArrayBuffer | ArrayBufferView;

/**
 * Headers to add, in any form the `Headers` constructor takes (the DOM lib's `HeadersInit`): a
 * `Headers`, a list of name and value pairs, or a record of names to values.
 *
 * @example
 * ```ts
 * import type { HeadersLike } from "@wsflow/wsflow";
 *
 * const headers: HeadersLike = { authorization: "Bearer secret" };
 * console.log(new Headers(headers).get("authorization")); // "Bearer secret"
 * ```
 */
export type HeadersLike = Headers | [string, string][] | Record<string, string>;
