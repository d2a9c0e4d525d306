// Built-in secret and personal-data detectors, run as one combined scan per
// string.
//
// How a string is scanned:
// 1. Strings shorter than the shortest possible hit are skipped.
// 2. One charCodeAt loop over the string collects "features" (which trigger
//    characters occur: '@', '=', ':', '/', '-', '_', '.', quotes, 'A', 'J',
//    'b'/'B', whitespace, '\', '?&;#', and how many digits). Each pattern says
//    which features it needs and how long a hit must at least be, so a value
//    like "GET" or "checkout-7d9f8" rules most patterns out without any regex
//    work, and a value that rules out all of them is done after this loop.
// 3. The patterns still possible are joined into ONE regular expression (an
//    alternation without capture groups) that is compiled once per distinct
//    set of possible patterns and cached. It is run once over the string. At
//    a candidate hit, the set's patterns are re-run sticky at that position to
//    learn which one matched (the first that matches, as the alternation
//    chose) and where its secret part is; then the pattern's validator runs
//    (Luhn for card numbers, SSN area rules, JWT header decoding, base64
//    checks for Basic credentials and Fernet tokens, ...). A rejected
//    candidate resumes the scan one character later; an accepted one is
//    replaced. Hits are rare, so the common path never builds capture groups.
//
// Patterns are written so that they cannot backtrack catastrophically: each
// repeated group is delimited by characters the group cannot contain, and
// patterns that start on a character class (emails, card numbers, paths) only
// start at the beginning of a run (negative lookbehind).

/** Names of the built-in detectors. */
export const DETECTORS = [
  'sensitive_key',
  'aws_access_key_id',
  'aws_secret_access_key',
  'auth_header',
  'jwt',
  'private_key',
  'gcp_service_account',
  'fernet',
  'github_token',
  'gitlab_token',
  'slack_token',
  'stripe_key',
  'url_credentials',
  'url_secret_param',
  'email',
  'credit_card',
  'us_ssn',
  'file_path',
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/** The `default` set: everything except file_path, which needs `path_roots`. */
export const DEFAULT_DETECTORS: readonly DetectorName[] = DETECTORS.filter((d) => d !== 'file_path');

// ---------------------------------------------------------------- features
// A feature is a necessary condition some pattern has: a character that must
// occur, or a pair of adjacent characters (a bigram: "--" for PEM armour, "yJ"
// for a JWT's "eyJ", "cr" for "secret", ...). One table lookup per character,
// indexed by the previous and the current character, yields both kinds plus a
// digit flag, so the loop does one load and one OR per character. The same
// loop runs over a JS string or straight over the UTF-8 bytes of a protobuf
// field: every feature is ASCII, and a non-ASCII character or byte has none
// (and starts no bigram), so on bytes the features are exactly those of the
// decoded string, and the byte length is never shorter than the string's.

// Characters (bits 0..14).
const F_AT = 1 << 0;
const F_EQ = 1 << 1;
const F_COLON = 1 << 2;
const F_SLASH = 1 << 3;
const F_BSLASH = 1 << 4;
const F_UNDER = 1 << 5;
const F_DASH = 1 << 6;
const F_DOT = 1 << 7;
const F_QUOTE = 1 << 8;
const F_UA = 1 << 9; // 'A'
const F_J = 1 << 10; // 'J'
const F_B = 1 << 11; // 'b' or 'B'
const F_SPACE = 1 << 12;
/** '=' right after the last two letters of a secret-named query parameter ("...en=", "...ey=", ...). */
const B_PEQ = 1 << 13;
const F_AMP = 1 << 14; // '?', '&', ';', '#': query-string separators
// Bigrams (bits 15..30).
const B_DD = 1 << 15; // "--": PEM armour
/**
 * "IB", "Hc", "gE", "C4": base64 DER keys. Each is in one of the pattern's
 * fixed prefixes (MII..IBA, MHcC, MIGHAgEA, MC4C). The prefixes' own first
 * pairs ("MI", "MH", "MC") let every SQL statement with a LIMIT and an AND
 * through to the regex.
 */
const B_M = 1 << 16;
const B_IV = 1 << 17; // "iv": private_key
const B_CR = 1 << 18; // "cr": secret
const B_EY = 1 << 19; // "ey": key
const B_HDR = 1 << 20; // "iz", "ki": authorization, cookie
/**
 * ':' or '=' right after a name ending like the secret names of text
 * assignments ("password", "token", "api_key", ...: "...rd", "...en", "...ey"),
 * with spaces, tabs, quotes and backslashes skipped in between (`"token": `).
 * Its bigram forerunner ("pi", "ok", ...) let every URL with "api" or "token"
 * in its path through to the regex.
 */
const B_SENS = 1 << 21;
const B_AK = 1 << 22; // "AK", "AS", "AB", "AC": AWS key ids
const B_YJ = 1 << 23; // "yJ": JWT
const B_GA = 1 << 24; // "gA": Fernet
const B_GH = 1 << 25; // "gh", "ub": GitHub
const B_GL = 1 << 26; // "gl": GitLab
const B_XO = 1 << 27; // "xo", "p-", "ks": Slack tokens and hooks
const B_K_ = 1 << 28; // "k_", "c_", "k.": Stripe, Slack hooks
const B_B = 1 << 29; // "be", "ba" in their cases: Bearer, Basic
const B_CS = 1 << 30; // ":/": URL scheme
/** Digit flag: counted, not or-ed in. */
const DIGIT = 1 << 31;
/** The features that gate some pattern other than by digits alone (file_path's slashes are added when it is on). */
const GATES = F_AT | B_PEQ | B_DD | B_M | B_IV | B_CR | B_EY | B_HDR | B_SENS | B_AK | B_YJ | B_GA | B_GH | B_GL | B_XO | B_K_ | B_B | B_CS;

// Indexed ((previous & 0x7f) << 8) | current, current < 256 (a UTF-16 unit
// above 0xff is looked up as 0x80: no features). 128 KiB. Measured on the
// shared 2-core machine against a character table plus a second bigram
// table: one load per character is the faster loop.
const FEATURES = new Uint32Array(128 * 256);
/** Indexed (second-last << 7) | last letter before a '=' (both ASCII): names that end a secret parameter. */
const PARAM_END = new Uint8Array(128 * 128);
/** Same layout: the last two letters of every TEXT_KEY_NAMES name (filled where those are declared), any case. */
const SENS_END = new Uint8Array(128 * 128);
/** What may stand between a text key's name and its ':' or '=': space, tab, quotes, backslash. */
const SENS_SKIP = new Uint8Array(256);
for (const c of ' \t"\'\\') SENS_SKIP[c.charCodeAt(0)] = 1;
{
  const charBits = new Uint32Array(128);
  const set = (chars: string, f: number) => {
    for (const c of chars) charBits[c.charCodeAt(0)]! |= f;
  };
  set('@', F_AT);
  set('=', F_EQ);
  set(':', F_COLON);
  set('/', F_SLASH);
  set('\\', F_BSLASH);
  set('_', F_UNDER);
  set('-', F_DASH);
  set('.', F_DOT);
  set(`"'`, F_QUOTE);
  set('A', F_UA);
  set('J', F_J);
  set('bB', F_B);
  set(' \t\r\n', F_SPACE);
  set('?&;#', F_AMP);
  set('0123456789', DIGIT);
  for (let p = 0; p < 128; p++) for (let c = 0; c < 128; c++) FEATURES[(p << 8) | c] = charBits[c]!;
  const pair = (ab: string, f: number) => {
    FEATURES[(ab.charCodeAt(0) << 8) | ab.charCodeAt(1)]! |= f;
  };
  /** Every upper/lower-case spelling of a letter pair. */
  const anyCase = (ab: string, f: number) => {
    for (const a of new Set([ab[0]!.toLowerCase(), ab[0]!.toUpperCase()])) for (const b of new Set([ab[1]!.toLowerCase(), ab[1]!.toUpperCase()])) pair(a + b, f);
  };
  pair('--', B_DD);
  for (const ab of ['IB', 'Hc', 'gE', 'C4']) pair(ab, B_M);
  anyCase('iv', B_IV);
  anyCase('cr', B_CR);
  anyCase('ey', B_EY);
  for (const ab of ['iz', 'ki']) anyCase(ab, B_HDR);
  for (const ab of ['AK', 'AS', 'AB', 'AC']) pair(ab, B_AK);
  pair('yJ', B_YJ);
  pair('gA', B_GA);
  pair('gh', B_GH);
  pair('ub', B_GH); // github_pat_
  pair('gl', B_GL);
  // "xo" for xox*- tokens, "p-" for xapp- tokens (not "xa": every "example"
  // with a dash in it went to the regex), "ks" for hooks.slack.com.
  for (const ab of ['xo', 'p-', 'ks']) pair(ab, B_XO);
  // "k." too: with "ks" it gates the hooks.slack.com pattern.
  for (const ab of ['k_', 'c_', 'k.']) pair(ab, B_K_);
  for (const ab of ['be', 'Be', 'bE', 'BE', 'ba', 'Ba', 'bA', 'BA']) pair(ab, B_B);
  pair(':/', B_CS);
  // The last two letters of every PARAM_SUFFIX / PARAM_EXACT name (below).
  for (const ab of ['en', 'et', 'rd', 'wd', 're', 'al', 'ey', 'ig', 'er']) {
    for (const a of [ab[0]!.toLowerCase(), ab[0]!.toUpperCase()]) for (const b of [ab[1]!.toLowerCase(), ab[1]!.toUpperCase()]) PARAM_END[(a.charCodeAt(0) << 7) | b.charCodeAt(0)] = 1;
  }
}

/**
 * Features of s[0, n) and its digit count. `featureDigits` holds the count
 * after the call (one module-level slot: no result object per call).
 */
let featureDigits = 0;
function stringFeatures(s: string): number {
  let acc = 0;
  let digits = 0;
  let p = 0;
  let pp = 0;
  let l1 = 0;
  let l2 = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c > 0xff) c = 0x80;
    const t = FEATURES[(p << 8) | c]!;
    acc |= t;
    digits += t >>> 31;
    if (c === 61 || c === 58) {
      if (c === 61 && PARAM_END[(pp << 7) | p] === 1) acc |= B_PEQ;
      if (SENS_END[(l2 << 7) | l1] === 1) acc |= B_SENS;
    }
    pp = p;
    p = c < 0x80 ? c : 0;
    if (SENS_SKIP[c] === 0) {
      l2 = l1;
      l1 = p;
    }
  }
  featureDigits = digits;
  return acc;
}

