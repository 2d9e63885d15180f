/** Powertools stand-ins for use cases run in tests: a logger that says nothing, metrics that keep nothing. */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';

const noop = () => {};

export const silentLogger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  createChild: () => silentLogger,
  addContext: noop,
} as unknown as Logger;

const single = { addDimensions: () => single, addMetric: noop };

export const discardedMetrics = {
  addMetric: noop,
  addDimensions: noop,
  singleMetric: () => single,
  hasStoredMetrics: () => false,
  publishStoredMetrics: noop,
} as unknown as Metrics;
