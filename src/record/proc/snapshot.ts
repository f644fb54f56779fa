/**
 * `snapshotTables`: the host tables `kcap record` writes at start, read from /proc.
 *
 * Threads and containers cover every process; fds (and the socket tables they are joined with,
 * and the interfaces) cover the traced processes only when a pid set is given. Socket tables are
 * per network namespace, so each is read once, through the first traced process living in it
 * that has a socket open.
 * Reads are synchronous (procfs answers from memory, and sync calls are several times cheaper
 * than a thread-pool round trip each) but the loop yields every few processes so a recorder
 * draining its ring buffer on the same event loop is not starved.
 */
import type { FdRow, InterfaceRow, Tables, ThreadRow } from '../../capture/tables.js';
import { ContainerTable, DEFAULT_RUNTIME_ROOTS, type RuntimeRoots } from './containers.js';
import { readFds, type SocketLookup } from './fds.js';
import { readInterfaces, readUsers } from './host.js';
import { clockTicksPerSecond, namespaceInode, numericEntries, readLinkProc } from './procfs.js';
import { readSocketTable, type SocketTable } from './sockets.js';
import { type ProcessSnapshot, readProcess } from './threads.js';

export interface SnapshotOptions {
  /** Processes (tgids) whose fds to read; every process when absent. */
  readonly pids?: ReadonlySet<number>;
  /** Where container runtimes keep their metadata (default: their standard paths). */
  readonly runtimeRoots?: RuntimeRoots;
}

/** Processes read between two yields to the event loop. */
const PROCESSES_PER_SLICE = 32;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function readProcesses(): Promise<ProcessSnapshot[]> {
  const nsPerTick = 1e9 / clockTicksPerSecond();
  const out: ProcessSnapshot[] = [];
  const pids = numericEntries('/proc') ?? [];
  for (let i = 0; i < pids.length; i++) {
    const p = readProcess(pids[i]!, (ticks) => ticks * nsPerTick);
    if (p) out.push(p);
    if (i % PROCESSES_PER_SLICE === PROCESSES_PER_SLICE - 1) await yieldToLoop();
  }
  return out;
}

/**
 * Socket tables by network namespace, each read the first time a process living there has a
 * socket fd (most processes have none, and a namespace we cannot identify must not cost a read
 * per process).
 */
class NamespaceSockets {
  private readonly tables = new Map<string, SocketTable>();

  /** Lookup for `p`'s sockets: its own namespace first, then every namespace read so far. */
  lookupFor(p: ProcessSnapshot): SocketLookup {
    // The inode, or the pid itself when the namespace link was unreadable.
    const key = p.netNs !== 0 ? `ns:${p.netNs}` : `pid:${p.pid}`;
    return (ino) => {
      let own = this.tables.get(key);
      if (!own) {
        own = readSocketTable(p.pid);
        if (own) this.tables.set(key, own);
      }
      const mine = own?.get(ino);
      if (mine) return mine;
      // A process may hold sockets it created before it moved to another namespace.
      for (const t of this.tables.values()) {
        const found = t.get(ino);
        if (found) return found;
      }
      return undefined;
    };
  }
}

async function readAllFds(processes: readonly ProcessSnapshot[]): Promise<FdRow[]> {
  const sockets = new NamespaceSockets();
  const fds: FdRow[] = [];
  for (let i = 0; i < processes.length; i++) {
    const p = processes[i]!;
    fds.push(...readFds(p.pid, sockets.lookupFor(p)));
    if (i % PROCESSES_PER_SLICE === PROCESSES_PER_SLICE - 1) await yieldToLoop();
  }
  return fds;
}

/** Interfaces of our own namespace and of every other one a traced process lives in. */
function readAllInterfaces(processes: readonly ProcessSnapshot[]): InterfaceRow[] {
  const ownNs = namespaceInode(readLinkProc('/proc/self/ns/net'));
  const rows = readInterfaces('self', ownNs);
  const seen = new Set([ownNs]);
  for (const p of processes) {
    if (p.netNs === 0 || seen.has(p.netNs)) continue;
    seen.add(p.netNs);
    rows.push(...readInterfaces(p.pid, p.netNs));
  }
  return rows.sort((a, b) => a.netNs - b.netNs || a.index - b.index);
}

export async function snapshotTables(options: SnapshotOptions = {}): Promise<Tables> {
  const processes = await readProcesses();
  const threads: ThreadRow[] = processes.flatMap((p) => p.threads);
  const containers = new ContainerTable(options.runtimeRoots ?? DEFAULT_RUNTIME_ROOTS);
  for (const p of processes) if (p.container) containers.add(p.container);
  const traced = options.pids ? processes.filter((p) => options.pids!.has(p.pid)) : processes;
  const fds = await readAllFds(traced);
  return {
    threads,
    fds,
    containers: containers.list(),
    ...readUsers(),
    interfaces: readAllInterfaces(traced),
  };
}
