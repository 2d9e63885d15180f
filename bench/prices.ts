/**
 * The bench's prices: AWS list prices for the regions the examples deploy to and us-east-1, USD.
 * A region not in the table is priced as us-east-1, and the bill says so.
 *
 * Source: the public pricing pages (aws.amazon.com/lambda/pricing, /sqs/pricing, /sns/pricing,
 * /dynamodb/pricing/on-demand, /secrets-manager/pricing, /kms/pricing, /cloudwatch/pricing,
 * /eventbridge/pricing (Scheduler), /vpc/pricing (NAT gateway), /privatelink/pricing), as
 * published at {@link PRICE_DATE}: DynamoDB on-demand after its 1 November 2024 reduction (half
 * the earlier request prices), Lambda arm64 in the first 6 billion GB-seconds tier, CloudWatch
 * custom metrics in the first 10,000. Free tiers are not deducted (they are the account's, shared
 * with everything else in it).
 */

/** When the prices below were the published ones (the bill states it). */
export const PRICE_DATE = '2025-01';

export const US_EAST_1 = {
  lambdaGbSecondArm: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  sqsPerMillionRequests: 0.4,
  snsPerMillionPublishes: 0.5,
  snsPerEmail: 2 / 100_000,
  snsPerMillionHttps: 0.6,
  dynamoPerMillionWrites: 0.625,
  dynamoPerMillionReads: 0.125,
  dynamoStoragePerGbMonth: 0.25,
  dynamoPitrPerGbMonth: 0.2,
  secretsPerSecretMonth: 0.4,
  secretsPer10kCalls: 0.05,
  kmsPerKeyMonth: 1,
  kmsPer10kRequests: 0.03,
  cloudwatchPerAlarmMetricMonth: 0.1,
  cloudwatchPerDashboardMonth: 3,
  cloudwatchPerMetricMonth: 0.3,
  cloudwatchLogsPerGbIngested: 0.5,
  cloudwatchLogsPerGbMonthStored: 0.03,
  schedulerPerMillionInvocations: 1,
  vpcEndpointPerAzHour: 0.01,
  vpcEndpointPerGb: 0.01,
  natGatewayPerHour: 0.045,
  natGatewayPerGb: 0.045,
} as const;

export type BillPrices = { -readonly [K in keyof typeof US_EAST_1]: number };

/** Europe (Ireland): where both examples deploy. Only what differs from us-east-1 is listed. */
const EU_WEST_1: BillPrices = {
  ...US_EAST_1,
  // Half the pre-November-2024 $1.4135 and $0.283 per million.
  dynamoPerMillionWrites: 0.70675,
  dynamoPerMillionReads: 0.1415,
  dynamoStoragePerGbMonth: 0.283,
  dynamoPitrPerGbMonth: 0.22,
  cloudwatchLogsPerGbIngested: 0.57,
  cloudwatchLogsPerGbMonthStored: 0.03,
  vpcEndpointPerAzHour: 0.011,
  natGatewayPerHour: 0.048,
  natGatewayPerGb: 0.048,
};

export const REGION_PRICES: Readonly<Record<string, BillPrices>> = {
  'us-east-1': US_EAST_1,
  'eu-west-1': EU_WEST_1,
};

export interface RegionPricing {
  /** The region the config deploys to (undefined: the CLI's default, unknown to the bill). */
  region: string | undefined;
  /** The region whose prices are used. */
  pricedAs: string;
  prices: BillPrices;
  /** Set when the region is not in the table: what the bill assumed. */
  note?: string;
}

/** The prices of the config's deploy region; an unknown or unset region is priced as us-east-1, saying so. */
export function pricesFor(region: string | undefined): RegionPricing {
  const known = region === undefined ? undefined : REGION_PRICES[region];
  if (known !== undefined && region !== undefined) return { region, pricedAs: region, prices: known };
  return {
    region,
    pricedAs: 'us-east-1',
    prices: US_EAST_1,
    note:
      region === undefined
        ? 'no deployment.env.region in the config: priced as us-east-1'
        : `${region} is not in the bench's price table (${Object.keys(REGION_PRICES).join(', ')}): priced as us-east-1`,
  };
}
