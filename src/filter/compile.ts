/**
 * Turns a parsed filter into a predicate over what its fields read — KEvents for event fields,
 * records on their connection for L7 fields: one closure per node, values converted once at
 * compile time, so evaluating it costs field getters and comparisons only. A check against a
 * field the subject does not have is false (only `exists` tells them apart), and `not` is plain
 * negation, so `not A` selects exactly what A does not.
 */
import type { KEvent } from '../probe/event.js';
import type { L7Record } from '../protocols/index.js';
import type { EventField, FieldDef, FieldValue, RecordField } from './fields.js';
import type { RecordSubject } from './l7-fields.js';
import type { CompareOp, FilterNode, Literal } from './parse.js';
import { eventFilter } from './split.js';

export type Predicate = (ev: KEvent) => boolean;
/** Selects a record seen on a connection (the analyzer's record filter). */
export type RecordPredicate = (rec: L7Record, ctx: RecordSubject['ctx']) => boolean;

/** What the fields of kind F read. */
type SubjectOf<F extends FieldDef> = Parameters<F['get']>[0];

type Test = (v: NonNullable<FieldValue>) => boolean;

function compareTest(op: CompareOp, lit: Literal): Test {
  switch (op) {
    case '=': return (v) => v === lit;
    case '!=': return (v) => v !== lit;
    case '<': return (v) => v < lit;
    case '<=': return (v) => v <= lit;
    case '>': return (v) => v > lit;
    case '>=': return (v) => v >= lit;
    case 'contains': return (v) => (v as string).includes(lit as string);
    case 'icontains': {
      const lower = (lit as string).toLowerCase();
      return (v) => (v as string).toLowerCase().includes(lower);
    }
    case 'startswith': return (v) => (v as string).startsWith(lit as string);
    case 'endswith': return (v) => (v as string).endsWith(lit as string);
  }
}

export function compileNode<F extends FieldDef>(node: FilterNode<F>): (s: SubjectOf<F>) => boolean {
  switch (node.kind) {
    case 'and': {
      const [a, b] = [compileNode(node.left), compileNode(node.right)];
      return (s) => a(s) && b(s);
    }
    case 'or': {
      const [a, b] = [compileNode(node.left), compileNode(node.right)];
      return (s) => a(s) || b(s);
    }
    case 'not': {
      const a = compileNode(node.operand);
      return (s) => !a(s);
    }
    case 'exists': {
      const get = node.field.get as (s: SubjectOf<F>) => FieldValue;
      return (s) => get(s) !== undefined;
    }
    case 'in': {
      const get = node.field.get as (s: SubjectOf<F>) => FieldValue;
      const set = new Set<FieldValue>(node.values);
      return (s) => set.has(get(s));
    }
    case 'compare': {
      const get = node.field.get as (s: SubjectOf<F>) => FieldValue;
      const test = compareTest(node.op, node.value);
      return (s) => {
        const v = get(s);
        return v !== undefined && test(v);
      };
    }
  }
}

/** Parses and compiles an event filter; throws FilterError on a syntax or type mistake, or an L7 field. */
export function compileFilter(src: string): Predicate {
  return compileNode<EventField>(eventFilter(src));
}

/** Compiles the L7 part of a filter into the analyzer's record filter. */
export function compileRecordFilter(node: FilterNode<RecordField>): RecordPredicate {
  const test = compileNode(node);
  return (rec, ctx) => test({ rec, ctx });
}
