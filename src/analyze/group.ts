/**
 * Grouping of request resources for the per-endpoint table: identifiers inside a path or key
 * become `?`, so `/items/7` and `/items/8` are one row, as are `user:1` and `user:2`, and a
 * cache benchmark's random keys are one row instead of hundreds. An identifier is a segment
 * between separators that is a number, a hex string of 8+ digits, a UUID, or a random token
 * (see isToken). SQL arrives already normalized by its parser. The slowest-requests list keeps
 * the exact resource.
 */

const SEPARATORS = /([/:.,;=&|#@ -])/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8,})$/i;
/** Base64/base62 alphabet ('-' and '/' are separators), at least 12 characters. */
const TOKEN_SEGMENT = /^[A-Za-z0-9+_]{12,}$/;
/** Mean length of lowercase runs below which a segment is random: 2.8 at most in the memcached
 * sample's 189 keys, 3.5 and more in identifiers. */
const WORD_RUN = 3;

/**
 * Whether a segment looks random rather than named. Named things (`getUserProfileById`,
 * `pgbench_accounts`, `HTTPServerConfig`) have lowercase runs of a word's length; in random
 * base62/base64 (`fxAGCL6ebSOY07PftelN`) capitals and digits cut the lowercase into runs of one
 * or two letters. Without lowercase, a token mixes capitals and digits back and forth.
 */
export function isToken(seg: string): boolean {
  if (!TOKEN_SEGMENT.test(seg)) return false;
  const lower = seg.match(/[a-z]+/g) ?? [];
  if (lower.length >= 2) return /[A-Z\d]/.test(seg) && lower.join('').length / lower.length < WORD_RUN;
  return (seg.match(/[A-Z]+/g)?.length ?? 0) >= 3 && (seg.match(/\d+/g)?.length ?? 0) >= 2;
}

export function resourceGroup(protocol: string, resource: string): string {
  if (protocol === 'postgres' || protocol === 'mysql' || resource === '') return resource;
  // Cheap exit for the common case: no digit and no capital, so nothing to fold.
  if (!/[\dA-Z]/.test(resource)) return resource;
  return resource.replace(UUID, '?').split(SEPARATORS).map((seg) => (ID_SEGMENT.test(seg) || isToken(seg) ? '?' : seg)).join('');
}
