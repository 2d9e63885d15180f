/**
 * What the stack gives a function: environment variables (tables, topics, the queue) and the
 * config file bundled beside the code. A missing or malformed one is a ConfigError naming it.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import * as z from 'zod';
import { type Config, ConfigError, parseConfig, parseJsonObjectText, unreadableFileError } from '../core/config.ts';
import { EMBEDDED_CONFIG_FILE, LAMBDA_ENV } from '../core/lambda-env.ts';
import { TIERS } from '../core/types.ts';

export { EMBEDDED_CONFIG_FILE, LAMBDA_ENV };

const required = (name: string) => z.string({ error: `${name} is not set` }).min(1, { error: `${name} is empty` });

const envSchema = z.object({
  [LAMBDA_ENV.configFile]: z.string().min(1).default(EMBEDDED_CONFIG_FILE),
  [LAMBDA_ENV.stateTable]: required(LAMBDA_ENV.stateTable),
  [LAMBDA_ENV.sweepTable]: required(LAMBDA_ENV.sweepTable),
  [LAMBDA_ENV.topic.P0]: required(LAMBDA_ENV.topic.P0),
  [LAMBDA_ENV.topic.P1]: required(LAMBDA_ENV.topic.P1),
  [LAMBDA_ENV.topic.P2]: required(LAMBDA_ENV.topic.P2),
  [LAMBDA_ENV.topic.P3]: required(LAMBDA_ENV.topic.P3),
  [LAMBDA_ENV.queueUrl]: z.string().min(1).optional(),
  [LAMBDA_ENV.retryDelay]: z
    .string()
    .regex(/^\d{1,3}$/, { error: `${LAMBDA_ENV.retryDelay} must be a whole number of seconds` })
    .optional(),
});

export interface LambdaSettings {
  configPath: string;
  stateTable: string;
  sweepTable: string;
  topics: Record<(typeof TIERS)[number], string>;
  /** The probe queue: the sweep sends to it, the probe hands back what it could not probe. */
  queueUrl?: string;
  /** Seconds before a record handed back is delivered again. @default the adapter's */
  retryDelaySeconds?: number;
}

/** Reads the stack's environment variables; a missing one is a {@link ConfigError} naming it. */
export function readLambdaSettings(env: Readonly<Record<string, string | undefined>>): LambdaSettings {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  const values = parsed.data as Record<string, string | undefined>;
  const file = values[LAMBDA_ENV.configFile] as string;
  const root = env.LAMBDA_TASK_ROOT ?? process.cwd();
  const queueUrl = values[LAMBDA_ENV.queueUrl];
  const retryDelay = values[LAMBDA_ENV.retryDelay];
  return {
    configPath: isAbsolute(file) ? file : join(root, file),
    stateTable: values[LAMBDA_ENV.stateTable] as string,
    sweepTable: values[LAMBDA_ENV.sweepTable] as string,
    topics: Object.fromEntries(TIERS.map((tier) => [tier, values[LAMBDA_ENV.topic[tier]] as string])) as Record<
      (typeof TIERS)[number],
      string
    >,
    ...(queueUrl === undefined ? {} : { queueUrl }),
    ...(retryDelay === undefined ? {} : { retryDelaySeconds: Number(retryDelay) }),
  };
}

/** The config the stack bundled with the function, with the topics the stack created. */
export async function loadEmbeddedConfig(settings: LambdaSettings): Promise<Config> {
  const source = `the embedded config ${settings.configPath}`;
  let text: string;
  try {
    text = await readFile(settings.configPath, 'utf8');
  } catch (error) {
    throw unreadableFileError(source, error, { phrase: 'cannot be read' });
  }
  const input = parseJsonObjectText(text, source);
  const alerts = (input.alerts ?? {}) as Record<string, unknown>;
  return parseConfig({ ...input, alerts: { ...alerts, topics: settings.topics } });
}
