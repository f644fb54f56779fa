/**
 * Container ids from cgroup paths, and container names/images from the runtimes' own metadata.
 *
 * Every common runtime names the cgroup of a container after its 64-hex id:
 *   docker      /docker/<id> (cgroupfs driver), docker-<id>.scope (systemd driver)
 *   containerd  cri-containerd-<id>.scope, `...:cri-containerd:<id>`, /kubepods/.../pod<uid>/<id>
 *   cri-o       crio-<id>.scope, `...:crio:<id>`
 *   podman      libpod-<id>.scope (also .../libpod-<id>.scope/container), /libpod_parent/libpod-<id>
 * The monitors the runtimes start next to a container (`libpod-conmon-<id>.scope`,
 * `crio-conmon-<id>.scope`) run on the host, outside the container's namespaces, so they are not
 * attributed to it. Names and images are best effort: '' when the metadata is absent or unreadable.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRow } from '../../capture/tables.js';

export type Runtime = 'docker' | 'containerd' | 'cri-o' | 'podman' | 'other';

export interface ContainerId {
  readonly id: string;
  readonly runtime: Runtime;
}

export interface ContainerMatch extends ContainerId {
  /** The cgroup path the id came from. */
  readonly cgroup: string;
}

const HEX64 = '([0-9a-f]{64})';
/** Patterns for one cgroup path component, tried in order. */
const COMPONENT_PATTERNS: readonly [RegExp, Runtime][] = [
  [new RegExp(`^docker-${HEX64}\\.scope$`), 'docker'],
  [new RegExp(`^cri-containerd-${HEX64}\\.scope$`), 'containerd'],
  [new RegExp(`^crio-${HEX64}\\.scope$`), 'cri-o'],
  [new RegExp(`^libpod-${HEX64}(?:\\.scope)?$`), 'podman'],
  [new RegExp(`:cri-containerd:${HEX64}$`), 'containerd'],
  [new RegExp(`:crio:${HEX64}$`), 'cri-o'],
  [new RegExp(`:docker:${HEX64}$`), 'docker'],
];
const BARE_ID = new RegExp(`^${HEX64}$`);

/** Runtime of a bare-id component, judged by the components above it. */
function bareIdRuntime(parents: readonly string[]): Runtime {
  if (parents.includes('docker')) return 'docker';
  if (parents.some((p) => p === 'kubepods' || p.startsWith('kubepods'))) return 'containerd';
  return 'other';
}

/** The path part of a /proc/PID/cgroup line (after the second ':'), or the argument if it is a path. */
function cgroupPath(line: string): string {
  if (line.startsWith('/')) return line;
  return line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
}

/**
 * Container id in one line of /proc/PID/cgroup (`hierarchy:controllers:path`) or a bare path;
 * null for host cgroups. The deepest matching component wins, so nested containers report the
 * innermost one.
 */
export function parseContainerId(cgroupLine: string): ContainerId | null {
  const parts = cgroupPath(cgroupLine).split('/').filter((p) => p !== '');
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    for (const [re, runtime] of COMPONENT_PATTERNS) {
      const m = re.exec(part);
      if (m) return { id: m[1]!, runtime };
    }
    if (BARE_ID.test(part)) return { id: part, runtime: bareIdRuntime(parts.slice(0, i)) };
  }
  return null;
}

/**
 * The container of a process from its whole /proc/PID/cgroup: the cgroup v2 line (`0::`) when it
 * names one, else the first v1 hierarchy that does (hybrid hosts place containers in both).
 */
export function containerOfCgroups(text: string): ContainerMatch | null {
  const lines = text.split('\n').filter((l) => l !== '');
  const ordered = [...lines.filter((l) => l.startsWith('0::')), ...lines.filter((l) => !l.startsWith('0::'))];
  for (const line of ordered) {
    const found = parseContainerId(line);
    if (found) return { ...found, cgroup: cgroupPath(line) };
  }
  return null;
}

