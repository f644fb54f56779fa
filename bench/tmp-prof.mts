import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const self = new Map<number, number>();
const dt = p.timeDeltas as number[];
(p.samples as number[]).forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0)));
const by = new Map<string, number>();
let total = 0;
for (const n of p.nodes) {
  const t = self.get(n.id) ?? 0; total += t;
  const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`;
  by.set(k, (by.get(k) ?? 0) + t);
}
const rows = [...by].sort((a, b) => b[1] - a[1]).slice(0, 25);
for (const [k, t] of rows) console.log((t / 1000).toFixed(1).padStart(9), 'ms', (100 * t / total).toFixed(1).padStart(5), '%', k);
console.log('total', (total / 1000).toFixed(0), 'ms');
