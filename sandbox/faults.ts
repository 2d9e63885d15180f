/**
 * Faults: the one place that knows how to break the sandbox and how to undo it. Each entry says
 * what it breaks, which checks must catch it (for `tenant-canary drill`), and its effect, made
 * of any of:
 * - `receiver` / `worker`: overrides of their behaviour, recomputed from the active set;
 * - `sql`: statements run as the database superuser when switched on, and their undoing;
 * - `apply` / `revert`: anything else (like re-encrypting a tenant's stored secret).
 * To add a fault, add an entry to DEFINITIONS: {@link SandboxFaultName} follows.
 */
import type { CheckId } from '../functions/core/catalog.ts';
import type { Tier } from '../functions/core/types.ts';
import type { SandboxDatabase } from './db.ts';
import { HEALTHY_RECEIVER, type ReceiverBehaviour } from './receiver.ts';
import type { SchemaRoles } from './schema.ts';
import { newSecret, type TenantDirectory } from './tenants.ts';
import { HEALTHY_WORKER, type WorkerBehaviour } from './worker.ts';

/** Faults on one tenant hit this one. */
export const FAULT_TARGET_TENANT = 'acme-corp';

export interface FaultExpectation {
  checkId: string;
  status: 'fail' | 'degraded' | 'error';
  tier: Tier;
  /** `target`: only FAULT_TARGET_TENANT; `all`: every tenant; `platform`: the platform check. */
  tenants: 'target' | 'all' | 'platform';
}

export interface SandboxFault {
  name: SandboxFaultName;
  description: string;
  target: 'platform' | 'one-tenant' | 'every-tenant';
  expect: readonly FaultExpectation[];
}

/** What a fault's `apply`/`revert` and `sql` can reach. */
export interface FaultContext {
  db: SandboxDatabase;
  roles: SchemaRoles;
  tenants: TenantDirectory;
  /** The secret the canary holds for a tenant (the one the receiver stores when healthy). */
  canarySecret(tenantId: string): string;
}

export interface FaultEffect {
  receiver?: Partial<ReceiverBehaviour>;
  worker?: Partial<WorkerBehaviour>;
  sql?: { apply: (roles: SchemaRoles) => string; revert: (roles: SchemaRoles) => string };
  apply?: (ctx: FaultContext) => Promise<void>;
  revert?: (ctx: FaultContext) => Promise<void>;
}

/** A fault and how to cause it. `name` is a plain string so tests can define their own. */
export interface FaultDefinition extends Omit<SandboxFault, 'name'> {
  name: string;
  effect: FaultEffect;
}

const expectation = (
  checkId: CheckId,
  tier: Tier,
  tenants: FaultExpectation['tenants'],
  status: FaultExpectation['status'] = 'fail',
): FaultExpectation => ({ checkId, status, tier, tenants });

const FORGERY_CHECKS = [
  'webhook.bad_signature_rejected',
  'webhook.missing_signature_rejected',
  'webhook.tampered_body_rejected',
  'webhook.cross_tenant_signature_rejected',
] as const satisfies readonly CheckId[];

const DEFINITIONS = [
  {
    name: 'health-down',
    description: 'GET /health answers 503 with the database dependency "unhealthy".',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'down' } },
  },
  {
    name: 'health-hangs',
    description: 'GET /health never answers (the connection is held open).',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'hangs' } },
  },
  {
    name: 'health-huge-body',
    description: 'GET /health answers 200 with a ~200 MB body of unknown length.',
    target: 'platform',
    expect: [expectation('api.health', 'P0', 'platform')],
    effect: { receiver: { health: 'huge-body' } },
  },
  {
    name: 'forged-signatures-accepted',
    description: "The receiver skips the signature check: missing, wrong, tampered and other tenants' all pass.",
    target: 'every-tenant',
    expect: FORGERY_CHECKS.map((checkId) => expectation(checkId, 'P0', 'all')),
    effect: { receiver: { verifySignatures: false } },
  },
  {
    name: 'secret-mismatch',
    description: `The secret stored for ${FAULT_TARGET_TENANT} in tenant_configs differs from the one the canary signs with.`,
    target: 'one-tenant',
    expect: [expectation('webhook.signed_accepted', 'P1', 'target')],
    effect: {
      apply: (ctx) => ctx.tenants.storeSecret(FAULT_TARGET_TENANT, newSecret()),
      revert: (ctx) => ctx.tenants.storeSecret(FAULT_TARGET_TENANT, ctx.canarySecret(FAULT_TARGET_TENANT)),
    },
  },
  {
    name: 'replay-window-off',
    description: 'The receiver accepts any created_at: replayed (stale) webhooks are queued.',
    target: 'every-tenant',
    expect: [expectation('webhook.stale_timestamp_rejected', 'P1', 'all')],
    effect: { receiver: { checkReplayWindow: false } },
  },
] as const satisfies readonly FaultDefinition[];

