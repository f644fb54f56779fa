/**
 * The floor of tracing: a BPF object with every kcap program, under the same name and program type
 * and attached to the same tracepoints, each returning at once. Recording with it (KCAP_BPF_OBJECT)
 * costs what the kernel charges for the attachments themselves (tracepoint dispatch, program entry)
 * plus an idle recorder: the part of the overhead no change to the programs or the recorder can
 * remove. The program list comes from the attach plan, so it follows the real object.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachPlan } from '../../src/record/bpf/attach.js';
import { PACKAGE_ROOT } from '../../src/record/bpf/native.js';

/** Every program any kernel's plan may use: enter programs exist per argument count. */
function allPrograms(): Map<string, boolean> {
  const programs = new Map<string, boolean>(); // name → raw tracepoint
  for (let args = 1; args <= 6; args++) {
    for (const a of attachPlan(() => args).plan) programs.set(a.program, a.raw);
  }
  return programs;
}

function floorSource(): string {
  const lines = ['#include "kcap_common.h"', 'char LICENSE[] SEC("license") = "GPL";'];
  for (const [name, raw] of allPrograms()) {
    const [section, ctx] = raw ? ['raw_tracepoint', 'struct bpf_raw_tracepoint_args'] : ['tracepoint', 'void'];
    lines.push(`SEC("${section}/${name}") int ${name}(${ctx} *ctx) { return 0; }`);
  }
  return `${lines.join('\n')}\n`;
}

/** Builds the floor object into dir (needs clang-14, as scripts/build-bpf.sh does); its path. */
export function buildFloorObject(dir: string): string {
  const src = join(dir, 'floor.bpf.c');
  const out = join(dir, 'floor.bpf.o');
  writeFileSync(src, floorSource());
  execFileSync('bash', ['scripts/build-bpf.sh', '--source', src, out], { cwd: PACKAGE_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}
