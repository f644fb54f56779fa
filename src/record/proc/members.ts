/**
 * Which processes a target names: for `kcap record --container ID`, every process whose cgroups
 * name a container id starting with the given prefix (ids are usually typed shortened, as
 * `docker ps` prints them); for `-p PID`, the process and the descendants it already has (a
 * pre-forking server's workers), since the kernel only adds children forked from now on.
 */
import { containerOfCgroups } from './containers.js';
import { numericEntries, readProc } from './procfs.js';

export function pidsInContainer(idPrefix: string, procRoot = '/proc'): number[] {
  const prefix = idPrefix.toLowerCase();
  const pids: number[] = [];
  for (const pid of numericEntries(procRoot) ?? []) {
    const cgroups = readProc(`${procRoot}/${pid}/cgroup`);
    const id = cgroups === undefined ? undefined : containerOfCgroups(cgroups)?.id;
    if (id !== undefined && id.startsWith(prefix)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** A pid and all its living descendants (from /proc/PID/task/TID/children), ascending. */
export function processTree(pid: number, procRoot = '/proc'): number[] {
  const out = [pid];
  const seen = new Set(out);
  for (let i = 0; i < out.length; i++) {
    for (const tid of numericEntries(`${procRoot}/${out[i]}/task`) ?? []) {
      for (const kid of (readProc(`${procRoot}/${out[i]}/task/${tid}/children`) ?? '').split(/\s+/)) {
        const k = Number(kid);
        if (kid === '' || !Number.isInteger(k) || seen.has(k)) continue;
        seen.add(k);
        out.push(k);
      }
    }
  }
  return out.sort((a, b) => a - b);
}
