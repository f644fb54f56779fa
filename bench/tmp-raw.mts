import { openSync, writeSync, closeSync } from 'node:fs';
import { openCapture } from '../src/capture/reader.js';
const r = await openCapture(process.argv[2]!);
const fd = openSync(process.argv[3]!, 'w');
let n = 0;
for await (const c of r.chunks()) { writeSync(fd, c.records); n += c.records.length; }
closeSync(fd); console.log('raw bytes', n);
