/**
 * Host-wide tables: users and groups (/etc/passwd, /etc/group), network interfaces per network
 * namespace, and machine info. Report code keys on these (a uid shown as its name, an address
 * shown with its interface), so they are read the same way whether or not anything is traced.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, hostname, machine, release, totalmem, version } from 'node:os';
import type { GroupRow, InterfaceRow, MachineInfo, UserRow } from '../../capture/tables.js';

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** Colon-separated database lines (passwd, group), comments and blanks skipped. */
function colonRows(text: string): string[][] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
}

/** /etc/passwd rows: `name:x:uid:gid:gecos:home:shell`, sorted by uid then name. */
export function parsePasswd(text: string): UserRow[] {
  return colonRows(text)
    .filter((r) => r.length >= 7 && /^\d+$/.test(r[2]!))
    .map((r) => ({ uid: Number(r[2]), name: r[0]!, home: r[5]!, shell: r[6]! }))
    .sort((a, b) => a.uid - b.uid || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** /etc/group rows: `name:x:gid:members`, sorted by gid then name. */
export function parseGroup(text: string): GroupRow[] {
  return colonRows(text)
    .filter((r) => r.length >= 3 && /^\d+$/.test(r[2]!))
    .map((r) => ({ gid: Number(r[2]), name: r[0]! }))
    .sort((a, b) => a.gid - b.gid || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function readUsers(root = '/etc'): { users: UserRow[]; groups: GroupRow[] } {
  return { users: parsePasswd(readOr(`${root}/passwd`, '')), groups: parseGroup(readOr(`${root}/group`, '')) };
}

/** The fields of `ip -j address show` we use. */
interface IpLink {
  ifindex?: number;
  ifname?: string;
  addr_info?: { local?: string; prefixlen?: number }[];
}

/** Rows from `ip -j address show` output, tagged with the namespace it ran in. */
export function parseIpJson(text: string, netNs: number): InterfaceRow[] {
  let links: unknown;
  try {
    links = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(links)) return [];
  return (links as IpLink[])
    .filter((l) => typeof l.ifname === 'string' && typeof l.ifindex === 'number')
    .map((l) => ({
      name: l.ifname!,
      index: l.ifindex!,
      addrs: (l.addr_info ?? []).filter((a) => a.local !== undefined).map((a) => `${a.local}/${a.prefixlen ?? ''}`),
      netNs,
    }));
}

/**
 * Interfaces of the network namespace `pid` lives in (`self` for ours), through iproute2 since
 * IPv4 addresses are only available over netlink; [] when `ip`/`nsenter` fail.
 */
export function readInterfaces(pid: number | 'self', netNs: number): InterfaceRow[] {
  const [cmd, args] = pid === 'self'
    ? ['ip', ['-j', 'address', 'show']]
    : ['nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', 'address', 'show']];
  try {
    return parseIpJson(execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }), netNs);
  } catch {
    return [];
  }
}

/** PRETTY_NAME of /etc/os-release, '' when absent. */
export function parseOsRelease(text: string): string {
  const m = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
  return m ? m[1] ?? m[2] ?? '' : '';
}

export function readMachineInfo(): MachineInfo {
  return {
    hostname: hostname(),
    kernelRelease: release(),
    kernelVersion: version(),
    // uname -m (x86_64, aarch64), not Node's own arch names.
    arch: machine(),
    cpus: cpus().length,
    memoryBytes: totalmem(),
    bootId: readOr('/proc/sys/kernel/random/boot_id', '').trim(),
    os: parseOsRelease(readOr('/etc/os-release', '')),
  };
}
