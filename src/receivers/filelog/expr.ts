// A small subset of the expression language the Collector's stanza operators
// use in `router` routes and `if`. It is compiled once into a closure tree;
// evaluating it allocates nothing for the common comparisons.
//
//   literals     "text" 'text' 42 1.5 true false nil
//   fields       body  body.x  attributes.x  attributes["log.level"]  resource.x
//   comparisons  == != < <= > >=
//   strings      matches "regex"  contains  startsWith  endsWith
//   lists        x in ["a", "b"]
//   logic        and && or || not !  ( )
import { getField, parseField, type Entry } from './entry.js';

export type Expr = (e: Entry) => unknown;

type Tok = { k: 'str' | 'num' | 'id' | 'op' | 'field'; v: string };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\\' && j + 1 < src.length) {
          const n = src[j + 1]!;
          s += n === 'n' ? '\n' : n === 't' ? '\t' : n;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new Error(`unterminated string at ${i}`);
      out.push({ k: 'str', v: s });
      i = j + 1;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? '') && (out.length === 0 || out[out.length - 1]!.k === 'op'))) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ k: 'num', v: m[0] });
      i += m[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      out.push({ k: 'op', v: two });
      i += 2;
      continue;
    }
    if ('<>!()[],'.includes(c)) {
      out.push({ k: 'op', v: c });
      i++;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${i}`);
    const word = m[0];
    if (word === 'body' || word === 'attributes' || word === 'resource') {
      // A field runs on through .key and ["key"] parts.
      let j = i + word.length;
      for (;;) {
        if (src[j] === '.') {
          const k = /^\.[^.\s[\]()=!<>,]+/.exec(src.slice(j));
          if (!k) break;
          j += k[0].length;
        } else if (src[j] === '[' && (src[j + 1] === '"' || src[j + 1] === "'")) {
          const end = src.indexOf(src[j + 1]! + ']', j + 2);
          if (end < 0) throw new Error(`unclosed bracket at ${j}`);
          j = end + 2;
        } else break;
      }
      out.push({ k: 'field', v: src.slice(i, j) });
      i = j;
      continue;
    }
    out.push({ k: 'id', v: word });
    i += word.length;
  }
  return out;
}

function cmp(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  // A numeric string against a number compares as numbers ("500" > 499), as fields parsed from text often are.
  if (typeof a === 'string' && typeof b === 'number' && a.trim() !== '' && !Number.isNaN(Number(a))) return Number(a) - b;
  if (typeof a === 'number' && typeof b === 'string' && b.trim() !== '' && !Number.isNaN(Number(b))) return a - Number(b);
  return undefined;
}

function eq(a: unknown, b: unknown): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (a === b) return true;
  const c = cmp(a, b);
  return c === 0;
}

const truthy = (v: unknown) => v !== undefined && v !== null && v !== false;

/** Compiles an expression; throws with a readable message on a syntax error. */
export function compileExpr(src: string): Expr {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const isOp = (v: string) => {
    const t = toks[p];
    return !!t && (t.k === 'op' || t.k === 'id') && t.v === v;
  };
  const expect = (v: string) => {
    if (!isOp(v)) throw new Error(`expected ${JSON.stringify(v)}${toks[p] ? `, got ${JSON.stringify(toks[p]!.v)}` : ' at the end'}`);
    p++;
  };

  function orExpr(): Expr {
    let l = andExpr();
    while (isOp('or') || isOp('||')) {
      p++;
      const a = l;
      const b = andExpr();
      l = (e) => truthy(a(e)) || truthy(b(e));
    }
    return l;
  }
  function andExpr(): Expr {
    let l = notExpr();
    while (isOp('and') || isOp('&&')) {
      p++;
      const a = l;
      const b = notExpr();
      l = (e) => truthy(a(e)) && truthy(b(e));
    }
    return l;
  }
  function notExpr(): Expr {
    if (isOp('not') || isOp('!')) {
      p++;
      const a = notExpr();
      return (e) => !truthy(a(e));
    }
    return comparison();
  }
  function comparison(): Expr {
    const l = primary();
    const t = peek();
    if (!t) return l;
    if (t.k === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      p++;
      const r = primary();
      switch (t.v) {
        case '==':
          return (e) => eq(l(e), r(e));
        case '!=':
          return (e) => !eq(l(e), r(e));
        case '<':
          return (e) => (cmp(l(e), r(e)) ?? NaN) < 0;
        case '<=':
          return (e) => (cmp(l(e), r(e)) ?? NaN) <= 0;
        case '>':
          return (e) => (cmp(l(e), r(e)) ?? NaN) > 0;
        default:
          return (e) => (cmp(l(e), r(e)) ?? NaN) >= 0;
      }
    }
    if (t.k === 'id' && t.v === 'matches') {
      p++;
      const r = toks[p++];
      if (!r || r.k !== 'str') throw new Error('matches needs a quoted regular expression');
      const re = new RegExp(r.v);
      return (e) => {
        const v = l(e);
        return typeof v === 'string' && re.test(v);
      };
    }
    if (t.k === 'id' && (t.v === 'contains' || t.v === 'startsWith' || t.v === 'endsWith')) {
      p++;
      const r = primary();
      const m = t.v;
      return (e) => {
        const a = l(e);
        const b = r(e);
        if (typeof a !== 'string' || typeof b !== 'string') return false;
        return m === 'contains' ? a.includes(b) : m === 'startsWith' ? a.startsWith(b) : a.endsWith(b);
      };
    }
    if (t.k === 'id' && (t.v === 'in' || (t.v === 'not' && toks[p + 1]?.v === 'in'))) {
      const negate = t.v === 'not';
      p += negate ? 2 : 1;
      expect('[');
      const items: Expr[] = [];
      while (!isOp(']')) {
        items.push(primary());
        if (isOp(',')) p++;
        else if (!isOp(']')) throw new Error('expected "," or "]" in a list');
      }
      p++;
      return (e) => {
        const v = l(e);
        const hit = items.some((it) => eq(v, it(e)));
        return negate ? !hit : hit;
      };
    }
    return l;
  }
  function primary(): Expr {
    const t = toks[p++];
    if (!t) throw new Error('unexpected end of expression');
    switch (t.k) {
      case 'str': {
        const v = t.v;
        return () => v;
      }
      case 'num': {
        const v = Number(t.v);
        return () => v;
      }
      case 'field': {
        const f = parseField(t.v);
        return (e) => getField(e, f);
      }
      case 'id':
        if (t.v === 'true') return () => true;
        if (t.v === 'false') return () => false;
        if (t.v === 'nil' || t.v === 'null') return () => null;
        throw new Error(`unknown name ${JSON.stringify(t.v)} (fields start with body, attributes or resource)`);
      case 'op':
        if (t.v === '(') {
          const inner = orExpr();
          expect(')');
          return inner;
        }
        throw new Error(`unexpected ${JSON.stringify(t.v)}`);
    }
  }

  const root = orExpr();
  if (p < toks.length) throw new Error(`unexpected ${JSON.stringify(toks[p]!.v)}`);
  return root;
}

export function evalBool(x: Expr, e: Entry): boolean {
  return truthy(x(e));
}
