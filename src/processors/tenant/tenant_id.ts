import type { AnyValue, KeyValue } from '../../pdata/model.js';

// Tenant ids as Loki, Tempo and Mimir accept them in X-Scope-OrgID (dskit
// tenant.ValidTenantID): letters, digits and ! - _ . * ' ( ), at most 150
// bytes, and not "." or "..".
const TENANT_RE = /^[A-Za-z0-9!\-_.*'()]+$/;
export const MAX_TENANT_LENGTH = 150;

/** Why `id` is not a valid tenant id, or undefined when it is. */
export function tenantIdProblem(id: string): string | undefined {
  if (id === '') return 'a tenant id must not be empty';
  if (id.length > MAX_TENANT_LENGTH) return `a tenant id must be at most ${MAX_TENANT_LENGTH} characters`;
  if (id === '.' || id === '..') return `a tenant id must not be "${id}"`;
  if (!TENANT_RE.test(id)) return `tenant id ${JSON.stringify(id.slice(0, 40))} has characters other than letters, digits and !-_.*'()`;
  return undefined;
}

export function isValidTenantId(id: string): boolean {
  return id.length > 0 && id.length <= MAX_TENANT_LENGTH && id !== '.' && id !== '..' && TENANT_RE.test(id);
}

/** A resource attribute's value as a tenant string, or undefined when absent or empty. */
export function attributeAsTenant(attrs: readonly KeyValue[], key: string): string | undefined {
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i]!;
    if (kv.key !== key) continue;
    const v: AnyValue = kv.value;
    switch (v.type) {
      case 'string':
        return v.value === '' ? undefined : v.value;
      case 'int':
      case 'double':
      case 'bool':
        return String(v.value);
      default:
        return undefined;
    }
  }
  return undefined;
}
