/**
 * Typed errors of the recorder's kernel side. The addon throws plain Errors carrying errno, code
 * and the failing operation; wrapNative turns them into BpfError so callers can tell a refused
 * BPF program from a bug.
 */
export class BpfError extends Error {
  override readonly name = 'BpfError';
  constructor(
    message: string,
    /** errno name (EPERM, EINVAL, …), or EKCAPNATIVE for loader errors without errno. */
    readonly code: string,
    readonly errno: number | undefined,
    /** The operation that failed, e.g. "BPF_PROG_LOAD kcap_exit_read". */
    readonly op: string | undefined,
  ) {
    super(message);
  }
}

/** Runs fn, rethrowing addon errors as BpfError prefixed with what we were doing. */
export function wrapNative<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BpfError) throw err;
    const e = err as Error & { code?: string; errno?: number; syscall?: string };
    throw new BpfError(`${what}: ${e.message}`, e.code ?? 'EKCAPNATIVE', e.errno, e.syscall);
  }
}
