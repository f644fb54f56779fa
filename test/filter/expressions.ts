/** Random filter expressions for property tests: atoms combined with and, or and not. */
import fc from 'fast-check';

export function filterExpressions(atoms: readonly string[]): fc.Arbitrary<string> {
  return fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(...atoms),
      fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) and (${b})`),
      fc.tuple(tie('e'), tie('e')).map(([a, b]) => `(${a}) or (${b})`),
      tie('e').map((a) => `not (${a})`),
    ),
  })).e;
}

/** Atoms about the generated session of test/probe/scenario.ts: ports, fd kinds, processes, roles. */
export const SCENARIO_ATOMS: readonly string[] = [
  'fd.sport = 8080', 'fd.cport = 40000', 'fd.lport in (53, 9)', 'fd.rport = 41000', 'fd.sport = 53', 'fd.cport in (5353, 1)',
  'fd.type = file', 'fd.type in (ipv4, unix)', 'fd.l4proto = udp', 'fd.l4proto exists', 'evt.category = net',
  'evt.category = file', 'proc.name = nginx', 'evt.dir = in', 'evt.res > 5', 'fd.name endswith .log', 'fd.sip = 127.0.0.1',
  'fd.role = server', 'fd.origin = inferred'];
