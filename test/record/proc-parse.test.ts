/**
 * The pure parts of the /proc snapshot: container ids from cgroup paths of every runtime, runtime
 * metadata (in each runtime's own file layout, written to a temporary root), /proc line formats,
 * and the host databases. The live behaviour is in proc-live.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerTable, containerOfCgroups, parseContainerId } from '../../src/record/proc/containers.js';
import { classifyLink } from '../../src/record/proc/fds.js';
import { parseGroup, parseIpJson, parseOsRelease, parsePasswd } from '../../src/record/proc/host.js';
import { procAddrText } from '../../src/record/proc/sockets.js';
import { parseCmdline, parseStat, parseStatusIds } from '../../src/record/proc/threads.js';

const ID = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'f'.repeat(8);
const POD = 'pod5f0b1ad1_27f3_4c5e_9d7e_0f4b0c8e1a2b';

describe('parseContainerId', () => {
  const cases: [string, string, ReturnType<typeof parseContainerId>][] = [
    ['docker, cgroupfs driver', `12:pids:/docker/${ID}`, { id: ID, runtime: 'docker' }],
    ['docker, systemd driver', `0::/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
    ['docker inside a prefix', `0::/kcap-test/docker/${ID}`, { id: ID, runtime: 'docker' }],
    ['containerd CRI, systemd driver',
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-${POD}.slice/cri-containerd-${ID}.scope`,
      { id: ID, runtime: 'containerd' }],
    ['containerd CRI, systemd driver on v1', `4:memory:/kubepods-burstable-${POD}.slice:cri-containerd:${ID}`,
      { id: ID, runtime: 'containerd' }],
    ['kubepods, cgroupfs driver', `3:cpu,cpuacct:/kubepods/burstable/${POD}/${ID}`, { id: ID, runtime: 'containerd' }],
    ['kubepods, docker under it', `0::/kubepods.slice/kubepods-${POD}.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker' }],
    ['cri-o', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-${POD}.slice/crio-${ID}.scope`,
      { id: ID, runtime: 'cri-o' }],
    ['podman, systemd', `0::/machine.slice/libpod-${ID}.scope`, { id: ID, runtime: 'podman' }],
    ['podman, cgroup v2 nested container group', `0::/machine.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
    ['podman rootless',
      `0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, { id: ID, runtime: 'podman' }],
    ['podman, cgroupfs', `7:pids:/libpod_parent/libpod-${ID}`, { id: ID, runtime: 'podman' }],
    ['podman conmon runs on the host', `0::/machine.slice/libpod-conmon-${ID}.scope`, null],
    ['cri-o conmon runs on the host', `0::/system.slice/crio-conmon-${ID}.scope`, null],
    ['bare id under an unknown parent', `0::/lxc.payload/${ID}`, { id: ID, runtime: 'other' }],
    ['host root', '0::/', null],
    ['host service', '0::/system.slice/ssh.service', null],
    ['host user session', '0::/user.slice/user-0.slice/session-3.scope', null],
    ['id too short', `0::/docker/${ID.slice(0, 63)}`, null],
    ['uppercase is not an id', `0::/docker/${ID.toUpperCase()}`, null],
    ['32-hex sandbox names are not ids', '4:memory:/process_api/cf74e24cb3e947e3a7a31d2cad52dc25', null],
    ['bare path argument', `/docker/${ID}`, { id: ID, runtime: 'docker' }],
  ];
  it.each(cases)('%s', (_name, line, want) => {
    expect(parseContainerId(line)).toEqual(want);
  });

  it('innermost container wins when containers nest', () => {
    const inner = 'b'.repeat(64);
    expect(parseContainerId(`0::/docker/${ID}/docker/${inner}`)).toEqual({ id: inner, runtime: 'docker' });
  });
});

describe('containerOfCgroups', () => {
  it('prefers the cgroup v2 line and reports the path it used', () => {
    const other = 'c'.repeat(64);
    const text = `12:pids:/docker/${other}\n0::/system.slice/docker-${ID}.scope\n`;
    expect(containerOfCgroups(text)).toEqual({ id: ID, runtime: 'docker', cgroup: `/system.slice/docker-${ID}.scope` });
  });

  it('falls back to a v1 hierarchy on hybrid hosts', () => {
    const text = `9:name=systemd:/\n8:pids:/kcap/docker/${ID}\n0::/\n`;
    expect(containerOfCgroups(text)).toEqual({ id: ID, runtime: 'docker', cgroup: `/kcap/docker/${ID}` });
  });

  it('is null on the host', () => {
    expect(containerOfCgroups('9:name=systemd:/\n0::/\n')).toBeNull();
  });
});

describe('container metadata', () => {
  const root = mkdtempSync(join(tmpdir(), 'kcap-runtimes-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const roots = { docker: join(root, 'docker'), containersStorage: join(root, 'storage'), containerdTasks: join(root, 'tasks') };
  const write = (path: string, value: unknown): void => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  };
  const ids = { docker: 'd'.repeat(64), podman: 'e'.repeat(64), crio: 'f'.repeat(64), containerd: '1'.repeat(64), missing: '2'.repeat(64) };
  write(join(roots.docker, 'containers', ids.docker, 'config.v2.json'), { ID: ids.docker, Name: '/web', Config: { Image: 'nginx:1.25' } });
  write(join(roots.containersStorage, 'overlay-containers', 'containers.json'), [
    { id: ids.podman, names: ['db'], metadata: JSON.stringify({ 'image-name': 'docker.io/library/redis:7', name: 'db' }) },
    { id: ids.crio, names: ['k8s_app_pod_ns_uid_0'], metadata: JSON.stringify({ 'image-name': 'quay.io/app:2' }) },
  ]);
  write(join(roots.containerdTasks, 'k8s.io', ids.containerd, 'config.json'), {
    annotations: { 'io.kubernetes.cri.container-name': 'api', 'io.kubernetes.cri.image-name': 'registry/api:3' },
  });

  it('reads names and images from each runtime, and leaves them empty when absent', () => {
    const table = new ContainerTable(roots);
    table.add({ id: ids.podman, runtime: 'podman', cgroup: '/p' });
    table.add({ id: ids.docker, runtime: 'docker', cgroup: '/d' });
    table.add({ id: ids.crio, runtime: 'cri-o', cgroup: '/c' });
    table.add({ id: ids.containerd, runtime: 'containerd', cgroup: '/k' });
    table.add({ id: ids.missing, runtime: 'docker', cgroup: '/m' });
    table.add({ id: ids.docker, runtime: 'docker', cgroup: '/duplicate' });
    expect(table.list()).toEqual([
      { id: ids.containerd, runtime: 'containerd', cgroup: '/k', name: 'api', image: 'registry/api:3' },
      { id: ids.missing, runtime: 'docker', cgroup: '/m', name: '', image: '' },
      { id: ids.docker, runtime: 'docker', cgroup: '/d', name: 'web', image: 'nginx:1.25' },
      { id: ids.podman, runtime: 'podman', cgroup: '/p', name: 'db', image: 'docker.io/library/redis:7' },
      { id: ids.crio, runtime: 'cri-o', cgroup: '/c', name: 'k8s_app_pod_ns_uid_0', image: 'quay.io/app:2' },
    ]);
  });

  it('treats malformed metadata as absent', () => {
    const bad = join(root, 'bad');
    write(join(bad, 'docker', 'containers', ids.docker, 'config.v2.json'), '{"Name": ');
    write(join(bad, 'storage', 'overlay-containers', 'containers.json'), [{ id: ids.podman, names: 7, metadata: '{oops' }]);
    const table = new ContainerTable({ docker: join(bad, 'docker'), containersStorage: join(bad, 'storage'), containerdTasks: join(bad, 'none') });
    table.add({ id: ids.docker, runtime: 'docker', cgroup: '/d' });
    table.add({ id: ids.podman, runtime: 'podman', cgroup: '/p' });
    table.add({ id: ids.containerd, runtime: 'containerd', cgroup: '/k' });
    expect(table.list().map((r) => [r.name, r.image])).toEqual([['', ''], ['', ''], ['', '']]);
  });
});

describe('/proc line formats', () => {
  it('parses stat lines whose comm holds spaces and parentheses', () => {
    const tail = 'S 1 2 3 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 4242 1000 10 18446744073709551615';
    expect(parseStat(`77 (a) b (c)) ${tail}`)).toEqual({ comm: 'a) b (c)', ppid: 1, startTicks: 4242 });
    expect(parseStat(`77 (sleep) ${tail}`)).toEqual({ comm: 'sleep', ppid: 1, startTicks: 4242 });
    expect(parseStat('')).toBeUndefined();
    expect(parseStat('77 (x) S')).toBeUndefined();
  });

  it('takes effective ids from status', () => {
    expect(parseStatusIds('Name:\tx\nUid:\t1000\t33\t33\t33\nGid:\t1000\t44\t44\t44\n')).toEqual({ uid: 33, gid: 44 });
    expect(parseStatusIds('')).toEqual({ uid: -1, gid: -1 });
  });

  it('splits cmdline on NULs, keeping empty arguments', () => {
    expect(parseCmdline('sleep\x0060\x00')).toEqual(['sleep', '60']);
    expect(parseCmdline('sh\x00-c\x00\x00')).toEqual(['sh', '-c', '']);
    expect(parseCmdline('')).toEqual([]);
  });

  it('formats address columns as the kernel stored them', () => {
    // Little-endian hosts print the in-memory (network order) bytes of each word as a host u32.
    expect(procAddrText('0100007F')).toBe('127.0.0.1');
    expect(procAddrText('00000000000000000000000001000000')).toBe('::1');
    expect(procAddrText('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(procAddrText('B80D0120000000000000000001000000')).toBe('2001:db8::1');
    expect(procAddrText('zz')).toBe('');
    expect(procAddrText('0100007F00')).toBe('');
  });

  it('classifies fd link targets', () => {
    expect(classifyLink('pipe:[123]')).toEqual({ kind: 'pipe', ino: 123 });
    expect(classifyLink('anon_inode:[eventfd]')).toEqual({ kind: 'eventfd', ino: 0 });
    expect(classifyLink('anon_inode:[eventpoll]')).toEqual({ kind: 'epoll', ino: 0 });
    expect(classifyLink('anon_inode:inotify')).toEqual({ kind: 'inotify', ino: 0 });
    expect(classifyLink('anon_inode:bpf-map')).toEqual({ kind: 'bpf', ino: 0 });
    expect(classifyLink('/memfd:jit (deleted)')).toEqual({ kind: 'memfd', ino: 0 });
    expect(classifyLink('/etc/passwd')).toBeUndefined();
    expect(classifyLink('')).toEqual({ kind: 'other', ino: 0 });
  });
});

describe('host databases', () => {
  it('parses passwd and group, sorted by id', () => {
    expect(parsePasswd('# c\nwww:x:33:33:www:/var/www:/usr/sbin/nologin\nroot:x:0:0:root:/root:/bin/bash\nbroken\n')).toEqual([
      { uid: 0, name: 'root', home: '/root', shell: '/bin/bash' },
      { uid: 33, name: 'www', home: '/var/www', shell: '/usr/sbin/nologin' },
    ]);
    expect(parseGroup('adm:x:4:syslog\nroot:x:0:\nbad:x:y:\n')).toEqual([{ gid: 0, name: 'root' }, { gid: 4, name: 'adm' }]);
  });

  it('reads interfaces from ip -j output and survives garbage', () => {
    const json = JSON.stringify([
      { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }, { family: 'inet6', local: '::1', prefixlen: 128 }] },
      { ifindex: 2, ifname: 'eth0' },
      { ifname: 'noindex' },
    ]);
    expect(parseIpJson(json, 42)).toEqual([
      { name: 'lo', index: 1, addrs: ['127.0.0.1/8', '::1/128'], netNs: 42 },
      { name: 'eth0', index: 2, addrs: [], netNs: 42 },
    ]);
    expect(parseIpJson('not json', 1)).toEqual([]);
    expect(parseIpJson('{}', 1)).toEqual([]);
  });

  it('takes PRETTY_NAME from os-release', () => {
    expect(parseOsRelease('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe('Debian GNU/Linux 12 (bookworm)');
    expect(parseOsRelease('PRETTY_NAME=Plain\n')).toBe('Plain');
    expect(parseOsRelease('')).toBe('');
  });
});
