/**
 * The sandbox's tenants and the receiver's view of them: each tenant's webhook signing secret is
 * stored Fernet-encrypted in `tenant_configs` and decrypted on lookup, like the platform does.
 */
import { randomBytes } from 'node:crypto';
import { fernetDecrypt, fernetEncrypt } from '../functions/core/fernet.ts';
import type { SandboxDatabase } from './db.ts';
import type { SeedTenant } from './seed.ts';

const NAMED = [
  { tenantId: 'acme-corp', name: 'Acme Corp' },
  { tenantId: 'globex', name: 'Globex Corporation' },
  { tenantId: 'initech', name: 'Initech' },
] as const;

/** In tenant_configs but inactive, and never in the canary's config. */
export const INACTIVE_TENANT = { tenantId: 'umbrella-offboarded', name: 'Umbrella (offboarded)' } as const;

export interface SandboxTenant {
  tenantId: string;
  name: string;
  /** The secret the canary signs with. */
  secret: string;
}

export function newSecret(): string {
  return randomBytes(24).toString('base64url');
}

/** acme-corp, globex, initech, then tenant-004, tenant-005, ... each with a fresh secret. */
export function sandboxTenants(count: number): SandboxTenant[] {
  return Array.from({ length: count }, (_, index) => {
    const named = NAMED[index];
    const number = String(index + 1).padStart(3, '0');
    return {
      tenantId: named?.tenantId ?? `tenant-${number}`,
      name: named?.name ?? `Tenant ${number}`,
      secret: newSecret(),
    };
  });
}

export function seedTenants(tenants: readonly SandboxTenant[], encryptionKey: string): SeedTenant[] {
  const rows = tenants.map((tenant) => ({ ...tenant, active: true }));
  rows.push({ ...INACTIVE_TENANT, secret: newSecret(), active: false });
  return rows.map((row) => ({
    tenantId: row.tenantId,
    name: row.name,
    active: row.active,
    signingSecretEncrypted: fernetEncrypt(encryptionKey, row.secret),
    apiKeyEncrypted: fernetEncrypt(encryptionKey, `sdp-${randomBytes(16).toString('hex')}`),
  }));
}

export interface TenantRecord {
  active: boolean;
  /** The decrypted signing secret; null when the stored one is missing or cannot be decrypted. */
  secret: string | null;
}

/**
 * The receiver's tenant lookups: read as the application role in the tenant's own context,
 * decrypted with the sandbox's `TENANT_ENCRYPTION_KEY`, cached for a short time.
 */
export class TenantDirectory {
  readonly #db: SandboxDatabase;
  readonly #encryptionKey: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { record: TenantRecord | null; expires: number }>();

  constructor(db: SandboxDatabase, encryptionKey: string, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#db = db;
    this.#encryptionKey = encryptionKey;
    this.#ttlMs = options.ttlMs ?? 2_000;
    this.#now = options.now ?? Date.now;
  }

  /** The tenant, or null when tenant_configs has no row for it. */
  async lookup(tenantId: string): Promise<TenantRecord | null> {
    const hit = this.#cache.get(tenantId);
    if (hit !== undefined && hit.expires > this.#now()) return hit.record;
    const row = await this.#db.withTenant(tenantId, async (client) => {
      const result = await client.query<{ is_active: boolean; token: string | null }>(
        'SELECT is_active, webhook_signing_secret_encrypted AS token FROM tenant_configs WHERE tenant_id = $1',
        [tenantId],
      );
      return result.rows[0];
    });
    const record = row === undefined ? null : { active: row.is_active, secret: this.#decrypt(row.token) };
    this.#cache.set(tenantId, { record, expires: this.#now() + this.#ttlMs });
    return record;
  }

  #decrypt(token: string | null): string | null {
    if (token === null) return null;
    try {
      return fernetDecrypt(this.#encryptionKey, token);
    } catch {
      return null;
    }
  }

  /** Forget every cached lookup (after the stored secrets changed). */
  invalidate(): void {
    this.#cache.clear();
  }

  /** Re-encrypts `secret` into the tenant's row (as the database superuser) and drops the cache. */
  async storeSecret(tenantId: string, secret: string): Promise<void> {
    await this.#db.admin(
      'UPDATE tenant_configs SET webhook_signing_secret_encrypted = $2, updated_at = now() WHERE tenant_id = $1',
      [tenantId, fernetEncrypt(this.#encryptionKey, secret)],
    );
    this.invalidate();
  }
}