/** Where the runtimes keep their metadata; overridable so tests need not write into /var/lib. */
export interface RuntimeRoots {
  /** docker: <docker>/containers/<id>/config.v2.json */
  readonly docker: string;
  /** podman and cri-o (containers/storage): <containersStorage>/overlay-containers/containers.json */
  readonly containersStorage: string;
  /** containerd: <containerdTasks>/<namespace>/<id>/config.json (the OCI spec of a running task) */
  readonly containerdTasks: string;
}

export const DEFAULT_RUNTIME_ROOTS: RuntimeRoots = {
  docker: '/var/lib/docker',
  containersStorage: '/var/lib/containers/storage',
  containerdTasks: '/run/containerd/io.containerd.runtime.v2.task',
};

interface NameImage {
  readonly name: string;
  readonly image: string;
}
const UNKNOWN: NameImage = { name: '', image: '' };
/** Runtime metadata files are small; a larger one is not what we expect and is not read. */
const MAX_METADATA_BYTES = 64 * 1024 * 1024;

function readJson(path: string): unknown {
  try {
    const text = readFileSync(path, 'utf8');
    return text.length > MAX_METADATA_BYTES ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? v as Record<string, unknown> : {});

function dockerMetadata(roots: RuntimeRoots, id: string): NameImage {
  const config = obj(readJson(join(roots.docker, 'containers', id, 'config.v2.json')));
  return { name: str(config.Name).replace(/^\//, ''), image: str(obj(config.Config).Image) };
}

/** containers/storage's containers.json: [{ id, names: [..], metadata: '{"image-name":..,"name":..}' }]. */
function storageMetadata(entries: unknown, id: string): NameImage {
  if (!Array.isArray(entries)) return UNKNOWN;
  const entry = obj(entries.find((e) => obj(e).id === id));
  let meta: Record<string, unknown> = {};
  try {
    meta = obj(JSON.parse(str(entry.metadata) || '{}'));
  } catch {
    // Malformed metadata leaves name/image to the other fields.
  }
  const names = Array.isArray(entry.names) ? entry.names : [];
  return { name: str(meta.name) || str(names[0]), image: str(meta['image-name']) };
}

function containerdMetadata(roots: RuntimeRoots, id: string, namespaces: readonly string[]): NameImage {
  for (const ns of namespaces) {
    const annotations = obj(obj(readJson(join(roots.containerdTasks, ns, id, 'config.json'))).annotations);
    const name = str(annotations['io.kubernetes.cri.container-name']);
    const image = str(annotations['io.kubernetes.cri.image-name']);
    if (name || image) return { name, image };
  }
  return UNKNOWN;
}

/** Builds container rows, reading each runtime's metadata store at most once. */
export class ContainerTable {
  private readonly rows = new Map<string, ContainerRow>();
  private storageEntries: unknown;
  private containerdNamespaces: string[] | undefined;

  constructor(private readonly roots: RuntimeRoots = DEFAULT_RUNTIME_ROOTS) {}

  add(match: ContainerMatch): void {
    if (this.rows.has(match.id)) return;
    this.rows.set(match.id, { id: match.id, runtime: match.runtime, cgroup: match.cgroup, ...this.metadata(match) });
  }

  /** Rows sorted by id. */
  list(): ContainerRow[] {
    return [...this.rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private metadata(c: ContainerId): NameImage {
    switch (c.runtime) {
      case 'docker': return dockerMetadata(this.roots, c.id);
      case 'podman': case 'cri-o':
        this.storageEntries ??= readJson(join(this.roots.containersStorage, 'overlay-containers', 'containers.json'));
        return storageMetadata(this.storageEntries, c.id);
      case 'containerd':
        this.containerdNamespaces ??= listDir(this.roots.containerdTasks);
        return containerdMetadata(this.roots, c.id, this.containerdNamespaces);
      default: return UNKNOWN;
    }
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch {
    return [];
  }
}
