/**
 * AWS as the functions see it in a test: every AWS SDK v3 command is caught at the client (with
 * aws-sdk-client-mock) and recorded with the function it was made for, the client's region and
 * its input, then answered: DynamoDB by a real implementation (dynalite, the document client's
 * commands forwarded to it), SNS, SQS and Secrets Manager by small fakes. Besides the clients the
 * functions use, the base class of every SDK client is stubbed too, so a client nobody here fakes
 * (a new SDK call) is caught and recorded as such instead of reaching AWS.
 *
 * `send` is stubbed on the class prototypes, so clients built later, lazily (functions/adapters
 * `loadOnce`), are caught like the others.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type AwsStub, mockClient } from 'aws-sdk-client-mock';

/** One command a function sent. */
export interface SdkCall {
  /** The function it was sent for ({@link AwsFake.as}); undefined when sent outside of one. */
  caller: string | undefined;
  /** The service, as the IAM action prefix names it (dynamodb, sns, sqs, secretsmanager) or the client's service id. */
  service: string;
  /** The command's class name, e.g. `GetCommand`, `PublishBatchCommand`. */
  command: string;
  input: Record<string, unknown>;
  /** The region of the client that sent it. */
  region: string;
  /** The client class that sent it. */
  client: string;
  /** `catch-all`: a client this fake does not know (caught by the stub of the SDK's base client). */
  caughtBy: 'client' | 'catch-all';
}

export interface PublishedMessage {
  topicArn: string;
  subject: string | undefined;
  message: string;
  attributes: Record<string, { DataType: string; StringValue?: string }>;
}

export interface AwsFake {
  readonly calls: SdkCall[];
  readonly published: PublishedMessage[];
  readonly sent: { queueUrl: string; body: string }[];
  /** Runs `work`, recording the commands sent meanwhile as `caller`'s. */
  as<T>(caller: string, work: () => Promise<T>): Promise<T>;
  /** The DynamoDB endpoint the document client's commands are forwarded to. */
  dynamoEndpoint: string;
  /** A DynamoDB client on that endpoint, for setting up tables (its commands are not recorded). */
  sendToDynamo(command: unknown): Promise<unknown>;
  restore(): Promise<void>;
}

export interface AwsFakeOptions {
  /** Secret values by the SecretId the functions send; any other id is ResourceNotFoundException. */
  secrets: ReadonlyMap<string, string>;
  region: string;
}

type SmithySend = (this: unknown, command: unknown) => Promise<unknown>;
type ClientClass = { prototype: { send: SmithySend } };

/** The SDK's base client (every service client extends it), and its own `send`, kept before anything is stubbed. */
const BaseClient = Object.getPrototypeOf(SNSClient) as ClientClass;
const baseSend = BaseClient.prototype.send;

type DynaliteFactory = (options: { createTableMs: number }) => import('node:http').Server;
const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;

const SERVICE_OF: [ClientClass, string][] = [
  [DynamoDBDocumentClient as unknown as ClientClass, 'dynamodb'],
  [DynamoDBClient as unknown as ClientClass, 'dynamodb'],
  [SNSClient as unknown as ClientClass, 'sns'],
  [SQSClient as unknown as ClientClass, 'sqs'],
  [SecretsManagerClient as unknown as ClientClass, 'secretsmanager'],
];

class NamedError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

