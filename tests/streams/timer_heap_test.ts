// The timer heap every connection's deadlines share: items fire in deadline order, once, after
// their deadline; rescheduling and cancelling keep the heap in order; an empty heap holds no timer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type _Timed, _TimerHeap } from "../../src/streams/timer_heap.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function item(name: string, fired: string[]): _Timed & { firedAt?: number } {
  const timed: _Timed & { firedAt?: number } = {
    _timerIndex: -1,
    _timerFired() {
      timed.firedAt = performance.now();
      fired.push(name);
    },
  };
  return timed;
}

test("items fire in deadline order, once each, not before their deadline", async () => {
  const heap = new _TimerHeap();
  const fired: string[] = [];
  const start = performance.now();
  const names = ["e", "b", "d", "a", "c", "f", "h", "g"];
  const items = names.map((name) => item(name, fired));
  // Deadlines by letter: a at +10 ms, b at +20 ms, ...
  items.forEach((it, i) => heap.schedule(it, start + 10 * (names[i].charCodeAt(0) - 96)));
  assert.equal(heap.size, 8);
  await sleep(150);
  assert.deepEqual(fired, ["a", "b", "c", "d", "e", "f", "g", "h"]);
  items.forEach((it, i) => assert.ok(it.firedAt! >= start + 10 * (names[i].charCodeAt(0) - 96) - 1));
  assert.equal(heap.size, 0);
  assert.ok(items.every((it) => it._timerIndex === -1));
});

test("rescheduling moves an item both ways, cancelling removes it", async () => {
  const heap = new _TimerHeap();
  const fired: string[] = [];
  const start = performance.now();
  const [a, b, c, d] = ["a", "b", "c", "d"].map((name) => item(name, fired));
  heap.schedule(a, start + 10);
  heap.schedule(b, start + 20);
  heap.schedule(c, start + 30);
  heap.schedule(d, start + 40);
  heap.schedule(a, start + 50); // later
  heap.schedule(d, start + 5); // earlier
  heap.cancel(b);
  heap.cancel(b); // not scheduled: nothing
  assert.equal(heap.size, 3);
  await sleep(100);
  assert.deepEqual(fired, ["d", "c", "a"]);
});

test("an item scheduled from a firing item's callback fires too", async () => {
  const heap = new _TimerHeap();
  const fired: string[] = [];
  const later = item("later", fired);
  const first: _Timed = {
    _timerIndex: -1,
    _timerFired() {
      fired.push("first");
      heap.schedule(later, performance.now() + 10);
    },
  };
  heap.schedule(first, performance.now() + 5);
  await sleep(60);
  assert.deepEqual(fired, ["first", "later"]);
  assert.equal(heap.size, 0);
});
