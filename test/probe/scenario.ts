/**
 * A generated capture of a small, realistic host session, shared by the probe, filter and print
 * tests: nginx (in the snapshot, in a container) accepts a loopback connection from curl (started
 * after the snapshot), logs to a file, forks a child that execs logger; an fd number is reused;
 * dnsmasq answers a UDP query; the kernel reports a TCP retransmit. `n` maps step names to the
 * record numbers (evt.num) they got, so tests name the events they expect instead of counting.
 */
import { CaptureBuilder, sockaddrIn, tupleFields } from '../helpers/source.js';

const enc = new TextEncoder();
export const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
export const RESPONSE = 'HTTP/1.1 200 OK\r\n\r\n';

const CLIENT = { ino: 7001, laddr: '127.0.0.1', lport: 40000, raddr: '127.0.0.1', rport: 8080 };
const SERVER = { ino: 7002, laddr: '127.0.0.1', lport: 8080, raddr: '127.0.0.1', rport: 40000 };
const MISSED = { ino: 8000, laddr: '127.0.0.1', lport: 8080, raddr: '127.0.0.1', rport: 41000 };
const DNS = { ino: 9000, laddr: '127.0.0.1', lport: 53, raddr: '0.0.0.0', rport: 0, l4proto: 17 };

export function io(fd: number, res: number, tuple?: typeof CLIENT | typeof DNS): Record<string, number | Uint8Array> {
  return { fd, res, latency: 2500, ...(tuple ? tupleFields(tuple) : {}) };
}

export function buildScenario() {
  const b = new CaptureBuilder();
  b.thread(100, 100, 'nginx', { exe: '/usr/sbin/nginx', args: ['nginx:', 'master', 'process'], uid: 33, containerId: 'c0ffee' });
  b.thread(400, 400, 'dnsmasq', { exe: '/usr/sbin/dnsmasq', args: ['dnsmasq', '-k'], uid: 0 });
  b.tables.users.push({ uid: 33, name: 'www-data', home: '/var/www', shell: '/usr/sbin/nologin' }, { uid: 0, name: 'root', home: '/root', shell: '/bin/sh' });
  b.tables.containers.push({ id: 'c0ffee', runtime: 'docker', name: 'web', image: 'nginx:1', cgroup: '/docker/c0ffee' });
  b.fd({ pid: 100, fd: 3, kind: 'file', name: '/var/log/nginx/access.log', ino: 11 });
  b.fd({ pid: 100, fd: 6, kind: 'ipv4', name: 'socket:[5000]', ino: 5000, l4proto: 'tcp', laddr: '127.0.0.1', lport: 8080, raddr: '0.0.0.0', rport: 0, state: 'LISTEN' });
  b.fd({ pid: 400, fd: 4, kind: 'ipv4', name: 'socket:[9000]', ino: 9000, l4proto: 'udp', laddr: '127.0.0.1', lport: 53, raddr: '0.0.0.0', rport: 0 });

  const curl = { pid: 200, tid: 200 };
  const nginx = { pid: 100, tid: 100 };
  const n = {
    socket: b.add('socket', { ...curl, fields: { res: 5, domain: 2, socktype: 1 } }),
    connect: b.add('connect', { ...curl, fields: io(5, 0, CLIENT), vars: { addr: sockaddrIn('127.0.0.1', 8080) } }),
    accept: b.add('accept4', { ...nginx, cpu: 1, fields: { ...io(7, 7, SERVER), listen_fd: 6 } }),
    request: b.add('write', { ...curl, fields: io(5, REQUEST.length, CLIENT), vars: { data: enc.encode(REQUEST) } }),
    requestIn: b.add('read', { ...nginx, cpu: 1, fields: io(7, REQUEST.length, SERVER), vars: { data: enc.encode(REQUEST) } }),
    log: b.add('write', { ...nginx, cpu: 1, fields: io(3, 20), vars: { data: enc.encode('127.0.0.1 GET / 200\n') } }),
    response: b.add('sendto', { ...nginx, cpu: 1, fields: io(7, RESPONSE.length, SERVER), vars: { data: enc.encode(RESPONSE) } }),
    responseIn: b.add('read', { ...curl, fields: io(5, RESPONSE.length, CLIENT), vars: { data: enc.encode(RESPONSE) } }),
    eagain: b.add('read', { ...curl, fields: io(5, -11, CLIENT) }),
    close: b.add('close', { ...curl, fields: io(5, 0, CLIENT) }),
    reopen: b.add('openat', { ...curl, fields: { res: 5, dirfd: -100, flags: 0 }, vars: { path: '/etc/hosts' } }),
    fileRead: b.add('read', { ...curl, fields: io(5, 10), vars: { data: enc.encode('127.0.0.1\n') } }),
    fork: b.add('fork', { ...nginx, cpu: 1, fields: { child_pid: 300, child_tid: 300 }, vars: { child_comm: 'nginx' } }),
    exec: b.add('exec', { pid: 300, tid: 300, fields: { old_tid: 300 }, vars: { filename: '/usr/bin/logger', comm: 'logger', args: 'logger\0-t\0web\0' } }),
    childWrite: b.add('write', { pid: 300, tid: 300, fields: io(3, 5), vars: { data: enc.encode('hello') } }),
    childExit: b.add('exit', { pid: 300, tid: 300, fields: { exit_code: 0, group_dead: 1 } }),
    missed: b.add('read', { ...nginx, cpu: 1, fields: io(9, 4, MISSED), vars: { data: enc.encode('PING') } }),
    emptyWrite: b.add('write', { ...curl, fields: io(6, 0) }),
    eof: b.add('read', { ...nginx, cpu: 1, fields: io(7, 0, SERVER) }),
    dnsQuery: b.add('recvfrom', { pid: 400, tid: 400, fields: io(4, 30, DNS), vars: { data: new Uint8Array(30).fill(0x41), addr: sockaddrIn('127.0.0.1', 5353) } }),
    retransmit: b.add('tcp_retransmit', { pid: 0, tid: 0, fields: { ...tupleFields(SERVER), state: 1 } }),
    refused: b.add('connect', { ...curl, fields: io(8, -111), vars: { addr: sockaddrIn('127.0.0.1', 9) } }),
  };
  return { builder: b, n };
}
