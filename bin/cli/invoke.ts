/**
 * `invoke --url URL --tenant ID [--publish] [--json]`: runs the deployed canary for one tenant
 * now. POSTs `{"tenantId", "publish"?}` to the probe function's URL, signed with SigV4 (service
 * `lambda`) from the default AWS credential chain, and prints the report as `run` does.
 *
 * Exit codes as `run`: 0 all pass, 1 a check failed or errored (or the canary itself failed:
 * a 5xx, a timeout, no answer), 2 a usage problem or a refusal of this request (4xx: unknown
 * tenant, missing permission, bad signature); one line on stderr, nothing on stdout.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { TENANT_ID_PATTERN } from '../../functions/core/config.ts';
import { CanaryError, errorMessage } from '../../functions/core/errors.ts';
import { isFailing } from '../../functions/core/results.ts';
import type { Report } from '../../functions/core/types.ts';
import { EXIT_FAILING, EXIT_OK, EXIT_USAGE, exitFor } from './errors.ts';
import { renderReport, styleFor } from './render.ts';

export interface InvokeOptions {
  url: string;
  tenant: string;
  publish?: boolean;
  json?: boolean;
  /** Seconds. */
  timeout?: string;
}

export interface InvokeIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  signal?: AbortSignal;
}

export interface InvokeDeps {
  /** @default the default credential chain (env, SSO, shared files, container, instance) */
  credentials?: CredentialProvider;
}

/** A provider of AWS credentials, as the default chain is one. */
export type CredentialProvider = () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;

/** The caller's mistake (exit 2), or the deployed canary failing or unreachable (exit 1). */
class InvokeError extends CanaryError {
  override name = 'InvokeError';
  constructor(message: string, exitCode: typeof EXIT_USAGE | typeof EXIT_FAILING) {
    super(exitCode === EXIT_USAGE ? 'usage' : 'remote', message);
  }
}

/** The region of a Function URL (`<id>.lambda-url.<region>.on.aws`), else of the environment. */
export function regionFor(url: URL, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const match = /^[a-z0-9]+\.lambda-url\.([a-z]{2}(?:-[a-z]+)+-\d)\.on\.aws$/.exec(url.hostname);
  return match?.[1] ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined);
}

/** Signs a JSON POST for a Lambda Function URL with SigV4. */
export async function signLambdaPost(
  url: URL,
  body: string,
  region: string,
  credentials: CredentialProvider,
): Promise<HttpRequest> {
  const signer = new SignatureV4({ service: 'lambda', region, credentials, sha256: Hash.bind(null, 'sha256') });
  const request = new HttpRequest({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port === '' ? {} : { port: Number(url.port) }),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  });
  return (await signer.sign(request)) as HttpRequest;
}

export async function invokeCommand(options: InvokeOptions, io: InvokeIo, deps: InvokeDeps = {}): Promise<number> {
  try {
    const report = await invoke(options, io, deps);
    const target = `the deployed canary at ${new URL(options.url).host}`;
    io.stdout.write(
      options.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : renderReport(report, styleFor(io.stdout, io.env), target, { alertsPublished: options.publish === true }),
    );
    return report.results.some((result) => isFailing(result.status)) ? EXIT_FAILING : EXIT_OK;
  } catch (error) {
    const exit = exitFor(error);
    if (!(error instanceof InvokeError) || exit === undefined) throw error;
    io.stderr.write(exit.line);
    return exit.code;
  }
}

async function invoke(options: InvokeOptions, io: InvokeIo, deps: InvokeDeps): Promise<Report> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new InvokeError('--url must be the Function URL (https://<id>.lambda-url.<region>.on.aws/)', EXIT_USAGE);
  }
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new InvokeError('--url must be an https:// Function URL', EXIT_USAGE);
  }
  if (!TENANT_ID_PATTERN.test(options.tenant)) {
    throw new InvokeError('--tenant must match ^[a-z0-9-]{1,100}$', EXIT_USAGE);
  }
  const timeoutS = Number(options.timeout ?? '300');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0 || timeoutS > 900) {
    throw new InvokeError('--timeout must be a number of seconds from 1 to 900', EXIT_USAGE);
  }
  const region = regionFor(url, io.env);
  if (region === undefined) {
    throw new InvokeError('no AWS region: the URL does not name one, and AWS_REGION is not set', EXIT_USAGE);
  }
  const body = JSON.stringify({ tenantId: options.tenant, ...(options.publish ? { publish: true } : {}) });
  let signed: HttpRequest;
  try {
    signed = await signLambdaPost(url, body, region, deps.credentials ?? defaultProvider());
  } catch (error) {
    throw new InvokeError(`no AWS credentials to sign with (${errorMessage(error)})`, EXIT_USAGE);
  }
  const signals = [AbortSignal.timeout(timeoutS * 1000), ...(io.signal ? [io.signal] : [])];
  const signal = AbortSignal.any(signals);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: signed.headers,
      body,
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    throw new InvokeError(
      `the canary at ${url.host} could not be reached: ${fetchReason(error, `no answer within ${timeoutS} s`)}`,
      EXIT_FAILING,
    );
  }
  let text: string;
  try {
    // Under the same deadline as the headers: a body that stalls ends at --timeout too.
    text = await readBody(response, MAX_ANSWER_BYTES);
  } catch (error) {
    if (error instanceof InvokeError) throw error;
    throw new InvokeError(
      `the canary at ${url.host} answered ${response.status} but its body could not be read: ${fetchReason(
        error,
        `not complete within ${timeoutS} s`,
      )}`,
      EXIT_FAILING,
    );
  }
  if (response.status !== 200) {
    const detail = errorDetail(text);
    const hint =
      response.status === 403 && !detail.includes('allowUrlPublish')
        ? ' (the caller needs lambda:InvokeFunctionUrl and lambda:InvokeFunction on the probe function, and a valid signature)'
        : '';
    throw new InvokeError(
      `the canary answered ${response.status}${detail ? `: ${detail}` : ''}${hint}`,
      response.status >= 400 && response.status < 500 ? EXIT_USAGE : EXIT_FAILING,
    );
  }
  const report = parseReport(text);
  if (report === undefined) throw new InvokeError('the canary answered 200 without a report', EXIT_FAILING);
  return report;
}

/** The largest answer read: a report of one tenant is a few KB; more is not the canary. */
export const MAX_ANSWER_BYTES = 10 * 1024 * 1024;

/** Why a fetch (or the reading of its body) failed, in one phrase: `timedOut` for the deadline. */
function fetchReason(error: unknown, timedOut: string): string {
  if (!(error instanceof Error)) return 'unknown error';
  if (error.name === 'TimeoutError') return timedOut;
  return (error.cause as Error | undefined)?.message ?? error.message;
}

/** The body as text, refused (and the connection dropped) past `maxBytes`. */
async function readBody(response: Response, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new InvokeError(
      `the canary answered ${response.status} with a body larger than ${maxBytes / (1024 * 1024)} MiB`,
      EXIT_FAILING,
    );
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The `{error}` of a canary answer, or AWS's `{Message}`, cut short. */
function errorDetail(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: unknown; Message?: unknown; message?: unknown };
    const detail = json.error ?? json.Message ?? json.message;
    if (typeof detail === 'string') return detail.slice(0, 300);
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 200);
}

function parseReport(text: string): Report | undefined {
  try {
    const json = JSON.parse(text) as Partial<Report>;
    if (typeof json.runId !== 'string' || !Array.isArray(json.results) || !Array.isArray(json.alerts)) return undefined;
    return json as Report;
  } catch {
    return undefined;
  }
}
