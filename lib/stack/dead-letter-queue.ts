import { Duration, type Stack } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/** A queue that keeps what could not be delivered or processed for 14 days, encrypted, TLS only. */
export function deadLetterQueue(stack: Stack, id: string): sqs.Queue {
  return new sqs.Queue(stack, id, {
    retentionPeriod: Duration.days(14),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
}