export async function startAwsFake(options: AwsFakeOptions): Promise<AwsFake> {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dynamoEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const backendConfig = {
    endpoint: dynamoEndpoint,
    region: options.region,
    credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-only' },
  };
  const backend = new DynamoDBClient(backendConfig);
  const backendDocument = DynamoDBDocumentClient.from(backend, { marshallOptions: { removeUndefinedValues: true } });

  const calls: SdkCall[] = [];
  const published: PublishedMessage[] = [];
  const sent: { queueUrl: string; body: string }[] = [];
  let caller: string | undefined;
  let messages = 0;

  const answer = async (service: string, self: unknown, command: { input: Record<string, unknown> }) => {
    const name = command.constructor.name;
    const input = command.input;
    switch (`${service}:${name}`) {
      case 'sns:PublishCommand':
        published.push({
          topicArn: String(input.TopicArn),
          subject: input.Subject as string | undefined,
          message: String(input.Message),
          attributes: (input.MessageAttributes ?? {}) as PublishedMessage['attributes'],
        });
        return { MessageId: `sns-${++messages}` };
      case 'sns:PublishBatchCommand': {
        const entries = input.PublishBatchRequestEntries as Record<string, unknown>[];
        for (const entry of entries) {
          published.push({
            topicArn: String(input.TopicArn),
            subject: entry.Subject as string | undefined,
            message: String(entry.Message),
            attributes: (entry.MessageAttributes ?? {}) as PublishedMessage['attributes'],
          });
        }
        return { Successful: entries.map((entry) => ({ Id: entry.Id, MessageId: `sns-${++messages}` })), Failed: [] };
      }
      case 'sqs:SendMessageCommand':
        sent.push({ queueUrl: String(input.QueueUrl), body: String(input.MessageBody) });
        return { MessageId: `sqs-${++messages}` };
      case 'sqs:SendMessageBatchCommand': {
        const entries = input.Entries as { Id: string; MessageBody: string }[];
        for (const entry of entries) sent.push({ queueUrl: String(input.QueueUrl), body: entry.MessageBody });
        return { Successful: entries.map((entry) => ({ Id: entry.Id, MessageId: `sqs-${++messages}` })), Failed: [] };
      }
      case 'sqs:ChangeMessageVisibilityBatchCommand':
      case 'sqs:DeleteMessageBatchCommand':
        return { Successful: (input.Entries as { Id: string }[]).map((entry) => ({ Id: entry.Id })), Failed: [] };
      case 'secretsmanager:GetSecretValueCommand': {
        const value = options.secrets.get(String(input.SecretId));
        if (value === undefined) {
          throw new NamedError('ResourceNotFoundException', 'Secrets Manager can not find the specified secret.');
        }
        return { ARN: String(input.SecretId), SecretString: value };
      }
      default:
        if (service === 'dynamodb') {
          const target = self instanceof DynamoDBDocumentClient ? backendDocument : backend;
          return baseSend.call(target, command);
        }
        return {};
    }
  };

  const stubs: AwsStub<object, never, unknown>[] = [];
  const install = (clientClass: ClientClass, service: string | undefined) => {
    const stub = mockClient(clientClass as never) as unknown as AwsStub<object, never, unknown>;
    stub.send.callsFake(async function (this: unknown, command: unknown) {
      const cmd = command as { input: Record<string, unknown>; constructor: { name: string } };
      const config = (this as { config?: { region?: unknown; serviceId?: string } }).config;
      const region = typeof config?.region === 'function' ? await (config.region as () => Promise<string>)() : '';
      const sdkService =
        service ??
        String(config?.serviceId ?? 'unknown')
          .toLowerCase()
          .replaceAll(' ', '');
      calls.push({
        caller,
        service: sdkService,
        command: cmd.constructor.name,
        input: structuredClone(cmd.input),
        region: String(region ?? ''),
        client: (this as object).constructor.name,
        caughtBy: service === undefined ? 'catch-all' : 'client',
      });
      return (await answer(sdkService, this, cmd)) as never;
    } as never);
    stubs.push(stub);
  };
  // The service clients first: aws-sdk-client-mock replaces a `send` that already is a stub, and
  // before their own stubs the service clients' `send` is the base client's.
  for (const [clientClass, service] of SERVICE_OF) install(clientClass, service);
  install(BaseClient, undefined);

  return {
    calls,
    published,
    sent,
    dynamoEndpoint,
    async as(name, work) {
      if (caller !== undefined) throw new Error(`commands are already being recorded for ${caller}`);
      caller = name;
      try {
        return await work();
      } finally {
        caller = undefined;
      }
    },
    sendToDynamo: (command) => baseSend.call(backend, command),
    async restore() {
      for (const stub of stubs.reverse()) stub.restore();
      backend.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
