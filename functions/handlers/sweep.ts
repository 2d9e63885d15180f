/** The scheduled sweep's entry (functions/app/sweep.ts): context in, summary out, metrics flushed. */
import type { Context } from 'aws-lambda';
import { openPorts } from '../adapters/index.ts';
import type { AppDeps } from '../app/deps.ts';
import { type SweepSummary, sweep } from '../app/sweep.ts';
import { deadlineSignal } from '../core/concurrency.ts';
import { describeError } from '../core/errors.ts';
import { scheduledTimeOf } from '../core/events.ts';
import { createLambdaDeps } from './runtime.ts';

export type { SweepSummary };

export function createSweepHandler(deps: AppDeps) {
  return async (event: unknown, context?: Context): Promise<SweepSummary> => {
    const { logger, metrics } = deps;
    if (context) logger.addContext(context);
    try {
      const remaining = context ? () => context.getRemainingTimeInMillis() : undefined;
      return await sweep(deps, deadlineSignal(context?.getRemainingTimeInMillis()), remaining, scheduledTimeOf(event));
    } catch (error) {
      logger.error('sweep failed', { error: describeError(error) });
      throw error;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}

/** The sweep's production wiring: its platform checks read the Redis queue. */
export function createSweepDeps(env: Readonly<Record<string, string | undefined>> = process.env): AppDeps {
  return createLambdaDeps(env, openPorts);
}

let production: ReturnType<typeof createSweepHandler> | undefined;

/** The Lambda entry point. */
export const handler = (event: unknown, context: Context): Promise<SweepSummary> => {
  production ??= createSweepHandler(createSweepDeps());
  return production(event, context);
};
