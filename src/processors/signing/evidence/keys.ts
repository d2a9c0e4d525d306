// Ed25519 keys of the evidence manifests: PEM (PKCS#8 private, SPKI public),
// from a file or as text (e.g. `${env:VAR}` in the config). A key has a kid.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { openSync, writeSync, closeSync, readFileSync, chmodSync } from 'node:fs';
import { KEY_ID_RE, KeyError } from '../keys.js';

export { KEY_ID_RE };

export interface EvidenceSigner {
  kid: string;
  key: KeyObject;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new KeyError(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** An Ed25519 private key from PEM text. Never puts the key into an error message. */
export function privateKeyFromPem(pem: string, from: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`${from} is not a PEM private key`);
  }
  if (k.asymmetricKeyType !== 'ed25519') throw new KeyError(`${from} is a ${k.asymmetricKeyType} key, not Ed25519`);
  return k;
}

/** An Ed25519 public key from PEM text (a private key PEM gives its public half). */
export function publicKeyFromPem(pem: string, from: string): KeyObject {
  let k: KeyObject;
  try {
    k = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`${from} is not a PEM public key`);
  }
  if (k.asymmetricKeyType !== 'ed25519') throw new KeyError(`${from} is a ${k.asymmetricKeyType} key, not Ed25519`);
  return k;
}

export function loadPrivateKey(cfg: { private_key_file?: string | undefined; private_key?: string | undefined }, what: string): KeyObject {
  if (cfg.private_key_file && cfg.private_key) throw new KeyError(`${what}: set private_key_file or private_key, not both`);
  if (cfg.private_key_file) return privateKeyFromPem(readPem(cfg.private_key_file, 'private key file'), `private key file ${cfg.private_key_file}`);
  if (cfg.private_key) return privateKeyFromPem(cfg.private_key, `${what}.private_key`);
  throw new KeyError(`${what}: set private_key_file or private_key`);
}

export function loadPublicKeyFile(file: string): KeyObject {
  return publicKeyFromPem(readPem(file, 'public key file'), `public key file ${file}`);
}

/** Writes a new key pair: `<prefix>.key` (PKCS#8 PEM, mode 0600) and `<prefix>.pub` (SPKI PEM, mode 0644). Refuses to overwrite. */
export function writeKeyPair(prefix: string): { privateFile: string; publicFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateFile = `${prefix}.key`;
  const publicFile = `${prefix}.pub`;
  const write = (file: string, text: string, mode: number) => {
    // 'wx': fail when it exists; the mode applies at creation, chmod again against a umask that widened nothing but may narrow.
    const fd = openSync(file, 'wx', mode);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    chmodSync(file, mode);
  };
  write(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  write(publicFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { privateFile, publicFile };
}