/**
 * FEATURES indexed (current << 8) | previous, the previous byte as it is (one
 * above 0x7f counts as none): the index of the pair at bytes k, k + 1 is the
 * little-endian 16 bits there, so a 32-bit word gives three pairs by shifts
 * and one more with the byte before it. 256 KiB.
 */
const PAIRS = new Int32Array(256 * 256);
for (let p = 0; p < 256; p++) for (let c = 0; c < 256; c++) PAIRS[(c << 8) | p] = FEATURES[((p < 0x80 ? p : 0) << 8) | c]! | 0;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Values shorter than this are read a byte at a time. */
const WORD_MIN = 12;

// The 32-bit view of the ArrayBuffer last read (one request's bytes, mostly).
let wordsOf: ArrayBufferLike | undefined;
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

function byteFeatures(buf: Uint8Array, start: number, end: number): number {
  // Four bytes a step from an Int32Array over the same memory: one load for
  // four bytes, the four pairs cut out of it by shifts. Measured on the load
  // tool's values (50-byte URLs): stand-alone loops, 77-79 ns per value a byte
  // at a time (FEATURES, one table load per byte), 52-54 ns by words, 49-52 ns
  // for a loop doing no more than summing the bytes; candidatesBytes() over 64
  // such values, 135-142 ns per value before, 103-115 ns by words
  // (redaction.bench.ts's 51-byte URL task: 0.17 µs before, 0.12 by words).
  if (end - start < WORD_MIN || !LITTLE_ENDIAN) return byteFeaturesLoop(buf, start, end);
  const ab = buf.buffer;
  if (ab !== wordsOf) {
    wordsOf = ab;
    words = new Int32Array(ab, 0, ab.byteLength >> 2);
  }
  const w32 = words;
  const base = buf.byteOffset;
  // The bytes before the first word boundary, then words, then the bytes after the last one.
  let i = start + ((4 - ((base + start) & 3)) & 3);
  let acc = pairBytes(buf, start, start, i);
  let digits = featureDigits;
  let p = i > start ? buf[i - 1]! : 0;
  const stop = end - 3;
  for (; i < stop; i += 4) {
    const w = w32[(base + i) >> 2]!;
    const t0 = PAIRS[((w & 0xff) << 8) | p]!;
    const t1 = PAIRS[w & 0xffff]!;
    const t2 = PAIRS[(w >>> 8) & 0xffff]!;
    const t3 = PAIRS[(w >>> 16) & 0xffff]!;
    const t = t0 | t1 | t2 | t3;
    acc |= t;
    digits += (t0 >>> 31) + (t1 >>> 31) + (t2 >>> 31) + (t3 >>> 31);
    if ((t & (F_EQ | F_COLON)) !== 0) acc |= wordSeparators(buf, start, i);
    p = w >>> 24;
  }
  acc |= pairBytes(buf, start, i, end);
  featureDigits += digits;
  return acc;
}

