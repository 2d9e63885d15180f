/**
 * The sweep ledger in process memory, with the DynamoDB ledger's conditional semantics: for
 * tests and the protocol simulation (`npm run simulate`). One instance is one table.
 */
import { randomUUID } from 'node:crypto';
import type { SweepLease, SweepLedger, SweepStatus, SweepTenantResults } from '../ports.ts';

interface MemorySweep {
  status: SweepStatus;
  leaseOwner: string | null;
  listed: string[];
  withdrawn: Set<string>;
  /** Batch key -> its tenants, in the order recorded. */
  batches: Map<string, { at: string; tenants: SweepTenantResults[] }>;
}

export interface MemorySweepLedgerOptions {
  /** Lease tokens (a seeded source in the simulation). @default randomUUID */
  token?: () => string;
}

export function createMemorySweepLedger(options: MemorySweepLedgerOptions = {}): SweepLedger {
  const token = options.token ?? randomUUID;
  const sweeps = new Map<string, MemorySweep>();
  const pendingIds = new Set<string>();
  const copy = (status: SweepStatus): SweepStatus => ({ ...status });
  const ownedBy = (lease: SweepLease) => {
    const sweep = sweeps.get(lease.sweepId);
    return sweep !== undefined && sweep.leaseOwner === lease.token ? sweep : undefined;
  };

  return {
    async open(sweepId, tenantIds, deadline, now) {
      const listed = [...new Set(tenantIds)];
      sweeps.set(sweepId, {
        status: {
          sweepId,
          expected: listed.length,
          reported: 0,
          openedAt: now.toISOString(),
          deadline: deadline.toISOString(),
          judgedAt: null,
          complete: null,
          leaseUntil: null,
        },
        leaseOwner: null,
        listed,
        withdrawn: new Set(),
        batches: new Map(),
      });
      pendingIds.add(sweepId);
    },

    async withdraw(sweepId, tenantIds) {
      const sweep = sweeps.get(sweepId);
      if (sweep === undefined) return;
      const ids = [...new Set(tenantIds)].filter((id) => !sweep.withdrawn.has(id));
      for (const id of ids) sweep.withdrawn.add(id);
      sweep.status.expected -= ids.length;
    },

    async report(sweepId, tenants, now) {
      const sweep = sweeps.get(sweepId);
      if (tenants.length === 0 || sweep === undefined) return { recorded: false, mayBeComplete: false, late: false };
      const key = [...new Set(tenants.map((t) => t.tenantId))].sort().join('\n');
      const late = sweep.status.judgedAt !== null;
      if (sweep.batches.has(key)) return { recorded: false, mayBeComplete: false, late };
      // Results are plain data nobody mutates: a shallow copy keeps the caller's arrays out.
      sweep.batches.set(key, {
        at: now.toISOString(),
        tenants: tenants.map((t) => ({ ...t, results: [...t.results] })),
      });
      sweep.status.reported += new Set(tenants.map((t) => t.tenantId)).size;
      return { recorded: true, late, mayBeComplete: !late && sweep.status.reported >= sweep.status.expected };
    },

    async status(sweepId) {
      const sweep = sweeps.get(sweepId);
      return sweep === undefined ? undefined : copy(sweep.status);
    },

    async pending() {
      const out: SweepStatus[] = [];
      for (const sweepId of [...pendingIds].sort()) {
        const sweep = sweeps.get(sweepId);
        if (sweep !== undefined && sweep.status.judgedAt === null) out.push(copy(sweep.status));
        else pendingIds.delete(sweepId);
      }
      return out;
    },

    async claim(sweepId, now, leaseMs) {
      const sweep = sweeps.get(sweepId);
      if (sweep === undefined || sweep.status.judgedAt !== null) return null;
      const held = sweep.status.leaseUntil;
      if (held !== null && held > now.toISOString()) return null;
      const lease = { sweepId, token: token(), until: new Date(now.getTime() + leaseMs).toISOString() };
      sweep.status.leaseUntil = lease.until;
      sweep.leaseOwner = lease.token;
      return lease;
    },

    async expectedTenants(sweepId) {
      const sweep = sweeps.get(sweepId);
      return sweep === undefined ? [] : sweep.listed.filter((id) => !sweep.withdrawn.has(id));
    },

    async results(sweepId) {
      const sweep = sweeps.get(sweepId);
      if (sweep === undefined) return [];
      const byTenant = new Map<string, { at: string; results: SweepTenantResults['results'] }>();
      for (const { at, tenants } of sweep.batches.values()) {
        for (const entry of tenants) {
          const earlier = byTenant.get(entry.tenantId);
          if (earlier === undefined || at < earlier.at) byTenant.set(entry.tenantId, { at, results: entry.results });
        }
      }
      return [...byTenant].map(([tenantId, { results }]) => ({ tenantId, results: [...results] }));
    },

    async finish(lease, outcome, now) {
      const sweep = ownedBy(lease);
      if (sweep === undefined || sweep.status.judgedAt !== null) return false;
      sweep.status.judgedAt = now.toISOString();
      sweep.status.complete = outcome.complete;
      sweep.status.leaseUntil = null;
      sweep.leaseOwner = null;
      pendingIds.delete(lease.sweepId);
      return true;
    },

    async release(lease) {
      const sweep = ownedBy(lease);
      if (sweep === undefined) return;
      sweep.status.leaseUntil = null;
      sweep.leaseOwner = null;
    },
  };
}
