/**
 * Tolerant reads of /proc for a snapshot of a live system. Processes exit while they are being
 * read: a file that disappeared (ENOENT, ESRCH) is reported as `undefined` so callers skip the
 * process or fd quietly; a file we may not read (EACCES, EPERM, and any other error, since one
 * odd process must not abort a host-wide snapshot) reads as '' so its fields stay empty.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';

/** /proc prints some binary values (auxv, socket addresses) in the host's byte order. */
export const HOST_LE = endianness() === 'LE';

const VANISHED = new Set(['ENOENT', 'ESRCH']);

function tolerant<T>(read: () => T, unreadable: T): T | undefined {
  try {
    return read();
  } catch (err) {
    return VANISHED.has((err as NodeJS.ErrnoException).code ?? '') ? undefined : unreadable;
  }
}

/** File contents as latin1 (bytes preserved 1:1), undefined when gone, '' when unreadable. */
export function readProc(path: string): string | undefined {
  return tolerant(() => readFileSync(path, 'latin1'), '');
}

/** Raw bytes of a file, undefined when gone, empty when unreadable. */
export function readProcBytes(path: string): Buffer | undefined {
  return tolerant(() => readFileSync(path), Buffer.alloc(0));
}

/** Symlink target, undefined when gone, '' when unreadable. */
export function readLinkProc(path: string): string | undefined {
  return tolerant(() => readlinkSync(path), '');
}

/** Directory entries, undefined when gone, [] when unreadable. */
export function listProc(path: string): string[] | undefined {
  return tolerant(() => readdirSync(path), []);
}

/** Numeric entries of a /proc directory (pids, tids, fds), ascending. */
export function numericEntries(path: string): number[] | undefined {
  const names = listProc(path);
  if (names === undefined) return undefined;
  const out: number[] = [];
  for (const n of names) if (/^\d+$/.test(n)) out.push(Number(n));
  return out.sort((a, b) => a - b);
}

/** Inode of a namespace link target such as `net:[4026531840]`; 0 when unreadable. */
export function namespaceInode(link: string | undefined): number {
  const m = /:\[(\d+)\]$/.exec(link ?? '');
  return m ? Number(m[1]) : 0;
}

const AT_CLKTCK = 17;
/** USER_HZ on every architecture Linux runs Node on, used when auxv is unreadable. */
const DEFAULT_CLK_TCK = 100;

/**
 * Clock ticks per second for /proc times (sysconf(_SC_CLK_TCK)), read from this process's ELF
 * auxiliary vector, which Node has no API for.
 */
export function clockTicksPerSecond(): number {
  const auxv = readProcBytes('/proc/self/auxv');
  if (!auxv) return DEFAULT_CLK_TCK;
  const word = (at: number): bigint => (HOST_LE ? auxv.readBigUInt64LE(at) : auxv.readBigUInt64BE(at));
  for (let at = 0; at + 16 <= auxv.length; at += 16) {
    const type = word(at);
    if (type === 0n) break;
    if (type === BigInt(AT_CLKTCK)) return Number(word(at + 8)) || DEFAULT_CLK_TCK;
  }
  return DEFAULT_CLK_TCK;
}
