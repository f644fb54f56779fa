/**
 * Probe lifecycle against the real kernel: programs are gone after close(), after the recording
 * process is killed (SIGTERM, SIGKILL), and process events of a traced command tree (fork, exec,
 * exit with its status) and the comm filter behave as documented.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadedPrograms, openProbes } from '../../src/record/bpf/index.js';
import { decodeAll, describeBpf, drainAll, spawnTraced } from '../helpers/bpf.js';

/** Ids of the kcap programs loaded now. Tests compare id sets, not counts, because earlier probes
 * may still be detaching in the background and other recorders may run on the machine. */
const kcapProgramIds = () => new Set(loadedPrograms().filter((p) => p.name.startsWith('kcap_')).map((p) => p.id));

function newIds(before: Set<number>): number[] {
  return [...kcapProgramIds()].filter((id) => !before.has(id));
}

/** Waits until none of `ids` is loaded any more (detaching finishes in the background); returns
 * those still loaded at the deadline. */
async function unloaded(ids: readonly number[], timeoutMs = 15_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = kcapProgramIds();
    const left = ids.filter((id) => now.has(id));
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const RECORDER_SCRIPT = `
import { openProbes } from ${JSON.stringify(new URL('../../src/record/bpf/index.ts', import.meta.url).pathname)};
const p = openProbes({ pids: [] });
process.stdout.write('ready ' + p.stats().attached + '\\n');
setInterval(() => p.drain(), 5);
`;

describeBpf('BPF probes: lifecycle and process events', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kcap-life-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('close() detaches and unloads every program', async () => {
    const before = kcapProgramIds();
    const p = openProbes({ pids: [] });
    expect(p.stats().attached).toBeGreaterThan(50);
    const ours = newIds(before);
    expect(ours.length).toBeGreaterThan(30);
    p.close();
    expect(p.drain()).toBeNull();
    expect(await unloaded(ours)).toEqual([]);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`a recorder killed by ${signal} leaves no program behind`, async () => {
      const before = kcapProgramIds();
      let ours: number[] = [];
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RECORDER_SCRIPT], {
        stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd(),
      });
      const exited = new Promise((r) => child.once('exit', r));
      try {
        const line = await new Promise<string>((resolve, reject) => {
          child.stdout!.once('data', (d: Buffer) => resolve(d.toString()));
          child.once('exit', (code) => reject(new Error(`recorder exited early (${code})`)));
        });
        expect(line).toMatch(/^ready \d+/);
        ours = newIds(before);
        expect(ours.length).toBeGreaterThan(30);
      } finally {
        child.kill(signal);
        await exited;
      }
      expect(await unloaded(ours)).toEqual([]);
    });
  }

  it('records fork, exec and exit (with status) of a traced command tree', async () => {
    const probes = openProbes({ pids: [] });
    const chunks: Buffer[] = [];
    try {
      const t = spawnTraced(`sh -c 'sh -c "exit 3"; true'`, probes);
      expect(await t.exited).toBe(0);
      await drainAll(probes, chunks);
    } finally {
      probes.close();
    }
    const recs = decodeAll(chunks);
    const execs = recs.filter((r) => r.name === 'exec');
    const forks = recs.filter((r) => r.name === 'fork');
    const exits = recs.filter((r) => r.name === 'exit' && r.fields.group_dead === 1);
    // The gate shell execs the outer sh, which forks the inner sh, which exits 3.
    expect(execs.some((r) => String(r.vars.filename).endsWith('sh') && Buffer.from(r.vars.args as Uint8Array).toString().includes('exit 3'))).toBe(true);
    expect(forks.length).toBeGreaterThanOrEqual(1);
    const inner = forks.map((f) => f.fields.child_pid as number).find((pid) => exits.some((e) => e.pid === pid && e.fields.exit_code === 3 << 8));
    expect(inner, 'a forked child that exited with status 3').toBeDefined();
    expect(exits.some((e) => e.fields.exit_code === 0)).toBe(true);
    // Everything recorded but TCP events is the tree's (those run in whichever task the kernel
    // interrupted, so their pid says nothing; test/e2e/tcp.test.ts checks they follow the sockets).
    const tree = new Set([...forks.map((f) => f.fields.child_pid as number), ...forks.map((f) => f.pid)]);
    expect(recs.filter((r) => r.event.category !== 'tcp').every((r) => tree.has(r.pid))).toBe(true);
  });

  it('the comm filter records only processes with that comm', async () => {
    const exe = join(dir, 'kcapcat');
    copyFileSync('/usr/bin/cat', exe);
    const probes = openProbes({ comm: 'kcapcat' });
    const chunks: Buffer[] = [];
    let out = '';
    try {
      const t = spawnTraced(`${exe} /etc/hostname`, probes);
      expect(await t.exited).toBe(0);
      out = t.stdout();
      await drainAll(probes, chunks);
    } finally {
      probes.close();
    }
    // TCP events carry the pid of whichever task the kernel interrupted: left out of this check.
    const recs = decodeAll(chunks).filter((r) => r.event.category !== 'tcp');
    expect(recs.length).toBeGreaterThan(0);
    expect(new Set(recs.map((r) => r.pid)).size).toBe(1);
    const hostname = readFileSync('/etc/hostname', 'utf8');
    expect(out).toBe(hostname);
    const read = recs.find((r) => r.name === 'read' && Buffer.from(r.vars.data as Uint8Array).toString() === hostname);
    expect(read).toBeDefined();
    expect(read!.fields.ino).toBe(0); // a file, not a socket
    const write = recs.find((r) => r.name === 'write' && Buffer.from(r.vars.data as Uint8Array).toString() === hostname);
    expect(write).toBeDefined();
  });
});
