/**
 * Turns a parsed filter into a predicate over KEvents: one closure per node, values converted
 * once at compile time, so evaluating it per event costs field getters and comparisons only.
 * A check against a field the event does not have is false (only `exists` tells them apart),
 * and `not` is plain negation, so `not A` selects exactly what A does not.
 */
import type { KEvent } from '../probe/event.js';
import type { FieldValue } from './fields.js';
import { parseFilter, type CompareOp, type FilterNode, type Literal } from './parse.js';

export type Predicate = (ev: KEvent) => boolean;

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

export function compileNode(node: FilterNode): Predicate {
  switch (node.kind) {
    case 'and': {
      const [a, b] = [compileNode(node.left), compileNode(node.right)];
      return (ev) => a(ev) && b(ev);
    }
    case 'or': {
      const [a, b] = [compileNode(node.left), compileNode(node.right)];
      return (ev) => a(ev) || b(ev);
    }
    case 'not': {
      const a = compileNode(node.operand);
      return (ev) => !a(ev);
    }
    case 'exists': {
      const get = node.field.get;
      return (ev) => get(ev) !== undefined;
    }
    case 'in': {
      const get = node.field.get;
      const set = new Set<FieldValue>(node.values);
      return (ev) => set.has(get(ev));
    }
    case 'compare': {
      const get = node.field.get;
      const test = compareTest(node.op, node.value);
      return (ev) => {
        const v = get(ev);
        return v !== undefined && test(v);
      };
    }
  }
}

/** Parses and compiles a filter expression; throws FilterError on a syntax or type mistake. */
export function compileFilter(src: string): Predicate {
  return compileNode(parseFilter(src));
}
