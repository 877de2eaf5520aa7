/**
 * Frame opcodes of RFC 6455 section 5.2, as wire values. 0x3-0x7 and 0xB-0xF are reserved.
 *
 * @example
 * ```ts
 * import { Opcode } from "@wsflow/wsflow";
 *
 * console.log(Opcode.Text, Opcode.Close); // 1 8
 * ```
 */
export const Opcode = {
  /** 0x0: a continuation of a fragmented message (section 5.4). */
  Continuation: 0x0,
  /** 0x1: the first frame of a text message. */
  Text: 0x1,
  /** 0x2: the first frame of a binary message. */
  Binary: 0x2,
  /** 0x8: a close frame (section 5.5.1). */
  Close: 0x8,
  /** 0x9: a ping (section 5.5.2). */
  Ping: 0x9,
  /** 0xA: a pong (section 5.5.3). */
  Pong: 0xa,
} as const;

/** One of the {@linkcode Opcode} values. */
export type Opcode = typeof Opcode[keyof typeof Opcode];

/** Whether `opcode` is a control opcode (section 5.5: the high bit of the nibble is set). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}
