// The frames one topic publishes within one turn of the event loop, shared by its subscribers:
// a publish appends its frame to the run once, and each subscriber's transport, which holds a
// piece of the run since the turn's first publish, writes the run's bytes (joined once for all
// of them) when it uncorks. Runtime-free; used by src/topics and the corking transports.
import { _copyInto } from "../core/bytes.ts";

/** @internal Who holds a piece of a run: told nothing, only listed when it detaches. */
export type _RunHolder = object;

/**
 * @internal Frames published to one topic in one turn. Appending is open until a transport
 * takes bytes of the run (it uncorks, or writes a cut piece): the run is sealed then, and a
 * later publish starts a new run, so no run outlives the turn its pieces were written in.
 */
export class _FrameRun {
  readonly frames: Uint8Array[] = [];
  // offsets[i]: the bytes before frame i; offsets[frames.length] is the total.
  readonly #offsets: number[] = [0];
  #sealed = false;
  // The bytes from frame `from` to the end, joined once for every holder (the run is sealed then).
  #joined: Map<number, Uint8Array> | undefined;
  /**
   * Holders that wrote something else after their piece (which was cut there): a later frame
   * must reach them with a new piece, after what they wrote. Taken by whoever appends.
   */
  detached: _RunHolder[] = [];

  /** Whether a transport has taken bytes of the run, so nothing may be appended. */
  get sealed(): boolean {
    return this.#sealed;
  }

  /** The number of frames. */
  get length(): number {
    return this.frames.length;
  }

  /** Adds a frame at the end. */
  append(frame: Uint8Array): void {
    if (this.#sealed) throw new Error("A sealed run takes no more frames");
    this.frames.push(frame);
    this.#offsets.push(this.#offsets[this.#offsets.length - 1] + frame.byteLength);
  }

  /** The bytes of frames `from` to `to` (excluded). */
  byteLength(from: number, to: number): number {
    return this.#offsets[to] - this.#offsets[from];
  }

  /**
   * The bytes of frames `from` to `to` (excluded; the end if undefined) as one array, which the
   * caller must not change: one frame is itself, a range to the end is joined once and shared.
   * Seals the run.
   */
  bytes(from: number, to: number | undefined): Uint8Array {
    const end = to ?? this.frames.length;
    this.#sealed = true;
    if (end - from === 1) return this.frames[from];
    if (end < this.frames.length) return join(this.frames, from, end, this.byteLength(from, end));
    const joined = this.#joined ??= new Map();
    let bytes = joined.get(from);
    if (bytes === undefined) joined.set(from, bytes = join(this.frames, from, end, this.byteLength(from, end)));
    return bytes;
  }
}

/**
 * @internal One holder's piece of a run: the frames from `from`, to the run's end unless the
 * holder wrote something else after it, which cuts the piece there (`cut()`).
 */
export class _RunPiece {
  readonly run: _FrameRun;
  readonly holder: _RunHolder;
  readonly from: number;
  #to: number | undefined;

  constructor(run: _FrameRun, holder: _RunHolder, from: number) {
    this.run = run;
    this.holder = holder;
    this.from = from;
  }

  /** The piece's bytes so far. */
  get byteLength(): number {
    return this.run.byteLength(this.from, this.#to ?? this.run.length);
  }

  /** Ends the piece at the run's current end, and lists its holder as detached while the run is open. */
  cut(): void {
    if (this.#to !== undefined) return;
    this.#to = this.run.length;
    if (!this.run.sealed) this.run.detached.push(this.holder);
  }

  /** The bytes to write, which the caller must not change. */
  take(): Uint8Array {
    return this.run.bytes(this.from, this.#to);
  }
}

function join(frames: Uint8Array[], from: number, to: number, size: number): Uint8Array {
  return _copyInto(frames.slice(from, to), new Uint8Array(size));
}
