/**
 * Grouping of request resources for the per-endpoint table: identifiers inside a path or key
 * (numbers, long hex strings, UUIDs) become `?`, so `/items/7` and `/items/8` are one row, as are
 * `user:1` and `user:2`. SQL arrives already normalized by its parser. The slowest-requests list
 * keeps the exact resource.
 */

const SEPARATORS = /([/:.,;=&|#@ -])/;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8,})$/i;

export function resourceGroup(protocol: string, resource: string): string {
  if (protocol === 'postgres' || protocol === 'mysql' || resource === '') return resource;
  // Cheap exit for the common case of a resource with no digit at all.
  if (!/\d/.test(resource)) return resource;
  return resource.replace(UUID, '?').split(SEPARATORS).map((seg) => (ID_SEGMENT.test(seg) ? '?' : seg)).join('');
}
