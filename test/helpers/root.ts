/**
 * Gate for tests that need the real machine (root, kernel BTF, cgroups, network namespaces).
 * Without what they need they skip and print why; under KCAP_REQUIRE_BPF=1 (CI on a machine that
 * must have it all) they fail instead, so a misconfigured runner cannot pass by skipping.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe } from 'vitest';

export const requireBpf = process.env.KCAP_REQUIRE_BPF === '1';

/** Why root-only tests cannot run here, or undefined when they can. */
export function missingRoot(): string | undefined {
  return process.getuid?.() === 0 ? undefined : 'not running as root';
}

/** Why tests needing `path` cannot run here, or undefined when it exists. */
export function missingPath(path: string): string | undefined {
  return existsSync(path) ? undefined : `${path} does not exist`;
}

/**
 * `describe`, unless something is missing: then a skipped suite (with the reason printed) or,
 * under KCAP_REQUIRE_BPF=1, a suite whose every test fails with the reason.
 */
export function describeWhen(missing: string | undefined, name: string, body: () => void): void {
  if (missing !== undefined && !requireBpf) {
    console.warn(`skipping '${name}': ${missing}`);
    describe.skip(name, body);
    return;
  }
  describe(name, () => {
    if (missing !== undefined) {
      beforeAll(() => {
        throw new Error(`${name}: ${missing}, and KCAP_REQUIRE_BPF=1 forbids skipping`);
      });
    }
    body();
  });
}
