/**
 * Which processes belong to a container, for `kcap record --container ID`: every process whose
 * cgroups name a container id starting with the given prefix (ids are usually typed shortened,
 * as `docker ps` prints them).
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
