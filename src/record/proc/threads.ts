/**
 * The thread table: one row per thread of every process in /proc, with the process-wide facts
 * (exe, args, credentials, namespaces, container) read once per process and shared by its threads.
 */
import type { ThreadRow } from '../../capture/tables.js';
import { containerOfCgroups, type ContainerMatch } from './containers.js';
import { namespaceInode, numericEntries, readLinkProc, readProc } from './procfs.js';

/** The fields of /proc/PID/stat a snapshot needs. */
export interface StatFields {
  readonly comm: string;
  readonly ppid: number;
  /** Field 22: start time in clock ticks since boot. */
  readonly startTicks: number;
}

/**
 * Parses /proc/PID/stat. comm sits in parentheses and may itself contain spaces and ')', so the
 * fields after it are found from the last ')'. Undefined when the text is not a stat line.
 */
export function parseStat(text: string): StatFields | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  // After ')': field 3 (state) is index 0, so field N is index N - 3.
  const rest = text.slice(close + 2).split(' ');
  const ppid = Number(rest[4 - 3]);
  const startTicks = Number(rest[22 - 3]);
  if (!Number.isInteger(ppid) || !Number.isInteger(startTicks)) return undefined;
  return { comm: text.slice(open + 1, close), ppid, startTicks };
}

/** Effective uid and gid (the second column of Uid:/Gid: in /proc/PID/status), -1 when absent. */
export function parseStatusIds(text: string): { uid: number; gid: number } {
  const effective = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+\\d+\\s+(\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : -1;
  };
  return { uid: effective('Uid'), gid: effective('Gid') };
}

/** argv from /proc/PID/cmdline (NUL-separated, NUL-terminated). */
export function parseCmdline(text: string): string[] {
  if (text === '') return [];
  const args = text.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/** What one process contributed to the snapshot. */
export interface ProcessSnapshot {
  readonly pid: number;
  readonly threads: ThreadRow[];
  readonly netNs: number;
  readonly container: ContainerMatch | null;
}

/** Converts /proc clock ticks since boot to CLOCK_BOOTTIME ns. */
export type TicksToNs = (ticks: number) => number;

/** Reads one process and its threads; undefined when it exited before we could read it. */
export function readProcess(pid: number, ticksToNs: TicksToNs): ProcessSnapshot | undefined {
  const dir = `/proc/${pid}`;
  const status = readProc(`${dir}/status`);
  const cmdline = readProc(`${dir}/cmdline`);
  const cgroups = readProc(`${dir}/cgroup`);
  const tids = numericEntries(`${dir}/task`);
  if (status === undefined || cmdline === undefined || cgroups === undefined || tids === undefined) return undefined;
  const container = containerOfCgroups(cgroups);
  const shared = {
    pid,
    exe: readLinkProc(`${dir}/exe`) ?? '',
    args: parseCmdline(cmdline),
    ...parseStatusIds(status),
    pidNs: namespaceInode(readLinkProc(`${dir}/ns/pid`)),
    netNs: namespaceInode(readLinkProc(`${dir}/ns/net`)),
    containerId: container?.id ?? '',
    cwd: readLinkProc(`${dir}/cwd`) ?? '',
  };
  const threads: ThreadRow[] = [];
  for (const tid of tids) {
    const stat = parseStat(readProc(`${dir}/task/${tid}/stat`) ?? '');
    // A thread that exited between listing and reading is simply not there.
    if (stat) threads.push({ ...shared, tid, comm: stat.comm, ppid: stat.ppid, startNs: ticksToNs(stat.startTicks) });
  }
  if (threads.length === 0) return undefined;
  return { pid, threads, netNs: shared.netNs, container };
}
