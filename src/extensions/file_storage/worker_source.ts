// The database side of file_storage, run in a worker thread so that commits,
// WAL checkpoints and fsyncs never block the event loop. It is plain
// CommonJS run with `new Worker(WORKER_SOURCE, { eval: true })`, so it loads
// the same way from the compiled daemon and from TypeScript sources in tests.
//
// Protocol: the main thread posts { re, op, ... } and gets back
// { re, ok: true, ... } or { re, ok: false, code, message, fatal }.
//   open   { file, fsync, timeout, vacuum, pageSize, walCheckpointBytes } → { used }
//   commit { head: JSON [owner, signal, items, size, meta, length]*, buf, dels, adopts: [owner, n, id*n]* } → { ids }
//   list   { owner }                         → { rows: [{ id, signal, items, size }] }
//   read   { id }                            → { data, meta } | { missing: true }
//   pragma { sql }                           → { value }        (tests)
//   close  {}                                → {}
export const SCHEMA_VERSION = 1;

export const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const SCHEMA_VERSION = ${SCHEMA_VERSION};
let db;
let st;
let txn;

function open(m) {
  if (db) return { used: used() };
  const d = new Database(m.file, { timeout: m.timeout });
  try {
    // Takes effect only while the file is new; a database made earlier keeps its page size.
    d.pragma('page_size = ' + m.pageSize);
    d.pragma('locking_mode = EXCLUSIVE');
    const mode = String(d.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
    if (mode !== 'wal') throw Object.assign(new Error('cannot switch ' + m.file + ' to WAL mode (got ' + mode + ')'), { code: 'SIEVE_NO_WAL' });
    d.pragma('synchronous = ' + (m.fsync ? 'FULL' : 'NORMAL'));
    // The checkpoint interval is given in bytes and set in this file's pages. After a checkpoint the
    // WAL file is cut back to the same size, so a burst does not leave it large.
    const pageSize = Number(d.pragma('page_size', { simple: true }));
    d.pragma('wal_autocheckpoint = ' + Math.max(1, Math.round(m.walCheckpointBytes / pageSize)));
    d.pragma('journal_size_limit = ' + m.walCheckpointBytes);
    const version = Number(d.pragma('user_version', { simple: true }));
    if (version > SCHEMA_VERSION) throw Object.assign(new Error(m.file + ' was written by a newer Sieve (schema ' + version + ')'), { code: 'SIEVE_SCHEMA' });
    d.exec('CREATE TABLE IF NOT EXISTS records (' +
      'id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, signal TEXT NOT NULL, ' +
      'items INTEGER NOT NULL, size INTEGER NOT NULL, meta TEXT, data BLOB NOT NULL); ' +
      'CREATE INDEX IF NOT EXISTS records_owner ON records(owner, id); ' +
      // A record handed to another owner (adopt) is listed under that owner. The hand-over is its own
      // small row: an UPDATE of records.owner rewrites the whole row, payload included, as SQLite
      // rewrites a row's overflow pages with it.
      'CREATE TABLE IF NOT EXISTS adopted (id INTEGER PRIMARY KEY, owner TEXT NOT NULL); ' +
      'CREATE INDEX IF NOT EXISTS adopted_owner ON adopted(owner, id); ' +
      'DELETE FROM adopted WHERE id NOT IN (SELECT id FROM records); ' +
      'PRAGMA user_version = ' + SCHEMA_VERSION + ';');
    if (m.vacuum) d.exec('VACUUM');
    const s = {
      insert: d.prepare('INSERT INTO records (owner, signal, items, size, meta, data) VALUES (?, ?, ?, ?, ?, ?)'),
      del: d.prepare('DELETE FROM records WHERE id = ?'),
      adopt: d.prepare('INSERT OR REPLACE INTO adopted (owner, id) VALUES (?, ?)'),
      unadopt: d.prepare('DELETE FROM adopted WHERE id = ?'),
      list: d.prepare('SELECT id, signal, items, size FROM records r WHERE owner = ? AND NOT EXISTS (SELECT 1 FROM adopted a WHERE a.id = r.id) ' +
        'UNION ALL SELECT r.id, r.signal, r.items, r.size FROM adopted a JOIN records r ON r.id = a.id WHERE a.owner = ? ORDER BY 1'),
      read: d.prepare('SELECT data, meta FROM records WHERE id = ?'),
      used: d.prepare('SELECT coalesce(sum(size), 0) AS n FROM records'),
    };
    // head: [owner, signal, items, size, meta, length] per append; buf: the payloads back to back.
    // Appends first, then hand-overs to a new owner, then deletions.
    txn = d.transaction((head, buf, dels, adopts) => {
      const n = head.length / 6;
      const ids = new Array(n);
      let off = buf.byteOffset;
      for (let i = 0, h = 0; i < n; i++, h += 6) {
        const len = head[h + 5];
        ids[i] = Number(s.insert.run(head[h], head[h + 1], head[h + 2], head[h + 3], head[h + 4] || null, Buffer.from(buf.buffer, off, len)).lastInsertRowid);
        off += len;
      }
      for (let i = 0; i < adopts.length; ) {
        const owner = adopts[i];
        const n = adopts[i + 1];
        for (let k = 0; k < n; k++) s.adopt.run(owner, adopts[i + 2 + k]);
        i += 2 + n;
      }
      for (let i = 0; i < dels.length; i++) {
        s.del.run(dels[i]);
        s.unadopt.run(dels[i]);
      }
      return ids;
    });
    st = s;
    db = d;
    return { used: used() };
  } catch (e) {
    try { d.close(); } catch {}
    throw e;
  }
}

function used() {
  return Number(st.used.get().n);
}

function close() {
  if (db) {
    try { db.close(); } catch {}
  }
  db = undefined;
  st = undefined;
  txn = undefined;
}

function isFatal(code) {
  code = code || '';
  return code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}

parentPort.on('message', (m) => {
  try {
    switch (m.op) {
      case 'open':
        parentPort.postMessage(Object.assign({ re: m.re, ok: true }, open(m)));
        return;
      case 'commit': {
        if (!db) throw Object.assign(new Error('the database is not open'), { code: 'SIEVE_CLOSED' });
        const ids = txn(JSON.parse(m.head), m.buf, m.dels, m.adopts || []);
        parentPort.postMessage({ re: m.re, ok: true, ids });
        return;
      }
      case 'list':
        parentPort.postMessage({ re: m.re, ok: true, rows: db ? st.list.all(m.owner, m.owner) : [] });
        return;
      case 'read': {
        const row = db ? st.read.get(m.id) : undefined;
        if (!row) {
          parentPort.postMessage({ re: m.re, ok: true, missing: true });
          return;
        }
        const data = new Uint8Array(row.data.byteLength);
        data.set(row.data);
        parentPort.postMessage({ re: m.re, ok: true, data, meta: row.meta }, [data.buffer]);
        return;
      }
      case 'pragma':
        parentPort.postMessage({ re: m.re, ok: true, value: db ? db.pragma(m.sql, { simple: true }) : undefined });
        return;
      case 'close':
        close();
        parentPort.postMessage({ re: m.re, ok: true });
        return;
      default:
        throw new Error('unknown op ' + m.op);
    }
  } catch (e) {
    const code = (e && e.code) || '';
    const fatal = isFatal(code);
    if (fatal) close();
    parentPort.postMessage({ re: m.re, ok: false, code, message: String((e && e.message) || e), fatal });
  }
});
`;
