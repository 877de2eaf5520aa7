// What grew between two V8 heap snapshots, grouped by constructor (or closure, or system type):
// count and self size per group, divided by a connection count when given. For the snapshots
// `npm run bench:memory -- --heap-snapshots DIR` writes.
//
//   node scripts/heap_diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--per 2000] [--top 40] [--shapes]
//
// --shapes splits plain objects, contexts, closures and hidden/system nodes by what they hold
// (their property, variable or first few edge names), to tell apart, say, the state objects of
// different streams.
import { readFileSync } from "node:fs";
import process from "node:process";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const [beforePath, afterPath] = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
if (!beforePath || !afterPath) throw new Error("usage: node scripts/heap_diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--per N] [--top N]");
const per = option("--per", 1);
const top = option("--top", 40);
const shapes = args.includes("--shapes");

// Count and self size per "type name" group.
function groups(path) {
  const snapshot = JSON.parse(readFileSync(path, "utf8"));
  const { node_fields: fields, node_types: [types], edge_fields: edgeFields, edge_types: [edgeTypes] } = snapshot.snapshot.meta;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ["type", "name", "self_size", "edge_count"].map((f) => fields.indexOf(f));
  const edgeWidth = edgeFields.length;
  const [edgeTypeAt, edgeNameAt] = ["type", "name_or_index"].map((f) => edgeFields.indexOf(f));
  const { nodes, edges, strings } = snapshot;
  const out = new Map();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const edgeCount = nodes[i + edgeCountAt];
    const firstEdge = edge;
    edge += edgeCount * edgeWidth;
    const type = types[nodes[i + typeAt]];
    let name = strings[nodes[i + nameAt]];
    // Strings, numbers and code are grouped by type only; their names are their contents.
    if (type === "string" || type === "concatenated string" || type === "sliced string" || type === "number" || type === "code" || type === "hidden") name = "";
    if (type === "array") name = name.startsWith("(") ? name : "";
    if (name.length > 60) name = `${name.slice(0, 57)}...`;
    let key = `${type} ${name}`;
    if (shapes && (name === "Object" || name === "system / Context" || type === "closure" || type === "hidden" || name === "(object properties)")) {
      const names = [];
      for (let e = firstEdge; e < firstEdge + edgeCount * edgeWidth && names.length < 8; e += edgeWidth) {
        const t = edgeTypes[edges[e + edgeTypeAt]];
        if (t === "context" || t === "property" || t === "internal" || t === "shortcut") names.push(strings[edges[e + edgeNameAt]]);
        else if (t === "element" || t === "hidden") names.push(`[${edges[e + edgeNameAt]}]`);
      }
      key += ` {${names.filter((n) => n !== "map" && n !== "__proto__").join(",")}}`;
    }
    const group = out.get(key) ?? { count: 0, size: 0 };
    group.count++;
    group.size += nodes[i + sizeAt];
    out.set(key, group);
  }
  return out;
}

const before = groups(beforePath);
const after = groups(afterPath);
const rows = [];
let total = 0;
for (const [key, a] of after) {
  const b = before.get(key) ?? { count: 0, size: 0 };
  const size = (a.size - b.size) / per;
  const count = (a.count - b.count) / per;
  total += size;
  if (Math.abs(size) >= 1 || Math.abs(count) >= 0.5) rows.push({ key, count, size });
}
for (const [key, b] of before) if (!after.has(key)) total -= b.size / per;
rows.sort((x, y) => y.size - x.size);
console.log(`self size${per > 1 ? ` per connection (/${per})` : ""}: total ${total.toFixed(0)} bytes`);
console.log("   bytes   count  type name");
for (const r of rows.slice(0, top)) console.log(`${r.size.toFixed(0).padStart(8)}  ${r.count.toFixed(2).padStart(6)}  ${r.key}`);