/** 'health-down' | 'health-hangs' | 'health-huge-body' | 'forged-signatures-accepted' | 'secret-mismatch' | 'replay-window-off' */
export type SandboxFaultName = (typeof DEFINITIONS)[number]['name'];

/** The sandbox's faults with their effects. */
export const FAULT_DEFINITIONS: readonly FaultDefinition[] = DEFINITIONS;

/** Every fault, what it breaks and which checks must report it. */
export const SANDBOX_FAULTS: readonly SandboxFault[] = DEFINITIONS.map(({ name, description, target, expect }) => ({
  name,
  description,
  target,
  expect,
}));

const NAMES = new Set<string>(DEFINITIONS.map((fault) => fault.name));

export function isSandboxFaultName(value: string): value is SandboxFaultName {
  return NAMES.has(value);
}

export interface Behaviour {
  receiver: Readonly<ReceiverBehaviour>;
  worker: Readonly<WorkerBehaviour>;
}

/** The behaviour for a set of faults: healthy defaults overridden in definition order. */
export function behaviourFor(
  faults: Iterable<string>,
  definitions: readonly FaultDefinition[] = FAULT_DEFINITIONS,
): Behaviour {
  const active = new Set(faults);
  let receiver: ReceiverBehaviour = { ...HEALTHY_RECEIVER };
  let worker: WorkerBehaviour = { ...HEALTHY_WORKER };
  for (const fault of definitions) {
    if (!active.has(fault.name)) continue;
    receiver = { ...receiver, ...fault.effect.receiver };
    worker = { ...worker, ...fault.effect.worker };
  }
  return { receiver, worker };
}

/**
 * Holds the active set and moves between sets: reverts what is switched off (newest first),
 * applies what is switched on, then publishes the new behaviour. Calls are serialized.
 */
export class FaultSwitchboard<Name extends string = SandboxFaultName> {
  readonly #ctx: FaultContext;
  readonly #onChange: (behaviour: Behaviour) => void;
  readonly #definitions: ReadonlyMap<string, FaultDefinition>;
  #active: Name[] = [];
  #queue: Promise<void> = Promise.resolve();
  #behaviour: Behaviour;

  constructor(
    ctx: FaultContext,
    onChange: (behaviour: Behaviour) => void,
    definitions: readonly FaultDefinition[] = FAULT_DEFINITIONS,
  ) {
    this.#ctx = ctx;
    this.#onChange = onChange;
    this.#definitions = new Map(definitions.map((fault) => [fault.name, fault]));
    this.#behaviour = behaviourFor([], definitions);
  }

  get behaviour(): Behaviour {
    return this.#behaviour;
  }

  active(): readonly Name[] {
    return [...this.#active];
  }

  /** Switches to exactly `faults`. Unknown names reject before anything changes. */
  set(faults: readonly Name[]): Promise<void> {
    const unknown = faults.filter((name) => !this.#definitions.has(name));
    if (unknown.length > 0) {
      const known = [...this.#definitions.keys()].join(', ');
      return Promise.reject(new Error(`unknown sandbox fault ${unknown.join(', ')} (known: ${known})`));
    }
    const run = this.#queue.then(() => this.#switch([...new Set(faults)]));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #switch(target: Name[]): Promise<void> {
    try {
      for (const name of [...this.#active].reverse()) {
        if (target.includes(name)) continue;
        await this.#revert(this.#definition(name));
        this.#active = this.#active.filter((active) => active !== name);
      }
      for (const name of target) {
        if (this.#active.includes(name)) continue;
        await this.#apply(this.#definition(name));
        this.#active.push(name);
      }
    } finally {
      // Whatever got applied is reflected, even when a later step failed.
      this.#ctx.tenants.invalidate();
      this.#behaviour = behaviourFor(this.#active, [...this.#definitions.values()]);
      this.#onChange(this.#behaviour);
    }
  }

  #definition(name: string): FaultDefinition {
    const found = this.#definitions.get(name);
    if (found === undefined) throw new Error(`unknown sandbox fault ${name}`);
    return found;
  }

  async #apply(fault: FaultDefinition): Promise<void> {
    if (fault.effect.sql !== undefined) await this.#ctx.db.admin(fault.effect.sql.apply(this.#ctx.roles));
    await fault.effect.apply?.(this.#ctx);
  }

  async #revert(fault: FaultDefinition): Promise<void> {
    await fault.effect.revert?.(this.#ctx);
    if (fault.effect.sql !== undefined) await this.#ctx.db.admin(fault.effect.sql.revert(this.#ctx.roles));
  }
}
