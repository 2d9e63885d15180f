/** An SQS record as the Lambda event source delivers it to the probe (the simulation, the bench, tests). */
import type { SQSRecord } from 'aws-lambda';

export function sqsRecord(
  messageId: string,
  body: string,
  options: { receiveCount?: number; sentAt?: number } = {},
): SQSRecord {
  const receiveCount = options.receiveCount ?? 1;
  const sent = String(options.sentAt ?? 0);
  return {
    messageId,
    receiptHandle: `rh-${messageId}-${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: sent,
      SenderId: 'sweep',
      ApproximateFirstReceiveTimestamp: sent,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:canary-probe',
    awsRegion: 'eu-west-1',
  };
}
