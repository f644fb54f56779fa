/**
 * SQL statement normalization for grouping (PostgreSQL and MySQL share it): literals become `?`,
 * comments go, whitespace and punctuation spacing become canonical, `IN (?, ?, …)` and repeated
 * `VALUES (…), (…)` groups collapse to one. Identifiers and keywords keep their spelling.
 * A hand-written scanner (not a parser): it never fails, it only has to be stable.
 */

export interface SqlDialect {
  /** MySQL: `\'` escapes inside strings; PostgreSQL only in E'…' strings. */
  readonly backslashEscapes: boolean;
  /** MySQL (default mode): "…" is a string; PostgreSQL: a quoted identifier. */
  readonly doubleQuoteIsString: boolean;
  /** PostgreSQL $tag$…$tag$ strings. */
  readonly dollarQuotes: boolean;
}

export const POSTGRES: SqlDialect = { backslashEscapes: false, doubleQuoteIsString: false, dollarQuotes: true };
export const MYSQL: SqlDialect = { backslashEscapes: true, doubleQuoteIsString: true, dollarQuotes: false };

const OPERATOR_CHARS = '<>=!~+-*/%^&|:@#?';
const NO_SPACE_BEFORE = new Set([',', ')', '.', ';', ']']);
const NO_SPACE_AFTER = new Set(['(', '.', '[']);

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c > '\x7f';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9') || c === '$';
}
function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}

/** Index just past a quoted run opened at `i` by `q` (doubled `q` escapes; `\` too if asked). */
function skipQuoted(s: string, i: number, q: string, backslash: boolean): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (backslash && c === '\\') j += 2;
    else if (c === q) {
      if (s[j + 1] === q) j += 2;
      else return j + 1;
    } else j++;
  }
  return s.length;
}

/** Index just past a number starting at `i` (decimal, fraction, exponent, 0x… hex). */
function skipNumber(s: string, i: number): number {
  let j = i;
  if (s[j] === '0' && (s[j + 1] === 'x' || s[j + 1] === 'X')) {
    j += 2;
    while (j < s.length && /[0-9a-fA-F]/.test(s[j] as string)) j++;
    return j;
  }
  while (j < s.length && (isDigit(s[j] as string) || s[j] === '.')) j++;
  if ((s[j] === 'e' || s[j] === 'E') && (isDigit(s[j + 1] ?? '') || ((s[j + 1] === '+' || s[j + 1] === '-') && isDigit(s[j + 2] ?? '')))) {
    j += 2;
    while (j < s.length && isDigit(s[j] as string)) j++;
  }
  return j;
}

/** `$tag$` opening at `i`, or '' if there is none. */
function dollarTag(s: string, i: number): string {
  let j = i + 1;
  while (j < s.length && s[j] !== '$' && isIdentPart(s[j] as string)) j++;
  if (s[j] !== '$') return '';
  const tag = s.slice(i, j + 1);
  return /^\$[0-9]/.test(tag) ? '' : tag;
}

/** Words after which a sign belongs to the literal that follows (`WHERE x = -1`, `VALUES (-1)`). */
const OPERAND_KEYWORDS = new Set(['SELECT', 'WHERE', 'AND', 'OR', 'NOT', 'VALUES', 'THEN', 'ELSE', 'WHEN',
  'RETURN', 'IN', 'BETWEEN', 'LIMIT', 'OFFSET', 'SET', 'IS', 'LIKE', 'BY', 'AS', 'ON', 'CASE']);

function startsNumber(s: string, i: number): boolean {
  return isDigit(s[i] ?? '') || (s[i] === '.' && isDigit(s[i + 1] ?? ''));
}

/** True when the token before a `-`/`+` leaves it unary: start, operator, `(`, `,` or a keyword. */
function takesOperand(prev: string | undefined): boolean {
  if (prev === undefined || prev === '(' || prev === ',') return true;
  if (OPERATOR_CHARS.includes(prev[0] as string)) return true;
  return OPERAND_KEYWORDS.has(prev.toUpperCase());
}

function tokens(sql: string, d: SqlDialect): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1] ?? '';
    if (isSpace(c)) { i++; continue; }
    if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (c === '#' && !d.dollarQuotes) { // MySQL line comment
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const e = sql.indexOf('*/', i + 2);
      i = e === -1 ? sql.length : e + 2;
      continue;
    }
    if (c === '\'') { out.push('?'); i = skipQuoted(sql, i, c, d.backslashEscapes); continue; }
    if (c === '"') {
      const e = skipQuoted(sql, i, c, d.backslashEscapes && d.doubleQuoteIsString);
      out.push(d.doubleQuoteIsString ? '?' : sql.slice(i, e));
      i = e;
      continue;
    }
    if (c === '`') { const e = skipQuoted(sql, i, c, false); out.push(sql.slice(i, e)); i = e; continue; }
    if (c === '$' && d.dollarQuotes) {
      const tag = dollarTag(sql, i);
      if (tag !== '') {
        const e = sql.indexOf(tag, i + tag.length);
        out.push('?');
        i = e === -1 ? sql.length : e + tag.length;
        continue;
      }
      let j = i + 1;
      while (j < sql.length && isDigit(sql[j] as string)) j++;
      out.push(sql.slice(i, j)); // $1 placeholder, or a lone $
      i = Math.max(j, i + 1);
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(next))) { out.push('?'); i = skipNumber(sql, i); continue; }
    if (isIdentStart(c)) {
      // String literal prefixes: E'…', N'…', X'…', B'…'.
      if (next === '\'' && /[eEnNxXbB]/.test(c)) {
        out.push('?');
        i = skipQuoted(sql, i + 1, '\'', d.backslashEscapes || c === 'e' || c === 'E');
        continue;
      }
      let j = i + 1;
      while (j < sql.length && isIdentPart(sql[j] as string)) j++;
      out.push(sql.slice(i, j));
      i = j;
      continue;
    }
    if (OPERATOR_CHARS.includes(c)) {
      let j = i + 1;
      while (j < sql.length && OPERATOR_CHARS.includes(sql[j] as string)
        && !(sql[j] === '-' && sql[j + 1] === '-') && !(sql[j] === '/' && sql[j + 1] === '*')) j++;
      const run = sql.slice(i, j);
      const signed = (run.endsWith('-') || run.endsWith('+')) && startsNumber(sql, j);
      if (signed && run.length > 1) out.push(run.slice(0, -1)); // `=-1`: operator, then a signed literal
      else if (!signed || !takesOperand(out[out.length - 1])) out.push(run);
      i = j;
      continue;
    }
    out.push(c);
    i++;
  }
  return out;
}

function join(toks: readonly string[]): string {
  let s = '';
  let prev = '';
  for (const t of toks) {
    if (s !== '' && !NO_SPACE_BEFORE.has(t) && !NO_SPACE_AFTER.has(prev)) s += ' ';
    s += t;
    prev = t;
  }
  return s;
}

/** The statement with literals replaced by `?`, for grouping. */
export function normalizeSql(sql: string, dialect: SqlDialect): string {
  return join(tokens(sql, dialect))
    .replace(/\b(IN) \(\?(?:, \?)+\)/gi, '$1 (?)')
    .replace(/(\((?:\?, )*\?\))(?:, \1)+/g, '$1')
    .replace(/;$/, '');
}

/** The statement's leading keyword, upper-cased (SELECT, INSERT, BEGIN, …); '' if none. */
export function sqlVerb(sql: string): string {
  const m = /^[\s(]*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)\s*)*([A-Za-z]+)/.exec(sql);
  return m?.[1]?.toUpperCase() ?? '';
}
