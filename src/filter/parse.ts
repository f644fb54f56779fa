/**
 * Parser of the sysdig filter language into a small AST:
 *
 *   expr    := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | check
 *   check   := FIELD 'exists' | FIELD 'in' '(' value (',' value)* ')' | FIELD OP value
 *   OP      := = == != < <= > >= contains icontains startswith endswith
 *   value   := bare word | 'single' or "double" quoted string (backslash escapes)
 *
 * Values are typed against the field here, so `proc.pid = abc` fails at parse time. Every error
 * is a FilterError carrying the 1-based column it is about. Fields come from both tables (event
 * and L7); which kinds a command accepts, and how they combine, is split.ts's business.
 */
import { FIELDS, type FieldDef } from './fields.js';
import { L7_FIELDS } from './l7-fields.js';

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'icontains' | 'startswith' | 'endswith';
export type Literal = string | number | boolean;

/** A parsed filter over fields of kind F; `column` is where a check's field name starts. */
export type FilterNode<F extends FieldDef = FieldDef> =
  | { readonly kind: 'and' | 'or'; readonly left: FilterNode<F>; readonly right: FilterNode<F> }
  | { readonly kind: 'not'; readonly operand: FilterNode<F> }
  | { readonly kind: 'exists'; readonly field: F; readonly column: number }
  | { readonly kind: 'in'; readonly field: F; readonly column: number; readonly values: readonly Literal[] }
  | { readonly kind: 'compare'; readonly field: F; readonly column: number; readonly op: CompareOp; readonly value: Literal };

/** Every field a filter may name, event and L7 alike. */
export const FIELD_BY_NAME: ReadonlyMap<string, FieldDef> = new Map<string, FieldDef>([...FIELDS, ...L7_FIELDS].map((f) => [f.name, f]));

export class FilterError extends Error {
  override readonly name = 'FilterError';
  constructor(readonly reason: string, readonly column: number, readonly source: string) {
    super(`filter error at column ${column}: ${reason}`);
  }

  /** The filter with a caret under the column, for terminals. */
  pointer(): string {
    return `${this.source}\n${' '.repeat(Math.max(0, this.column - 1))}^`;
  }
}

interface Token {
  readonly kind: 'word' | 'string' | 'symbol' | 'end';
  readonly text: string;
  /** 1-based column of the token's first character. */
  readonly column: number;
}

const SYMBOLS = ['==', '!=', '<=', '>=', '=', '<', '>', '(', ')', ','];
const WORD_RE = /[^\s()=!<>,"']+/y;
const WORD_OPS: ReadonlySet<string> = new Set(['contains', 'icontains', 'startswith', 'endswith']);
const STRING_OPS: ReadonlySet<CompareOp> = WORD_OPS as ReadonlySet<CompareOp>;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    if (/\s/.test(src[i]!)) {
      i++;
      continue;
    }
    const sym = SYMBOLS.find((s) => src.startsWith(s, i));
    if (sym !== undefined) {
      tokens.push({ kind: 'symbol', text: sym, column: i + 1 });
      i += sym.length;
    } else if (src[i] === '"' || src[i] === "'") {
      const [text, next] = readQuoted(src, i);
      tokens.push({ kind: 'string', text, column: i + 1 });
      i = next;
    } else {
      WORD_RE.lastIndex = i;
      const m = WORD_RE.exec(src);
      if (m === null) throw new FilterError(`unexpected character '${src[i]}'`, i + 1, src);
      tokens.push({ kind: 'word', text: m[0], column: i + 1 });
      i += m[0].length;
    }
  }
  tokens.push({ kind: 'end', text: '', column: src.length + 1 });
  return tokens;
}

function readQuoted(src: string, start: number): [string, number] {
  const quote = src[start]!;
  let out = '';
  for (let i = start + 1; i < src.length; i++) {
    const c = src[i]!;
    if (c === quote) return [out, i + 1];
    if (c === '\\' && i + 1 < src.length) {
      out += src[++i];
    } else {
      out += c;
    }
  }
  throw new FilterError('unterminated string', start + 1, src);
}

class Parser {
  private pos = 0;
  constructor(private readonly src: string, private readonly tokens: Token[]) {}

  parse(): FilterNode {
    const node = this.or();
    const t = this.peek();
    if (t.kind !== 'end') this.fail(`unexpected '${t.text}'`, t);
    return node;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    return this.tokens[this.pos++]!;
  }

