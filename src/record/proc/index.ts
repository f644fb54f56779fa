/**
 * Host tables for `kcap record`, read from /proc at start: threads, fds with socket 4-tuples,
 * containers, users, groups, interfaces, and machine info.
 */
export { snapshotTables, type SnapshotOptions } from './snapshot.js';
export { readMachineInfo } from './host.js';
export { pidsInContainer, processTree } from './members.js';
export {
  containerOfCgroups, parseContainerId, DEFAULT_RUNTIME_ROOTS,
  type ContainerId, type ContainerMatch, type Runtime, type RuntimeRoots,
} from './containers.js';
