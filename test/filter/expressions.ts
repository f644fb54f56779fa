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
