import { readdirSync, readFileSync } from 'node:fs';
const by = new Map();
const runs = readdirSync('prof').length;
for (const f of readdirSync('prof')) {
  const p = JSON.parse(readFileSync('prof/' + f));
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map(); for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (let i = 0; i < p.samples.length; i++) {
    let id = p.samples[i]; const seen = new Set();
    while (id !== undefined) { const n = nodes.get(id); const u = n.callFrame.url; if (u.includes('/token2/')) { const k = u.split('/').pop() + ':' + n.callFrame.lineNumber + ':' + n.callFrame.columnNumber + ' ' + n.callFrame.functionName; if (!seen.has(k)) { seen.add(k); by.set(k, (by.get(k) ?? 0) + p.timeDeltas[i] / 1000); } } id = parent.get(id); }
  }
}
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log((v / runs).toFixed(1).padStart(7), 'ms', k);
