/**
 * The DynamoDB document client, loaded on the first call: the SDK is external to the bundles
 * (the Lambda runtime ships it), and a static import would load it at INIT, in every container,
 * whether or not the invocation reaches DynamoDB. Commands are named, not constructed, so no
 * SDK class is needed before then.
 */
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type * as Doc from '@aws-sdk/lib-dynamodb';
import { awsClientDefaults, loadOnce } from './aws-client.ts';

interface DocumentOps {
  BatchGet: [Doc.BatchGetCommandInput, Doc.BatchGetCommandOutput];
  Delete: [Doc.DeleteCommandInput, Doc.DeleteCommandOutput];
  Get: [Doc.GetCommandInput, Doc.GetCommandOutput];
  Put: [Doc.PutCommandInput, Doc.PutCommandOutput];
  Query: [Doc.QueryCommandInput, Doc.QueryCommandOutput];
  Update: [Doc.UpdateCommandInput, Doc.UpdateCommandOutput];
}

export type DocumentOp = keyof DocumentOps;

export interface LazyDocumentClient {
  send<O extends DocumentOp>(op: O, input: DocumentOps[O][0]): Promise<DocumentOps[O][1]>;
}

export interface DocumentClientOptions {
  /** A prepared client (tests: a local endpoint). @default one with {@link awsClientDefaults} */
  client?: DynamoDBClient;
  clientConfig?: DynamoDBClientConfig | undefined;
}

export function lazyDocumentClient(options: DocumentClientOptions): LazyDocumentClient {
  const loaded = loadOnce(async () => {
    const [{ DynamoDBClient }, lib] = await Promise.all([
      import('@aws-sdk/client-dynamodb'),
      import('@aws-sdk/lib-dynamodb'),
    ]);
    const base = options.client ?? new DynamoDBClient({ ...awsClientDefaults(), ...options.clientConfig });
    return { doc: lib.DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } }), lib };
  });
  return {
    async send(op, input) {
      const { doc, lib } = await loaded();
      const Command = lib[`${op}Command`] as unknown as new (input: unknown) => Parameters<typeof doc.send>[0];
      return (await doc.send(new Command(input))) as never;
    },
  };
}

/** A conditional write whose condition did not hold (by name: the SDK class is not loaded here). */
export function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}
