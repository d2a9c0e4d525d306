// A tiny authoritative DNS server on a loopback UDP port that answers A
// queries from a table the test changes (RFC 1035 wire format: header,
// question echoed back, answer records with compression pointers to the
// question name). Other types get an empty NOERROR answer; unknown names
// NXDOMAIN. Hand-written: a test fake of a few dozen lines.
import { createSocket, type Socket } from 'node:dgram';

export interface FakeDns {
  port: number;
  /** Sets the A records of a name (an empty list: NXDOMAIN). */
  set(name: string, ips: string[]): void;
  /** Makes every answer SERVFAIL while true. */
  failing(on: boolean): void;
  queries(): number;
  stop(): Promise<void>;
}

export async function startFakeDns(): Promise<FakeDns> {
  const records = new Map<string, string[]>();
  let fail = false;
  let count = 0;
  const sock: Socket = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    count++;
    if (msg.length < 12) return;
    const id = msg.readUInt16BE(0);
    const qd = msg.readUInt16BE(4);
    if (qd !== 1) return;
    // Question: labels, then type and class.
    let p = 12;
    const labels: string[] = [];
    while (p < msg.length && msg[p] !== 0) {
      const n = msg[p]!;
      labels.push(msg.subarray(p + 1, p + 1 + n).toString('ascii'));
      p += n + 1;
    }
    p++;
    if (p + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(p);
    const question = msg.subarray(12, p + 4);
    const name = labels.join('.').toLowerCase();
    const ips = records.get(name);
    let rcode = 0;
    let answers: string[] = [];
    if (fail) rcode = 2;
    else if (!ips || ips.length === 0) rcode = 3;
    else if (qtype === 1) answers = ips;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR=1, opcode 0, AA=1, RD copied from the query, RA=1, rcode.
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question name at offset 12
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(1, 6); // TTL 1s
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
      return rr;
    });
    sock.send(Buffer.concat([header, question, ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    set: (name, ips) => void records.set(name.toLowerCase(), ips),
    failing: (on) => void (fail = on),
    queries: () => count,
    stop: () => new Promise((r) => sock.close(() => r())),
  };
}
