/**
 * Which part of a filter selects events and which selects requests. The event part runs during
 * replay, before any request exists; the L7 part runs on each record the analyzer makes of the
 * events kept. So a filter naming one kind of field is that kind's filter, and `A and B` splits
 * into its kinds (an event is kept when the event part holds, a request when the L7 part does).
 * Any other mix — `evt.type = read or http.status = 500`, `not (…)` over both — would ask one
 * thing to have both kinds of field, which nothing has, and is refused with the reason.
 */
import type { EventField, FieldDef, RecordField } from './fields.js';
import { FilterError, parseFilter, type FilterNode } from './parse.js';

export interface SplitFilter {
  /** Selects events (replay's filter); undefined: every event. */
  readonly events?: FilterNode<EventField>;
  /** Selects L7 records (the analyzer's record filter); undefined: every record. */
  readonly records?: FilterNode<RecordField>;
}

type Check = Extract<FilterNode, { readonly field: FieldDef }>;

/** The checks of a filter, left to right. */
function* checks(node: FilterNode): Generator<Check> {
  switch (node.kind) {
    case 'and':
    case 'or':
      yield* checks(node.left);
      yield* checks(node.right);
      return;
    case 'not':
      yield* checks(node.operand);
      return;
    default:
      yield node;
  }
}

/** The first check of each kind, in filter order. */
function firstOfEach(node: FilterNode): { event?: Check; l7?: Check } {
  const found: { event?: Check; l7?: Check } = {};
  for (const c of checks(node)) found[c.field.scope] ??= c;
  return found;
}

function both<F extends FieldDef>(a: FilterNode<F> | undefined, b: FilterNode<F> | undefined): FilterNode<F> | undefined {
  return a && b ? { kind: 'and', left: a, right: b } : a ?? b;
}

function split(node: FilterNode, src: string): SplitFilter {
  const { event, l7 } = firstOfEach(node);
  if (l7 === undefined) return { events: node as FilterNode<EventField> };
  if (event === undefined) return { records: node as FilterNode<RecordField> };
  if (node.kind !== 'and') {
    const later = event.column > l7.column ? event : l7;
    throw new FilterError(`'${l7.field.name}' (an L7 field) and '${event.field.name}' (an event field) meet under '${node.kind}': `
      + "the two kinds combine only by a top-level 'and', since events are selected before requests are made of them", later.column, src);
  }
  const left = split(node.left, src);
  const right = split(node.right, src);
  const events = both(left.events, right.events);
  const records = both(left.records, right.records);
  return { ...(events ? { events } : {}), ...(records ? { records } : {}) };
}

/** Parses a filter of event and L7 fields into its two parts; throws FilterError. */
export function splitFilter(src: string): SplitFilter {
  return split(parseFilter(src), src);
}

/** Parses a filter that may name event fields only (for commands that select events); throws FilterError. */
export function eventFilter(src: string): FilterNode<EventField> {
  const node = parseFilter(src);
  const { l7 } = firstOfEach(node);
  if (l7 !== undefined) {
    throw new FilterError(`'${l7.field.name}' is an L7 field: this command selects events (kcap analyze and kcap requests take L7 fields)`, l7.column, src);
  }
  return node as FilterNode<EventField>;
}
