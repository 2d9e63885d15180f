/**
 * The worker and the fault mechanism that later database and worker faults build on: behaviour
 * overrides and SQL effects switched through a FaultSwitchboard, against a real PGlite database.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFernetKey } from '../../functions/core/fernet.ts';
import { type SandboxDatabase, startDatabase } from '../../sandbox/db.ts';
import { type Behaviour, type FaultDefinition, FaultSwitchboard } from '../../sandbox/faults.ts';
import { type EnhancementJob, type JobQueue, openQueue } from '../../sandbox/queue.ts';
import { seedDatabase } from '../../sandbox/seed.ts';
import { type SandboxTenant, sandboxTenants, seedTenants, TenantDirectory } from '../../sandbox/tenants.ts';
import { EnhancementWorker } from '../../sandbox/worker.ts';

const TEST_FAULTS: FaultDefinition[] = [
  {
    name: 'workers-stopped',
    description: 'nothing consumes the queue',
    target: 'platform',
    expect: [{ checkId: 'enhancement.round_trip', status: 'fail', tier: 'P1', tenants: 'all' }],
    effect: { worker: { consuming: false } },
  },
  {
    name: 'workers-slow',
    description: 'enhancements take ten times as long',
    target: 'platform',
    expect: [{ checkId: 'enhancement.round_trip', status: 'degraded', tier: 'P2', tenants: 'all' }],
    effect: { worker: { latencyFactor: 10 } },
  },
  {
    name: 'enhancements-failing',
    description: 'every enhancement fails',
    target: 'platform',
    expect: [{ checkId: 'enhancement.round_trip', status: 'fail', tier: 'P1', tenants: 'all' }],
    effect: { worker: { outcome: 'failed' } },
  },
  {
    name: 'enhancements-empty',
    description: 'enhancements complete without text',
    target: 'platform',
    expect: [{ checkId: 'enhancement.quality', status: 'fail', tier: 'P3', tenants: 'all' }],
    effect: { worker: { outcome: 'empty-output' } },
  },
  {
    name: 'rls-disabled-ticket-history',
    description: 'RLS is off on ticket_history',
    target: 'platform',
    expect: [{ checkId: 'rls.tables_enabled', status: 'fail', tier: 'P0', tenants: 'platform' }],
    effect: {
      sql: {
        apply: () => 'ALTER TABLE ticket_history DISABLE ROW LEVEL SECURITY',
        revert: () => 'ALTER TABLE ticket_history ENABLE ROW LEVEL SECURITY',
      },
    },
  },
];

describe('the worker under switchable faults', () => {
  let db: SandboxDatabase;
  let queue: JobQueue;
  let worker: EnhancementWorker;
  let switchboard: FaultSwitchboard<string>;
  let tenants: SandboxTenant[];
  let behaviour: Behaviour;

  beforeAll(async () => {
    [db, queue] = await Promise.all([startDatabase({ log: () => {} }), openQueue({ redis: 'memory', log: () => {} })]);
    tenants = sandboxTenants(2);
    const key = generateFernetKey();
    await seedDatabase({ query: (sql, params) => db.admin(sql, params) }, seedTenants(tenants, key));
    const directory = new TenantDirectory(db, key);
    switchboard = new FaultSwitchboard<string>(
      { db, roles: db.roles, tenants: directory, queue, useCertificate: () => {}, canarySecret: () => '' },
      (next) => {
        behaviour = next;
        worker?.notify();
      },
      TEST_FAULTS,
    );
    behaviour = switchboard.behaviour;
    worker = new EnhancementWorker({
      db,
      queue,
      latencyMs: { min: 20, max: 30 },
      syntheticPrefix: 'SYNTH-',
      behaviour: () => behaviour.worker,
      log: () => {},
    });
    worker.start();
  });

  afterAll(async () => {
    await worker?.stop();
    await queue?.close();
    await db?.stop();
  });

  function job(tenantId: string, ticketId = `SYNTH-${randomUUID().slice(0, 8).toUpperCase()}`): EnhancementJob {
    return {
      job_id: randomUUID(),
      ticket_id: ticketId,
      tenant_id: tenantId,
      description: 'Printer on floor 3 prints blank pages',
      priority: 'medium',
      created_at: new Date().toISOString(),
      correlation_id: randomUUID(),
    };
  }

  async function row(tenantId: string, ticketId: string) {
    return db.withTenant(tenantId, async (client) => {
      const result = await client.query(
        `SELECT status, llm_output, error_message, processing_time_ms, context_gathered
         FROM enhancement_history WHERE ticket_id = $1`,
        [ticketId],
      );
      return result.rows[0] as
        | {
            status: string;
            llm_output: string | null;
            error_message: string | null;
            processing_time_ms: number;
            context_gathered: Record<string, unknown>;
          }
        | undefined;
    });
  }

  async function settled(tenantId: string, ticketId: string, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = await row(tenantId, ticketId);
      if (found !== undefined && found.status !== 'pending') return found;
      await sleep(20);
    }
    throw new Error(`${ticketId} was not settled in ${timeoutMs} ms`);
  }

  it('completes a job with text citing the tenant history, and never writes back a synthetic ticket', async () => {
    const tenantId = tenants[0]?.tenantId ?? '';
    const queued = job(tenantId);
    await queue.push(queued);
    const done = await settled(tenantId, queued.ticket_id);
    expect(done.status).toBe('completed');
    expect(done.llm_output).toContain(queued.ticket_id);
    expect(done.llm_output).toMatch(/Similar resolved tickets: REQ-/);
    expect(done.context_gathered).toMatchObject({ write_back: 'skipped: synthetic ticket', inventory_hosts: 10 });
    const real = job(tenantId, 'REQ-777001');
    await queue.push(real);
    expect((await settled(tenantId, real.ticket_id)).context_gathered.write_back).toMatch(/^simulated/);
  });

  it('leaves jobs queued while stopped, and takes them up when switched back', async () => {
    await switchboard.set(['workers-stopped']);
    const tenantId = tenants[1]?.tenantId ?? '';
    const queued = job(tenantId);
    await queue.push(queued);
    await sleep(300);
    expect(await queue.depth()).toBe(1);
    expect(await row(tenantId, queued.ticket_id)).toBeUndefined();
    await switchboard.set([]);
    expect((await settled(tenantId, queued.ticket_id)).status).toBe('completed');
    expect(await queue.depth()).toBe(0);
  });

  it('records failures, empty text and slowness as switched', async () => {
    const tenantId = tenants[0]?.tenantId ?? '';
    await switchboard.set(['enhancements-failing']);
    const failing = job(tenantId);
    await queue.push(failing);
    expect(await settled(tenantId, failing.ticket_id)).toMatchObject({ status: 'failed', llm_output: null });
    expect((await row(tenantId, failing.ticket_id))?.error_message).toMatch(/LLM provider/);

    await switchboard.set(['enhancements-empty']);
    const empty = job(tenantId);
    await queue.push(empty);
    expect(await settled(tenantId, empty.ticket_id)).toMatchObject({ status: 'completed', llm_output: '' });

    await switchboard.set(['workers-slow']);
    const slow = job(tenantId);
    await queue.push(slow);
    expect((await settled(tenantId, slow.ticket_id)).processing_time_ms).toBeGreaterThanOrEqual(200);
    await switchboard.set([]);
  });

  it('applies and reverts SQL faults as the database superuser', async () => {
    const rlsOn = async () =>
      (await db.admin(`SELECT relrowsecurity FROM pg_class WHERE relname = 'ticket_history'`)).rows[0]?.relrowsecurity;
    const otherTenantsVisible = () =>
      db.withTenant(tenants[0]?.tenantId ?? '', async (client) => {
        const result = await client.query('SELECT count(DISTINCT tenant_id)::int AS n FROM ticket_history');
        return result.rows[0]?.n as number;
      });
    expect(await rlsOn()).toBe(true);
    expect(await otherTenantsVisible()).toBe(1);
    await switchboard.set(['rls-disabled-ticket-history']);
    expect(await rlsOn()).toBe(false);
    expect(await otherTenantsVisible()).toBe(2);
    await switchboard.set([]);
    expect(await rlsOn()).toBe(true);
    expect(await otherTenantsVisible()).toBe(1);
  });

  it('drops malformed jobs and jobs for inactive tenants, and carries on', async () => {
    const tenantId = tenants[1]?.tenantId ?? '';
    await queue.unpop('not json');
    await queue.push(job('umbrella-offboarded'));
    const after = job(tenantId);
    await queue.push(after);
    expect((await settled(tenantId, after.ticket_id)).status).toBe('completed');
  });

  it('refuses an unknown fault without changing anything', async () => {
    await switchboard.set(['workers-slow']);
    await expect(switchboard.set(['workers-slow', 'nope'])).rejects.toThrow(/unknown sandbox fault nope/);
    expect(switchboard.active()).toEqual(['workers-slow']);
    await switchboard.set([]);
    expect(switchboard.active()).toEqual([]);
  });
});
