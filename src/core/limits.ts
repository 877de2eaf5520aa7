// Default limits. Each protects a server from a peer that sends too much, while still accepting
// what legitimate peers send. Every option that takes one documents it with @default.

/** The largest frame payload accepted by default: 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;
/** The largest message accepted by default (after decompression): 64 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/**
 * The most fragments one message may have by default: 2^18, so a 4 MiB message in 16-byte
 * fragments still passes while a stream of empty continuation frames is cut off.
 */
export const DEFAULT_MAX_FRAGMENTS = 262_144;
