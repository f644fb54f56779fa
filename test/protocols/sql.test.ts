/** SQL normalization for grouping: literals, comments, IN lists, VALUES groups, dialects. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MYSQL, normalizeSql, POSTGRES, sqlVerb } from '../../src/protocols/index.js';

describe('normalizeSql', () => {
  const cases: [string, string, typeof POSTGRES][] = [
    ["SELECT * FROM users WHERE id = 42 AND name = 'O''Brien'", 'SELECT * FROM users WHERE id = ? AND name = ?', POSTGRES],
    ['select a,b from t where x in (1, 2,3) and y in (4)', 'select a, b from t where x in (?) and y in (?)', POSTGRES],
    ['INSERT INTO t (a, b) VALUES (1, \'x\'), (2, \'y\'), (3, \'z\')', 'INSERT INTO t (a, b) VALUES (?, ?)', POSTGRES],
    ['UPDATE a SET v = v + -17 WHERE k = -3.5e2', 'UPDATE a SET v = v + ? WHERE k = ?', POSTGRES],
    ['SELECT x - 1, f(-2) FROM t', 'SELECT x - ?, f (?) FROM t', POSTGRES],
    ['SELECT $1::int, $$a $ b$$, $tag$x$tag$, E\'\\\'\'', 'SELECT $1 :: int, ?, ?, ?', POSTGRES],
    ['SELECT "Col1" FROM "T" -- trailing\n WHERE /* c */ a=0x1F;', 'SELECT "Col1" FROM "T" WHERE a = ?', POSTGRES],
    ['SELECT "str", `col` FROM t WHERE a = \'it\\\'s\' # note', 'SELECT ?, `col` FROM t WHERE a = ?', MYSQL],
    ['  SELECT\n\t1  ', 'SELECT ?', MYSQL],
  ];
  it.each(cases)('%s', (sql, want, dialect) => {
    expect(normalizeSql(sql, dialect)).toBe(want);
  });

  it('groups statements that differ only in literals', () => {
    fc.assert(fc.property(fc.integer(), fc.string(), (n, s) => {
      const a = normalizeSql(`SELECT * FROM t WHERE id = ${n} AND s = '${s.replace(/'/g, "''")}'`, POSTGRES);
      expect(a).toBe('SELECT * FROM t WHERE id = ? AND s = ?');
    }));
  });

  it('never throws, and normalizing twice changes nothing', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.constantFrom(POSTGRES, MYSQL), (s, d) => {
      const once = normalizeSql(s, d);
      expect(once.length).toBeLessThanOrEqual(s.length + s.length);
      expect(normalizeSql(once, d)).toBe(once);
    }), { numRuns: 2000 });
  });

  it('names the statement by its first keyword', () => {
    expect(sqlVerb('  /* hint */ select 1')).toBe('SELECT');
    expect(sqlVerb('-- c\nWITH x AS (SELECT 1) SELECT * FROM x')).toBe('WITH');
    expect(sqlVerb('(SELECT 1)')).toBe('SELECT');
    expect(sqlVerb('')).toBe('');
  });
});
