/**
 * A memcached text-protocol client for the end-to-end test: sends each command of a fixed plan on
 * one connection, waits for its complete reply, and prints "VERB KEY REPLYWORD" per command, so the
 * test knows exactly what was sent and answered. Usage: node memcached-text.mjs PORT N
 */
import { connect } from 'node:net';

const [port, n] = process.argv.slice(2).map(Number);

/** [verb, key, wire text]; a reply ends at a line of its own kind (see isComplete). */
function plan() {
  const out = [];
  for (let i = 0; i < n; i++) out.push(['set', `e2e:${i}`, `set e2e:${i} 0 0 ${String(i).length + 2}\r\nv-${i}\r\n`]);
  for (let i = 0; i < n; i++) out.push(['get', `e2e:${i}`, `get e2e:${i}\r\n`]);
  for (let i = 0; i < n / 2; i++) out.push(['get', `e2e:missing:${i}`, `get e2e:missing:${i}\r\n`]);
  out.push(['incr', 'e2e:counter', 'incr e2e:counter 1\r\n']);
  out.push(['set', 'e2e:counter', 'set e2e:counter 0 0 1\r\n7\r\n']);
  out.push(['incr', 'e2e:counter', 'incr e2e:counter 5\r\n']);
  out.push(['delete', 'e2e:0', 'delete e2e:0\r\n']);
  out.push(['bogus', '', 'bogus command\r\n']);
  return out;
}

/** Retrieval replies end with END; every other reply is one line. */
function isComplete(verb, text) {
  return verb === 'get' ? /(^|\r\n)END\r\n$/.test(text) || text.startsWith('ERROR') : text.endsWith('\r\n');
}

const sock = connect(port, '127.0.0.1');
let buffered = '';
let waiting;
sock.on('data', (d) => { buffered += d.toString('latin1'); waiting?.(); });
sock.on('error', (e) => { console.error(e.message); process.exit(2); });
await new Promise((r) => sock.once('connect', r));
for (const [verb, key, wire] of plan()) {
  sock.write(wire);
  await new Promise((resolve) => { waiting = () => { if (isComplete(verb, buffered)) resolve(); }; waiting(); });
  console.log(`${verb} ${key} ${buffered.split(/[ \r\n]/)[0]}`);
  buffered = '';
}
sock.end();