/** Features of the bytes buf[from, to) of a string starting at `start`, one PAIRS load each; the digit count in `featureDigits`. */
function pairBytes(buf: Uint8Array, start: number, from: number, to: number): number {
  let acc = 0;
  let digits = 0;
  let p = from > start ? buf[from - 1]! : 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    const t = PAIRS[(c << 8) | p]!;
    acc |= t;
    digits += t >>> 31;
    if (c === 61 || c === 58) acc |= separatorContext(buf, start, i, c, p & ((p >> 7) - 1));
    p = c;
  }
  featureDigits = digits;
  return acc;
}

/** separatorContext() for each '=' or ':' among buf[i, i + 4) (a word of a string starting at `start`). */
function wordSeparators(buf: Uint8Array, start: number, i: number): number {
  let acc = 0;
  for (let k = i; k < i + 4; k++) {
    const c = buf[k]!;
    if (c !== 61 && c !== 58) continue;
    const p = k > start ? buf[k - 1]! : 0;
    acc |= separatorContext(buf, start, k, c, p & ((p >> 7) - 1));
  }
  return acc;
}

/** byteFeatures() a byte at a time (short values; the reference the word loop is tested against). */
function byteFeaturesLoop(buf: Uint8Array, start: number, end: number): number {
  // One loop of table loads; the context of a '=' or ':' (the two bytes
  // before it, and the last two that are not quotes or blanks) is read back
  // from the buffer where one occurs, not carried through every byte.
  // Measured (candidatesBytes over the load tool's 20 values per span, best
  // of 30 loops, four alternating runs of each build): 2.21-2.27 µs per span
  // carrying the context through every byte, 1.84-2.10 µs reading it back.
  // Earlier (51-byte values): one loop beat a loop of table loads followed by
  // an indexOf pass over the ':' and '=' (0.13 against 0.18 µs on a URL).
  let acc = 0;
  let digits = 0;
  let p = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    const t = FEATURES[(p << 8) | c]!;
    acc |= t;
    digits += t >>> 31;
    if (c === 61 || c === 58) acc |= separatorContext(buf, start, i, c, p);
    p = c & ((c >> 7) - 1); // c below 0x80, else 0
  }
  featureDigits = digits;
  return acc;
}

/** The features and digit count of buf[start, end): by words (byteFeatures) or a byte at a time (tests). */
export function byteFeaturesOf(buf: Uint8Array, start: number, end: number, byWords = true): [number, number] {
  const f = byWords ? byteFeatures(buf, start, end) : byteFeaturesLoop(buf, start, end);
  return [f, featureDigits];
}

/** B_PEQ and B_SENS for the '=' or ':' at buf[i] (`p`: the byte before it, 0 when none or not ASCII). */
function separatorContext(buf: Uint8Array, start: number, i: number, c: number, p: number): number {
  let acc = 0;
  if (c === 61) {
    const q = i - 2 >= start ? buf[i - 2]! : 0;
    if (PARAM_END[((q & ((q >> 7) - 1)) << 7) | p] === 1) acc |= B_PEQ;
  }
  let j = i - 1;
  while (j >= start && SENS_SKIP[buf[j]!] === 1) j--;
  const a = j >= start ? buf[j]! : 0;
  j--;
  while (j >= start && SENS_SKIP[buf[j]!] === 1) j--;
  const b = j >= start ? buf[j]! : 0;
  if (SENS_END[((b & ((b >> 7) - 1)) << 7) | (a & ((a >> 7) - 1))] === 1) acc |= B_SENS;
  return acc;
}

/**
 * Digit runs for the card and SSN shapes: the most digits in one run of
 * digits joined by single spaces or dashes (returned), and the most in such a
 * run that has a separator (`sepRunDigits` after the call: an SSN is always
 * dash-separated). A run starts only where a match can: both patterns refuse a
 * start right after a letter, digit, '_' or '.', so digits glued to a word
 * ("a165" in a UUID) count only from the next separator on. Measured on
 * redaction.bench.ts's clean data: every UUID-shaped id (its last two groups
 * read as one 15-digit run) went to the combined regex for a card and an SSN.
 */
let sepRunDigits = 0;

/** True for what the card and SSN patterns' lookbehinds refuse before a match: [0-9A-Za-z_.]. */
const NO_RUN_AFTER = new Uint8Array(256);
for (const c of '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_.') NO_RUN_AFTER[c.charCodeAt(0)] = 1;

function digitRunString(s: string): number {
  let best = 0;
  let sepBest = 0;
  let run = 0;
  let seps = false;
  let sep = false;
  let blocked = false;
  let prev = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (run === 0 && !sep && !blocked) blocked = prev < 256 && NO_RUN_AFTER[prev] === 1;
      if (!blocked) {
        run++;
        if (run > best) best = run;
        if (seps && run > sepBest) sepBest = run;
      }
      sep = false;
    } else if ((c === 32 || c === 45) && (run > 0 || blocked) && !sep) {
      sep = true;
      if (blocked) blocked = false;
      else seps = true;
    } else {
      run = 0;
      seps = false;
      sep = false;
      blocked = false;
    }
    prev = c;
  }
  sepRunDigits = sepBest;
  return best;
}

/** digitRunString() over UTF-8 bytes (a byte at or above 0x80 never blocks a start, as no non-ASCII letter does). */
function digitRunBytes(buf: Uint8Array, start: number, end: number): number {
  let best = 0;
  let sepBest = 0;
  let run = 0;
  let seps = false;
  let sep = false;
  let blocked = false;
  let prev = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) {
      if (run === 0 && !sep && !blocked) blocked = NO_RUN_AFTER[prev] === 1;
      if (!blocked) {
        run++;
        if (run > best) best = run;
        if (seps && run > sepBest) sepBest = run;
      }
      sep = false;
    } else if ((c === 32 || c === 45) && (run > 0 || blocked) && !sep) {
      sep = true;
      if (blocked) blocked = false;
      else seps = true;
    } else {
      run = 0;
      seps = false;
      sep = false;
      blocked = false;
    }
    prev = c;
  }
  sepRunDigits = sepBest;
  return best;
}

/**
 * Whether a string has the shape file_path needs before its regex is worth
 * running: `/<top>/` for one of the well-known top-level directories the
 * pattern lists, `~/`, `X:\` or `\\`. A slash alone (every URL and route
 * has several) is not enough. Measured: with `value-N-https://shop.example.com/api/v1/items/N`
 * values, every string went to decode and the combined regex for file_path's
 * sake; this check clears them on the bytes.
 */
