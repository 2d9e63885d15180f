/**
 * The PagerDuty forwarder's entry (functions/app/forward-alert.ts): subscribed by the stack to
 * the tiers of `alerts.pagerduty`, outside the VPC (it talks to PagerDuty and Secrets Manager only).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SNSEvent } from 'aws-lambda';
import { createHttpClient } from '../adapters/http.ts';
import { createPagerDutySender } from '../adapters/pagerduty.ts';
import { createSecretResolver } from '../adapters/secrets.ts';
import { type ForwarderDeps, forwardAlerts } from '../app/forward-alert.ts';
import { ConfigError } from '../core/config.ts';
import { LAMBDA_ENV } from '../core/lambda-env.ts';
import { SERVICE_NAME } from '../core/telemetry.ts';

export function createForwarderDeps(env: Readonly<Record<string, string | undefined>> = process.env): ForwarderDeps {
  const url = env[LAMBDA_ENV.pagerdutyUrl];
  const secretId = env[LAMBDA_ENV.pagerdutySecretId];
  if (!url || !secretId) {
    throw new ConfigError([`${LAMBDA_ENV.pagerdutyUrl} and ${LAMBDA_ENV.pagerdutySecretId} must be set`]);
  }
  const jsonKey = env[LAMBDA_ENV.pagerdutyJsonKey];
  const secrets = createSecretResolver({ env });
  const http = createHttpClient({ connectTimeoutMs: 5_000 });
  return {
    logger: new Logger({ serviceName: env.POWERTOOLS_SERVICE_NAME || SERVICE_NAME }),
    routingKey: () => secrets.resolve({ secretId, ...(jsonKey ? { jsonKey } : {}) }),
    sender: (budgetMs) => createPagerDutySender({ url, http, budgetMs }),
  };
}

export function createForwarderHandler(deps: ForwarderDeps) {
  return async (event: SNSEvent, context?: Context): Promise<void> => {
    if (context) deps.logger.addContext(context);
    await forwardAlerts(deps, event, () => context?.getRemainingTimeInMillis() ?? 60_000);
  };
}

let production: ReturnType<typeof createForwarderHandler> | undefined;

/** The Lambda entry point. */
export const handler = (event: SNSEvent, context: Context): Promise<void> => {
  production ??= createForwarderHandler(createForwarderDeps());
  return production(event, context);
};
