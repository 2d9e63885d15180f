/** The contract between the stack and the Lambda handlers: environment variable and file names. */
export const LAMBDA_ENV = {
  configFile: 'CANARY_CONFIG_FILE',
  stateTable: 'CANARY_STATE_TABLE',
  sweepTable: 'CANARY_SWEEP_TABLE',
  queueUrl: 'CANARY_TENANT_QUEUE_URL',
  /** Seconds before a record the probe could not probe is delivered again (deployment.probe.retryDelaySeconds). */
  retryDelay: 'CANARY_PROBE_RETRY_DELAY_S',
  /** `true` when a Function URL caller may ask for its run's alerts to be published (deployment.onDemand.allowUrlPublish). */
  urlPublish: 'CANARY_URL_PUBLISH_ALLOWED',
  topic: { P0: 'CANARY_TOPIC_P0', P1: 'CANARY_TOPIC_P1', P2: 'CANARY_TOPIC_P2', P3: 'CANARY_TOPIC_P3' },
  /** The PagerDuty forwarder: the Events API v2 URL, and the routing key's Secrets Manager id and JSON key. */
  pagerdutyUrl: 'CANARY_PAGERDUTY_URL',
  pagerdutySecretId: 'CANARY_PAGERDUTY_SECRET_ID',
  pagerdutyJsonKey: 'CANARY_PAGERDUTY_SECRET_JSON_KEY',
  /** The dead-man's switch outside AWS, pinged after each judged sweep: a URL, or a secret holding it. */
  heartbeatUrl: 'CANARY_HEARTBEAT_URL',
  heartbeatSecretId: 'CANARY_HEARTBEAT_SECRET_ID',
  heartbeatJsonKey: 'CANARY_HEARTBEAT_SECRET_JSON_KEY',
} as const;

/** The file name of the embedded config inside a function's bundle. */
export const EMBEDDED_CONFIG_FILE = 'canary-config.json';