const PATH_TOPS = ['home', 'Users', 'root', 'tmp', 'var', 'etc', 'opt', 'usr', 'srv', 'mnt', 'media', 'proc', 'run', 'data', 'app', 'workspace', 'builds', 'private', 'Library', 'System', 'snap', 'nix', 'boot', 'lib', 'lib64', 'bin', 'sbin', 'Volumes', 'cygdrive'];
/** PATH_TOPS by first letter, as char codes. */
const PATH_TOPS_BY_FIRST: number[][][] = Array.from({ length: 128 }, () => []);
for (const t of PATH_TOPS) PATH_TOPS_BY_FIRST[t.charCodeAt(0)]!.push([...t].map((c) => c.charCodeAt(0)));

function pathShapeBytes(buf: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end - 1; i++) {
    const c = buf[i]!;
    const d = buf[i + 1]!;
    if (c === 47) {
      if (d >= 128) continue;
      const tops = PATH_TOPS_BY_FIRST[d]!;
      for (let k = 0; k < tops.length; k++) {
        const t = tops[k]!;
        const after = i + 1 + t.length;
        if (after >= end || buf[after] !== 47) continue;
        let j = 1;
        while (j < t.length && buf[i + 1 + j] === t[j]) j++;
        if (j === t.length) return true;
      }
    } else if ((c === 126 && d === 47) || (c === 58 && d === 92) || (c === 92 && d === 92)) return true;
  }
  return false;
}

function pathShapeString(s: string): boolean {
  const end = s.length;
  for (let i = 0; i < end - 1; i++) {
    const c = s.charCodeAt(i);
    const d = s.charCodeAt(i + 1);
    if (c === 47) {
      if (d >= 128) continue;
      const tops = PATH_TOPS_BY_FIRST[d]!;
      for (let k = 0; k < tops.length; k++) {
        const t = tops[k]!;
        const after = i + 1 + t.length;
        if (after >= end || s.charCodeAt(after) !== 47) continue;
        let j = 1;
        while (j < t.length && s.charCodeAt(i + 1 + j) === t[j]) j++;
        if (j === t.length) return true;
      }
    } else if ((c === 126 && d === 47) || (c === 58 && d === 92) || (c === 92 && d === 92)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- patterns

interface PatternDef {
  detector: DetectorName;
  /** Regex source. Named groups are local to the pattern (renamed when compiled). */
  source: string;
  /** Features that must all be present. */
  all?: number;
  /** At least one of these features must be present (0: no condition). */
  any?: number;
  /**
   * Shortest string that can hold a hit: the shortest text the regex itself
   * matches, whatever the validators later reject (the prefilter must never
   * rule out what the unfiltered patterns would mask; prefilter.test.ts).
   */
  minLen: number;
  /** Fewest digits a hit contains. */
  minDigits?: number;
  /** Local group names; the first one that took part in the match is what gets masked. Absent: the whole match. */
  secret?: readonly string[];
  /** Checks a candidate; `g` holds the local groups. */
  validate?: (g: Record<string, string | undefined>, match: string, input: string, end: number) => boolean;
}

/** Case-insensitive literal as character classes, so it can live in a case-sensitive alternation. */
function ci(word: string): string {
  let out = '';
  for (const ch of word) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    if (ch === '_') out += '[_.-]?';
    else if (lo !== up) out += `[${lo}${up}]`;
    else out += ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }
  return out;
}

/** Names whose values are secrets (suffix of a key; separators optional). Also used for attribute keys. */
export const SENSITIVE_KEY_NAMES = [
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'api_key',
  'apikey',
  'authorization',
  'cookie',
  'set_cookie',
  'private_key',
  'client_secret',
  'secret_key',
] as const;

// In text, "secret_key" must come before "secret" only for readability: the
// alternation backtracks into the longer name when the shorter one is not
// followed by a separator.
const TEXT_KEY_NAMES = ['password', 'passwd', 'passphrase', 'pwd', 'secret_key', 'secret', 'token', 'api_key', 'private_key'];
for (const name of TEXT_KEY_NAMES) {
  const ab = name.slice(-2);
  for (const a of [ab[0]!.toLowerCase(), ab[0]!.toUpperCase()]) for (const b of [ab[1]!.toLowerCase(), ab[1]!.toUpperCase()]) SENS_END[(a.charCodeAt(0) << 7) | b.charCodeAt(0)] = 1;
}
const TEXT_KEY_ALT = TEXT_KEY_NAMES.map(ci).join('|');

/** Query/fragment parameter names that carry credentials (suffix match) and the short ones that must match exactly. */
const PARAM_SUFFIX = ['token', 'secret', 'password', 'passwd', 'pwd', 'signature', 'credential', 'api_key', 'apikey', 'private_key'];
const PARAM_EXACT = ['key', 'sig', 'code_verifier'];

// Values after "name=" / "name: ": JSON strings (plain or escaped inside another string), single-quoted, or bare.
const ASSIGN_VALUE = String.raw`(?:\\"(?<qe>(?:[^"\\\r\n]|\\[^"\r\n])*)(?:\\")?|"(?<qd>(?:[^"\\\r\n]|\\.)*)"?|'(?<qs>[^'\r\n]*)'?|(?<qb>[^\s"'\x60,;&<>(){}\[\]\\]+))`;
const ASSIGN_GROUPS = ['qe', 'qd', 'qs', 'qb'] as const;

const AUTH_SCHEMES = ['Bearer', 'Basic', 'Digest', 'Negotiate', 'NTLM', 'Token', 'Bot', 'AWS4-HMAC-SHA256', 'HOBA', 'Mutual', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'ApiKey', 'SSWS'];

const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'tif', 'tiff', 'avif',
  'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css', 'scss', 'html', 'htm', 'json', 'map', 'txt', 'log', 'md', 'yaml', 'yml', 'xml',
  'py', 'rb', 'go', 'rs', 'java', 'kt', 'class', 'jar', 'so', 'dll', 'exe', 'bin', 'wasm', 'pdf', 'zip', 'gz', 'tgz', 'mp4', 'mp3', 'woff', 'woff2', 'ttf',
]);

function hasDigit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

function hasLetter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (c >= 97 && c <= 122) return true;
  }
  return false;
}

/** A bare value that looks like a credential rather than a word of prose ("Invalid token: expired"). */
function secretish(v: string): boolean {
  if (v.length < 4) return false;
  if (hasDigit(v)) return true;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122);
    if (!alnum) return true;
  }
  // Mixed case inside the word (not just a capitalised word): aBcDeF.
  return /[a-z][A-Z]/.test(v) || v.length >= 20;
}

