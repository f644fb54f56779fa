/**
 * `npm run bench`: runs every bench/*.bench.ts (or those whose name contains an argument) with
 * its default arguments, shows its output, and appends it to bench/results.md under a heading
 * with the date, commit, machine and command, so figures stay comparable over time.
 *
 *   npm run bench [-- name-filter...]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, readdirSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

const benchDir = import.meta.dirname;
const filters = process.argv.slice(2);
const files = readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts')).sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown';
  }
}

const heading = [
  `## ${new Date().toISOString()} — commit ${commit()}`,
  '',
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, node ${process.version}`,
  `command: npm run bench${filters.length ? ` -- ${filters.join(' ')}` : ''}`,
  '',
].join('\n');

let failed = 0;
const sections: string[] = [];
for (const f of files) {
  process.stdout.write(`== bench/${f}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(benchDir, f)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(r.stdout);
  const ok = r.status === 0;
  if (!ok) failed++;
  sections.push(`### bench/${f}${ok ? '' : ` — FAILED (exit ${r.status ?? r.signal})`}\n\n${r.stdout.trim()}\n`);
}
appendFileSync(join(benchDir, 'results.md'), `\n${heading}\n${sections.join('\n')}`);
process.stdout.write(`appended ${files.length} benchmark(s) to bench/results.md${failed ? `; ${failed} failed` : ''}\n`);
process.exitCode = failed ? 1 : 0;