  private fail(reason: string, at: Token): never {
    throw new FilterError(reason, at.column, this.src);
  }

  private isWord(text: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.text === text;
  }

  private isSymbol(text: string): boolean {
    const t = this.peek();
    return t.kind === 'symbol' && t.text === text;
  }

  private expectSymbol(text: string): void {
    const t = this.next();
    if (t.kind !== 'symbol' || t.text !== text) this.fail(`expected '${text}'${t.kind === 'end' ? ' before the end' : ` but found '${t.text}'`}`, t);
  }

  private or(): FilterNode {
    let left = this.and();
    while (this.isWord('or')) {
      this.pos++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): FilterNode {
    let left = this.unary();
    while (this.isWord('and')) {
      this.pos++;
      left = { kind: 'and', left, right: this.unary() };
    }
    return left;
  }

  private unary(): FilterNode {
    if (this.isWord('not')) {
      this.pos++;
      return { kind: 'not', operand: this.unary() };
    }
    if (this.isSymbol('(')) {
      this.pos++;
      const inner = this.or();
      this.expectSymbol(')');
      return inner;
    }
    return this.check();
  }

  private check(): FilterNode {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t.kind === 'end' ? 'expected a field name before the end' : `expected a field name but found '${t.text}'`, t);
    const field = FIELD_BY_NAME.get(t.text);
    if (field === undefined) this.fail(`unknown field '${t.text}' (kcap fields lists them)`, t);
    const column = t.column;
    const op = this.next();
    if (op.kind === 'word' && op.text === 'exists') return { kind: 'exists', field, column };
    if (op.kind === 'word' && op.text === 'in') return { kind: 'in', field, column, values: this.list(field) };
    const cmp = this.compareOp(op);
    if (STRING_OPS.has(cmp) && field.type !== 'string') this.fail(`'${cmp}' needs a text field; ${field.name} is a ${field.type}`, op);
    if (field.type === 'bool' && cmp !== '=' && cmp !== '!=') this.fail(`${field.name} is a bool: only = and != apply`, op);
    return { kind: 'compare', field, column, op: cmp, value: this.value(field, cmp === '=' || cmp === '!=') };
  }

  private compareOp(t: Token): CompareOp {
    if (t.kind === 'symbol' && !['(', ')', ','].includes(t.text)) return (t.text === '==' ? '=' : t.text) as CompareOp;
    if (t.kind === 'word' && WORD_OPS.has(t.text)) return t.text as CompareOp;
    return this.fail(t.kind === 'end' ? 'expected an operator before the end' : `expected an operator but found '${t.text}'`, t);
  }

  private list(field: FieldDef): Literal[] {
    this.expectSymbol('(');
    const values = [this.value(field, true)];
    while (this.isSymbol(',')) {
      this.pos++;
      values.push(this.value(field, true));
    }
    this.expectSymbol(')');
    return values;
  }

  /** `exact`: the value is tested for equality, so a field's other name for it is translated. */
  private value(field: FieldDef, exact = false): Literal {
    const t = this.next();
    if (t.kind !== 'word' && t.kind !== 'string') this.fail(t.kind === 'end' ? 'expected a value before the end' : `expected a value but found '${t.text}'`, t);
    if (field.type === 'string') return exact ? this.canonical(field, t) : t.text;
    if (field.type === 'bool') {
      if (t.text !== 'true' && t.text !== 'false') this.fail(`${field.name} is a bool: expected true or false`, t);
      return t.text === 'true';
    }
    const n = t.text.trim() === '' ? NaN : Number(t.text);
    if (!Number.isFinite(n)) this.fail(`${field.name} is a number: '${t.text}' is not one`, t);
    return n;
  }

  private canonical(field: FieldDef, t: Token): string {
    if (field.scope !== 'l7' || field.canonical === undefined) return t.text;
    const value = field.canonical(t.text);
    if (value === undefined) this.fail(`${field.name} has no value '${t.text}' (kcap fields lists them)`, t);
    return value;
  }
}

/** Parses a filter expression; throws FilterError pointing at the offending column. */
export function parseFilter(src: string): FilterNode {
  if (src.trim() === '') throw new FilterError('empty filter', 1, src);
  return new Parser(src, tokenize(src)).parse();
}