export function luhn(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** Issuer prefix and length plausible for a payment card number. */
export function cardIssuerOk(d: string): boolean {
  const n = d.length;
  const p1 = d.charCodeAt(0) - 48;
  const p2 = Number(d.slice(0, 2));
  const p4 = Number(d.slice(0, 4));
  if (p1 === 4) return n === 13 || n === 16 || n === 19; // Visa
  if (p2 >= 51 && p2 <= 55) return n === 16; // Mastercard
  if (p4 >= 2221 && p4 <= 2720) return n === 16; // Mastercard 2-series
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p2 === 35) return n >= 16 && n <= 19; // JCB
  if (p2 === 30 || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  if (p1 === 6) return n >= 16 && n <= 19; // Discover, UnionPay, Maestro 6xxx
  if (p2 === 50 || (p2 >= 56 && p2 <= 58)) return n >= 12 && n <= 19; // Maestro
  return false;
}

/** US SSN structure: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function ssnOk(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.charCodeAt(0) === 57) return false;
  return group !== '00' && serial !== '0000';
}

function b64decode(s: string, url: boolean): Buffer | undefined {
  try {
    return Buffer.from(s, url ? 'base64url' : 'base64');
  } catch {
    return undefined;
  }
}

export function jwtHeaderOk(header: string): boolean {
  const buf = b64decode(header, true);
  if (!buf || buf.length < 8) return false;
  try {
    const h = JSON.parse(buf.toString('utf8')) as unknown;
    return typeof h === 'object' && h !== null && (typeof (h as { alg?: unknown }).alg === 'string' || typeof (h as { enc?: unknown }).enc === 'string');
  } catch {
    return false;
  }
}

/** Basic credentials: base64 of printable "user:password". */
export function basicOk(b64: string): boolean {
  if (b64.length % 4 === 1) return false;
  const buf = b64decode(b64, false);
  if (!buf || buf.length < 3) return false;
  let colon = false;
  for (const b of buf) {
    if (b === 58) colon = true;
    else if (b < 32 || b > 126) return false;
  }
  return colon;
}

/** Fernet: version 0x80, 8-byte time, 16-byte IV, AES blocks, 32-byte HMAC. */
export function fernetOk(tok: string): boolean {
  const buf = b64decode(tok.replace(/=+$/, ''), true);
  if (!buf || buf[0] !== 0x80) return false;
  const n = buf.length;
  return n >= 73 && (n - 57) % 16 === 0;
}

const PATTERNS: PatternDef[] = [
  // PEM private key blocks (also when the newlines are JSON-escaped); a block
  // cut off before its END line is masked to the end of the string.
  {
    detector: 'private_key',
    source: String.raw`-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)`,
    all: F_DASH | B_DD,
    minLen: 26,
  },
  // Base64 DER private keys without their PEM armour: PKCS#1 RSA, PKCS#8 RSA, SEC1 EC, PKCS#8 EC P-256, PKCS#8 Ed25519.
  {
    detector: 'private_key',
    source: String.raw`(?<![A-Za-z0-9+/])(?:MII[A-Za-z0-9+/]{2}[AQgw]IBA(?:AKC|DANBgkqhkiG9w0BAQEFAASC)|MHcCAQEE|MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg|MC4CAQAwBQYDK2VwBCIEI)(?:[A-Za-z0-9+/=]|\\[nr]|\s)*`,
    all: F_UA | B_M,
    minLen: 8,
  },
  // GCP service-account JSON: "private_key" and "private_key_id" values (plain or escaped JSON).
  {
    detector: 'gcp_service_account',
    source: String.raw`\\?"private_key(?:_id)?\\?"[ \t]*:[ \t]*\\?"(?<v>(?:[^"\\]|\\[^"])+)`,
    all: F_QUOTE | F_COLON | B_IV,
    minLen: 16,
    secret: ['v'],
  },
  // AWS secret access key where the context names it.
  {
    detector: 'aws_secret_access_key',
    source: String.raw`(?:${ci('aws')}[_.-]?)?${ci('secret')}[_.-]?(?:${ci('access')}[_.-]?)?${ci('key')}\\?["']?[ \t]*(?:=>|[:=])?[ \t]*\\?["']?(?<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
    all: B_CR | B_EY,
    minLen: 49,
    secret: ['v'],
  },
  // Authorization / Proxy-Authorization header values, e.g. "Authorization: Bearer x".
  {
    detector: 'auth_header',
    source: String.raw`(?:${ci('proxy')}-)?${ci('authorization')}\\?["']?[ \t]*[:=][ \t]*\\?["']?(?<s>(?:${AUTH_SCHEMES.map(ci).join('|')})[ \t]+)?(?<v>[^\s"'\\,;][^"'\r\n\\]*)`,
    all: B_HDR,
    any: F_EQ | F_COLON,
    minLen: 15,
    secret: ['v'],
    validate: (g) => g.s !== undefined || secretish(g.v!.trim()),
  },
  // Cookie / Set-Cookie headers in text: the rest of the line.
  {
    detector: 'sensitive_key',
    source: String.raw`(?:${ci('set')}[_.-]?)?${ci('cookie')}\\?["']?[ \t]*[:=][ \t]*\\?["']?(?<v>[^\s"'\\;][^\r\n"'\\]*)`,
    all: B_HDR,
    any: F_EQ | F_COLON,
    minLen: 8,
    secret: ['v'],
    validate: (g) => g.v!.includes('='),
  },
  // name=value, name: value, "name": "value", name => 'value' for secret-looking names (suffix match).
  {
    detector: 'sensitive_key',
    source: String.raw`(?<n>${TEXT_KEY_ALT})\\?["']?[ \t]*(?<sep>=>|[:=])[ \t]*${ASSIGN_VALUE}`,
    all: B_SENS,
    any: F_EQ | F_COLON,
    minLen: 5,
    secret: ASSIGN_GROUPS,
    validate: (g) => {
      const v = g.qe ?? g.qd ?? g.qs ?? g.qb;
      if (!v) return false;
      // A bare value after a colon may be prose ("Invalid token: expired"); for
      // the unambiguous names (password, api_key, ...) any value is masked.
      if (g.sep === ':' && g.qb !== undefined) {
        const n = g.n!.toLowerCase();
        if (n === 'token' || n === 'secret') return secretish(v);
      }
      return true;
    },
  },
  // AWS access key id, with the secret key when it follows right after it.
  {
    detector: 'aws_access_key_id',
    source: String.raw`(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])(?:[\s:,;|"'=/]{1,3}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=]))?`,
    all: F_UA | B_AK,
    minLen: 20,
  },
  // JWT / JWS (and 5-part JWE): base64url JSON header with "alg" or "enc".
  {
    detector: 'jwt',
    source: String.raw`(?<![A-Za-z0-9_-])(?<h>eyJ[A-Za-z0-9_-]{8,})\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)?`,
    all: F_J | F_DOT | B_YJ,
    minLen: 17,
    validate: (g) => jwtHeaderOk(g.h!),
  },
  {
    detector: 'fernet',
    source: String.raw`(?<![A-Za-z0-9_-])gAAAAA[A-Za-z0-9_-]{60,}={0,2}`,
    all: F_UA | B_GA,
    minLen: 66,
    validate: (_g, m) => fernetOk(m),
  },
  {
    detector: 'github_token',
    source: String.raw`(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{50,255})(?![A-Za-z0-9_])`,
    all: F_UNDER | B_GH,
    minLen: 40,
  },
  {
    detector: 'gitlab_token',
    source: String.raw`(?<![A-Za-z0-9_-])gl(?:pat|dt|rt|ptt|cbt|oas|soat|ffct|imt|agent|ft|wt)-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*`,
    all: F_DASH | B_GL,
    minLen: 25,
  },
  {
    detector: 'slack_token',
    source: String.raw`(?<![A-Za-z0-9])(?:xox[abposre]-[0-9A-Za-z-]{10,}|xapp-\d-[0-9A-Za-z-]{10,})`,
    all: F_DASH | B_XO,
    minLen: 15,
  },
  {
    detector: 'slack_token',
    source: String.raw`hooks\.slack\.com/(?:services|workflows|triggers)/(?<v>[A-Za-z0-9/_-]{8,})`,
    all: F_SLASH | F_DOT | B_XO | B_K_,
    minLen: 30,
    secret: ['v'],
  },
  {
    detector: 'stripe_key',
    source: String.raw`(?<![A-Za-z0-9_])(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,247}|whsec_[A-Za-z0-9+/=]{24,})(?![A-Za-z0-9_])`,
    all: F_UNDER | B_K_,
    minLen: 18,
  },
  // Standalone "Bearer <token>" (the header form is matched above).
  {
    detector: 'auth_header',
    source: String.raw`(?<![A-Za-z0-9])[bB](?:earer|EARER)[ \t]+(?<v>[A-Za-z0-9\-._~+/]+=*)`,
    all: F_SPACE | F_B | B_B,
    minLen: 8,
    secret: ['v'],
    validate: (g) => {
      const v = g.v!;
      return (v.length >= 12 && hasDigit(v) && hasLetter(v)) || v.length >= 24;
    },
  },
  // Standalone "Basic <base64 user:password>".
  {
    detector: 'auth_header',
    source: String.raw`(?<![A-Za-z0-9])[bB](?:asic|ASIC)[ \t]+(?<v>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])`,
    all: F_SPACE | F_B | B_B,
    minLen: 10,
    secret: ['v'],
    validate: (g) => basicOk(g.v!),
  },
  // scheme://user:password@host (or a long token as the user).
  {
    detector: 'url_credentials',
    source: String.raw`(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}://(?<v>[^\s/@"'<>\\]+)@`,
    all: F_COLON | F_SLASH | F_AT | B_CS,
    minLen: 7,
    secret: ['v'],
    validate: (g) => {
      const v = g.v!;
      const colon = v.indexOf(':');
      if (colon >= 0) {
        const user = v.slice(0, colon);
        const pw = v.slice(colon + 1);
        // host:port?query=a@b is not userinfo.
        return pw !== '' && !/^\d+(?:[?#]|$)/.test(pw) && !/[?#]/.test(user);
      }
      // A user name alone is kept unless it is a long token (https://<token>@github.com).
      return v.length >= 16 && hasDigit(v) && /^[A-Za-z0-9._~%-]+$/.test(v);
    },
  },
  // ?token=..., &api_key=..., #access_token=..., &X-Amz-Signature=..., &sig=...
  {
    detector: 'url_secret_param',
    source: String.raw`[?&;#](?:[A-Za-z0-9_.\-]{0,64}?(?:${PARAM_SUFFIX.map(ci).join('|')})|(?:${PARAM_EXACT.map(ci).join('|')}))=(?<v>[^&#\s"'<>]+)`,
    all: F_EQ | F_AMP | B_PEQ,
    minLen: 5,
    secret: ['v'],
  },
  {
    detector: 'email',
    source: String.raw`(?<![A-Za-z0-9._%+-])(?<!:\/\/)(?<l>[A-Za-z0-9._%+-]{1,64})@(?<d>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?<t>[A-Za-z]{2,24}))(?![A-Za-z0-9-]|:[A-Za-z0-9/~])`,
    all: F_AT | F_DOT,
    minLen: 6,
    validate: (g) => {
      const l = g.l!;
      if (l.charCodeAt(0) === 46 || l.charCodeAt(l.length - 1) === 46) return false;
      return !FILE_EXTENSIONS.has(g.t!.toLowerCase());
    },
  },
  // Card numbers: 13-16 plain digits (19-digit cards only when grouped: plain
  // 17-20 digit runs are mostly ids and nanosecond timestamps), or groups
  // separated by one space or dash: 4-4-4-(1..4)(-(1..3)), 4-6-4(5), 4-3-3-3.
  {
    detector: 'credit_card',
    source: String.raw`(?<![0-9A-Za-z_.])(?:\d{13,16}|${[' ', '-'].map((c) => String.raw`\d{4}${c}\d{4}${c}\d{4}${c}\d{1,4}(?:${c}\d{1,3})?|\d{4}${c}\d{6}${c}\d{4,5}|\d{4}${c}\d{3}${c}\d{3}${c}\d{3}`).join('|')})(?![0-9A-Za-z_]|[.,]\d)`,
    minLen: 13,
    minDigits: 13,
    validate: (_g, m) => {
      const d = m.replace(/[ -]/g, '');
      return cardIssuerOk(d) && luhn(d);
    },
  },
  {
    detector: 'us_ssn',
    source: String.raw`(?<![0-9A-Za-z_.\-])(?<a>\d{3})-(?<g>\d{2})-(?<s>\d{4})(?![0-9A-Za-z_]|-\d)`,
    all: F_DASH,
    minLen: 11,
    minDigits: 9,
    validate: (g) => ssnOk(g.a!, g.g!, g.s!),
  },
  // Absolute paths under well-known filesystem top-level directories, ~/..., C:\..., \\server\share.
  // URL routes such as /api/v1/users are not paths here. Whether a path is
  // outside the configured roots is decided by the engine.
  {
    detector: 'file_path',
    source: String.raw`(?:(?<![A-Za-z0-9_.~/\\-])|(?<=file://))(?:~|/(?:home|Users|root|tmp|var|etc|opt|usr|srv|mnt|media|proc|run|data|app|workspace|builds|private|Library|System|snap|nix|boot|lib|lib64|bin|sbin|Volumes|cygdrive))/(?:[^\s"'<>|*?,;()\[\]{}]*[^\s"'<>|*?,;()\[\]{}.:])?|(?<![A-Za-z0-9_])[A-Za-z]:\\(?:[^\s"'<>|*?,;()\[\]{}]*[^\s"'<>|*?,;()\[\]{}.:])?|(?<![A-Za-z0-9_\\])\\\\[A-Za-z0-9][^\s"'<>|*?,;()\[\]{}\\]*\\(?:[^\s"'<>|*?,;()\[\]{}]*[^\s"'<>|*?,;()\[\]{}.:])?`,
    any: F_SLASH | F_BSLASH,
    // `~/` and `C:\` are whole matches.
    minLen: 2,
  },
];

if (PATTERNS.length > 30) throw new Error('detector patterns exceed the 30-bit pattern mask');

// ---------------------------------------------------------------- engine

/** Decides what replaces a hit: a mask, a hash, or undefined to keep the text (an allowed value). */
export type MaskFn = (detector: number, text: string) => string | undefined;

interface CompiledPattern {
  def: PatternDef;
  /** The pattern alone, sticky, with group indices: run at a candidate position to identify and dissect a hit. */
  sticky: RegExp;
  /** Its local group names. */
  groups: string[];
  detector: number;
}

// Patterns compile once per process.
const COMPILED: CompiledPattern[] = PATTERNS.map((def) => ({
  def,
  sticky: new RegExp(def.source, 'dy'),
  groups: [...def.source.matchAll(/\(\?<([A-Za-z][A-Za-z0-9]*)>/g)].map((x) => x[1]!),
  detector: DETECTORS.indexOf(def.detector),
}));

/** A pattern's source with its named groups made non-capturing (the patterns use no backreferences). */
function bare(source: string): string {
  return source.replace(/\(\?<([A-Za-z][A-Za-z0-9]*)>/g, '(?:');
}

interface CompiledSet {
  /** The alternation of the set's patterns, without any capture group. */
  re: RegExp;
  /** The set's pattern indices, in alternation order. */
  patterns: number[];
}

export interface EngineOptions {
  /** Detectors to run. */
  detectors: readonly DetectorName[];
  /** Roots under which absolute paths are fine (file_path). */
  pathRoots?: readonly string[];
}

/** Index of a detector name in DETECTORS. */
export function detectorIndex(name: DetectorName): number {
  return DETECTORS.indexOf(name);
}

export class DetectorEngine {
  private readonly enabled: number; // pattern mask
  private readonly cache = new Map<number, CompiledSet>();
  private readonly minLen: number;
  private readonly pathRoots: string[];
  /** Per enabled pattern: all / any / minLen / minDigits / bit, unpacked for the hot loop. */
  private readonly pAll: Int32Array;
  private readonly pAny: Int32Array;
  private readonly pMin: Int32Array;
  private readonly pDigits: Int32Array;
  private readonly pBit: Int32Array;
  /** Features that gate at least one enabled pattern; fewest digits of a digit-only pattern. */
  private readonly gates: number;
  private readonly minDigits: number;
  /** Patterns whose digits must form one run (card numbers, SSNs). */
  private readonly runPatterns: number;
  /** Of those, the ones whose digits must be separated (SSNs): refined by sepRunDigits. */
  private readonly sepRunPatterns: number;
  /**
   * Per feature bit, the enabled patterns (by their index k in pAll...) that
   * bit gates, and the patterns without a gate: match() looks only at the
   * patterns a string's gating features point to, not at all of them.
   */
  private readonly gatedBy = new Int32Array(32);
  private readonly ungated: number;
  /** file_path's bit when it is enabled (candidates need pathShape*()), else 0. */
  private readonly pathBit: number;

  constructor(opts: EngineOptions) {
    const want = new Set(opts.detectors);
    let mask = 0;
    let minLen = Infinity;
    const act: number[] = [];
    PATTERNS.forEach((p, i) => {
      if (want.has(p.detector)) {
        mask |= 1 << i;
        minLen = Math.min(minLen, p.minLen);
        act.push(i);
      }
    });
    this.enabled = mask;
    this.minLen = minLen;
    const pathIdx = PATTERNS.findIndex((p) => p.detector === 'file_path');
    this.pathBit = pathIdx >= 0 ? mask & (1 << pathIdx) : 0;
    this.pathRoots = (opts.pathRoots ?? []).map(normalizeRoot);
    const n = act.length;
    this.pAll = new Int32Array(n);
    this.pAny = new Int32Array(n);
    this.pMin = new Int32Array(n);
    this.pDigits = new Int32Array(n);
    this.pBit = new Int32Array(n);
    let gates = 0;
    let minDigits = Infinity;
    let runPatterns = 0;
    let sepRunPatterns = 0;
    let ungated = 0;
    if (act.length > 32) throw new Error('more than 32 detector patterns');
    act.forEach((i, k) => {
      const p = PATTERNS[i]!;
      // A gate is a set of features one of which the pattern cannot match without.
      const gateSet = GATES | F_SLASH | F_BSLASH;
      const all = (p.all ?? 0) & gateSet;
      const any = p.any ?? 0;
      const g = all !== 0 ? all : any !== 0 && (any & ~gateSet) === 0 ? any : 0;
      if (p.detector === 'credit_card' || p.detector === 'us_ssn') runPatterns |= 1 << i;
      if (p.detector === 'us_ssn') sepRunPatterns |= 1 << i;
      if (g === 0) {
        minDigits = Math.min(minDigits, p.minDigits ?? 0);
        ungated |= 1 << k;
      } else gates |= g;
      // Every bit of an `all` gate is required, so one of them (the highest:
      // bigrams are rarer than single characters) points to the pattern;
      // any bit of an `any` gate may be the one present.
      if (all !== 0) this.gatedBy[31 - Math.clz32(all)]! |= 1 << k;
      else if (g !== 0) for (let b = 0; b < 32; b++) if (g & (1 << b)) this.gatedBy[b]! |= 1 << k;
    });
    this.ungated = ungated;
    this.gates = gates;
    this.minDigits = minDigits;
    this.runPatterns = runPatterns;
    this.sepRunPatterns = sepRunPatterns;
    act.forEach((i, k) => {
      const p = PATTERNS[i]!;
      this.pAll[k] = p.all ?? 0;
      this.pAny[k] = p.any ?? 0;
      this.pMin[k] = p.minLen;
      this.pDigits[k] = p.minDigits ?? 0;
      this.pBit[k] = 1 << i;
    });
  }

  get empty(): boolean {
    return this.enabled === 0;
  }

  /** Which enabled patterns can match `s` at all (a pattern bit mask; 0: none). */
  candidates(s: string): number {
    const n = s.length;
    if (n < this.minLen) return 0;
    const f = stringFeatures(s);
    let mask = this.match(f, featureDigits, n);
    if (mask & this.pathBit && !pathShapeString(s)) mask &= ~this.pathBit;
    return mask & this.runPatterns ? this.refineRuns(mask, digitRunString(s)) : mask;
  }

  /**
   * The same over the UTF-8 bytes buf[start, end) of a string: a superset of
   * what candidates() gives for the decoded string (0 means it cannot hold a
   * hit), computed without decoding it.
   */
  candidatesBytes(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (n < this.minLen) return 0;
    const f = byteFeatures(buf, start, end);
    let mask = this.match(f, featureDigits, n);
    if (mask & this.pathBit && !pathShapeBytes(buf, start, end)) mask &= ~this.pathBit;
    return mask & this.runPatterns ? this.refineRuns(mask, digitRunBytes(buf, start, end)) : mask;
  }

  private match(f: number, digits: number, n: number): number {
    // Most clean values have none of the gating features and too few digits
    // for a card or SSN: done without looking at any pattern.
    let g = f & this.gates;
    if (g === 0 && digits < this.minDigits) return 0;
    // Only the patterns the present gates point to (a URL's ":/" points to
    // two of the twenty-odd): measured on the load tool's values (15 URLs of
    // about 50 bytes per span), candidatesBytes went from 4.0 to 3.0 µs per span.
    let cand = digits >= this.minDigits ? this.ungated : 0;
    while (g !== 0) {
      const b = 31 - Math.clz32(g);
      cand |= this.gatedBy[b]!;
      g ^= 1 << b;
    }
    let mask = 0;
    while (cand !== 0) {
      const i = 31 - Math.clz32(cand);
      cand ^= 1 << i;
      const all = this.pAll[i]!;
      const any = this.pAny[i]!;
      if ((f & all) === all && (any === 0 || (f & any) !== 0) && n >= this.pMin[i]! && digits >= this.pDigits[i]!) mask |= this.pBit[i]!;
    }
    return mask;
  }

  /**
   * Drops the digit-run patterns (cards, SSNs) whose shape needs a longer run
   * of digits than `run` (separated runs, `sepRunDigits`, for SSNs).
   */
  private refineRuns(mask: number, run: number): number {
    const k = this.pBit.length;
    for (let i = 0; i < k; i++) {
      const bit = this.pBit[i]!;
      if ((mask & bit) === 0 || (this.runPatterns & bit) === 0) continue;
      if ((this.sepRunPatterns & bit) !== 0 ? sepRunDigits < this.pDigits[i]! : run < this.pDigits[i]!) mask &= ~bit;
    }
    return mask;
  }

  private compiled(mask: number): CompiledSet {
    let c = this.cache.get(mask);
    if (c) return c;
    const patterns: number[] = [];
    const parts: string[] = [];
    for (let i = 0; i < PATTERNS.length; i++) {
      if (!(mask & (1 << i))) continue;
      patterns.push(i);
      parts.push(bare(PATTERNS[i]!.source));
    }
    // No capture groups: a match result is one string. The alternative that
    // matched is found afterwards by running the set's patterns, sticky, at
    // the match position (only on candidate hits, which are rare).
    c = { re: new RegExp(parts.length === 1 ? parts[0]! : `(?:${parts.join(')|(?:')})`, 'g'), patterns };
    this.cache.set(mask, c);
    return c;
  }

  /**
   * Masks every detector hit in `s`. Returns the new string, or undefined when
   * nothing was masked. `mask` is called once per accepted hit.
   */
  redact(s: string, mask: MaskFn): string | undefined {
    const cand = this.candidates(s);
    if (cand === 0) return undefined;
    return this.redactWith(s, cand, mask);
  }

  /** redact() with every enabled pattern run, no prefilter: the reference the prefilter is tested against. */
  redactUnfiltered(s: string, mask: MaskFn): string | undefined {
    if (this.enabled === 0 || s.length === 0) return undefined;
    return this.redactWith(s, this.enabled, mask);
  }

  /** redact() for a string whose candidate patterns are already known (a superset from candidatesBytes()). */
  redactWith(s: string, cand: number, mask: MaskFn): string | undefined {
    const set = this.compiled(cand);
    const re = set.re;
    re.lastIndex = 0;
    let out: string | undefined;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(s)) !== null) {
      const start = m.index;
      const end = start + m[0].length;
      // Leftmost-first: the first pattern of the set that matches here is the one the alternation chose.
      let hit: RegExpExecArray | null = null;
      let cp: CompiledPattern | undefined;
      for (const pi of set.patterns) {
        cp = COMPILED[pi]!;
        cp.sticky.lastIndex = start;
        hit = cp.sticky.exec(s);
        if (hit !== null) break;
      }
      const range = hit && this.accept(cp!, hit, s);
      if (!range) {
        re.lastIndex = start + 1;
        continue;
      }
      const replacement = mask(cp!.detector, s.slice(range[0], range[1]));
      if (replacement !== undefined) {
        out = (out ?? '') + s.slice(last, range[0]) + replacement;
        last = range[1];
      }
      re.lastIndex = end > start ? end : start + 1;
    }
    if (out === undefined) return undefined;
    return out + s.slice(last);
  }

  /** Validates a hit; returns the [start, end) range to mask, or undefined to reject it. */
  private accept(cp: CompiledPattern, hit: RegExpExecArray, s: string): readonly [number, number] | undefined {
    const p = cp.def;
    const groups = hit.groups;
    if (p.validate) {
      const local: Record<string, string | undefined> = {};
      for (const g of cp.groups) local[g] = groups![g];
      if (!p.validate(local, hit[0], s, hit.index + hit[0].length)) return undefined;
    }
    let range: readonly [number, number] = [hit.index, hit.index + hit[0].length];
    if (p.secret) {
      let found: readonly [number, number] | undefined;
      for (const g of p.secret) {
        const r = hit.indices!.groups![g];
        if (r !== undefined) {
          found = r;
          break;
        }
      }
      if (!found || found[1] <= found[0]) return undefined;
      range = found;
    }
    if (p.detector === 'file_path' && !this.outsideRoots(s.slice(range[0], range[1]))) return undefined;
    return range;
  }

  private outsideRoots(path: string): boolean {
    const p = path.replace(/\\/g, '/');
    for (const root of this.pathRoots) {
      if (p === root || p.startsWith(root.endsWith('/') ? root : root + '/')) return false;
    }
    return true;
  }
}

function normalizeRoot(r: string): string {
  let p = r.replace(/\\/g, '/');
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** Normalises an attribute key for the key-name rule: lower case, separators removed. */
export function normalizeKey(k: string): string {
  return k.toLowerCase().replace(/[-_.\s]/g, '');
}

const NORMALIZED_SENSITIVE = [...new Set(SENSITIVE_KEY_NAMES.map(normalizeKey))];

/** True when the key names a secret: password, db.password, http.request.header.authorization, X-Api-Key, ... */
export function isSensitiveKey(k: string): boolean {
  const n = normalizeKey(k);
  for (const name of NORMALIZED_SENSITIVE) if (n.endsWith(name)) return true;
  return false;
}
