/**
 * Which program attaches where. Syscalls use their own tracepoints (syscalls/sys_enter_X and
 * sys_exit_X), so untraced syscalls cost nothing, unlike raw_syscalls which fires for all of them;
 * a shared enter program stashes arguments, one exit program per event emits the record.
 * Processes and TCP use raw tracepoints, which hand the programs the kernel objects directly.
 *
 * The kernel refuses to attach a program that may read past the end of a tracepoint's record, so
 * the enter program is chosen by the syscall's argument count, read from its tracefs format.
 */
import { existsSync, readFileSync } from 'node:fs';

export interface Attachment {
  readonly program: string;
  /** "syscalls/sys_exit_read" (tracefs tracepoint) or a raw tracepoint name. */
  readonly target: string;
  readonly raw: boolean;
}

/** Schema event → syscall whose tracepoints produce it. */
const SYSCALL_EVENTS: ReadonlyArray<readonly [event: string, syscall: string]> = [
  ['read', 'read'], ['write', 'write'], ['readv', 'readv'], ['writev', 'writev'],
  ['pread64', 'pread64'], ['pwrite64', 'pwrite64'], ['sendto', 'sendto'], ['recvfrom', 'recvfrom'],
  ['sendmsg', 'sendmsg'], ['recvmsg', 'recvmsg'], ['sendmmsg', 'sendmmsg'], ['recvmmsg', 'recvmmsg'],
  ['sendfile', 'sendfile64'], ['connect', 'connect'], ['accept', 'accept'], ['accept4', 'accept4'],
  ['socket', 'socket'], ['socketpair', 'socketpair'], ['bind', 'bind'], ['listen', 'listen'],
  ['shutdown', 'shutdown'], ['close', 'close'], ['dup', 'dup'], ['dup2', 'dup2'], ['dup3', 'dup3'],
  ['fcntl', 'fcntl'], ['open', 'open'], ['openat', 'openat'], ['openat2', 'openat2'],
];

const RAW: ReadonlyArray<readonly [program: string, tracepoint: string]> = [
  ['kcap_fork', 'sched_process_fork'],
  ['kcap_exec', 'sched_process_exec'],
  ['kcap_exit', 'sched_process_exit'],
  ['kcap_tcp_retransmit', 'tcp_retransmit_skb'],
  ['kcap_tcp_send_reset', 'tcp_send_reset'],
  ['kcap_tcp_receive_reset', 'tcp_receive_reset'],
  ['kcap_tcp_probe', 'tcp_probe'],
  ['kcap_sock_set_state', 'inet_sock_set_state'],
];

/** Number of arguments of a syscall per its tracefs format (fields after __syscall_nr), or
 * undefined when this kernel has no such tracepoint. */
export function syscallArgCount(tracefs: string, syscall: string): number | undefined {
  const path = `${tracefs}/events/syscalls/sys_enter_${syscall}/format`;
  if (!existsSync(path)) return undefined;
  const fields = [...readFileSync(path, 'utf8').matchAll(/^\s*field:.*?(\w+);\s*offset:/gm)].map((m) => m[1]);
  const nr = fields.indexOf('__syscall_nr');
  return nr < 0 ? undefined : Math.min(fields.length - nr - 1, 6);
}

/** Every attachment, in attach order: process events first (so a traced command's children are
 * followed from the start), then per syscall the enter before the exit (an exit without a stashed
 * enter emits nothing). Syscalls this kernel lacks are left out and listed in `missing`. */
export function attachPlan(argCount: (syscall: string) => number | undefined): { plan: Attachment[]; missing: string[] } {
  const plan: Attachment[] = RAW.map(([program, target]) => ({ program, target, raw: true }));
  const missing: string[] = [];
  for (const [event, sc] of SYSCALL_EVENTS) {
    const n = argCount(sc);
    if (n === undefined || n < 1) {
      missing.push(`syscalls/sys_enter_${sc}`);
      continue;
    }
    const enter = sc === 'close' ? 'kcap_sys_enter_close' : `kcap_sys_enter${n}`;
    plan.push({ program: enter, target: `syscalls/sys_enter_${sc}`, raw: false });
    plan.push({ program: `kcap_exit_${event}`, target: `syscalls/sys_exit_${sc}`, raw: false });
  }
  return { plan, missing };
}
