/**
 * Where the functions run in the platform's VPC, and how they get out of it: the subnets and
 * security groups by id (no lookups at synth), optionally the functions' own security group with
 * explicit egress (443, the database and Redis ports) for the DBA to allow on RDS and
 * ElastiCache, and, with `egress: "endpoints"`, interface endpoints for SQS, SNS and Secrets
 * Manager plus a gateway endpoint for DynamoDB, so no NAT is needed for AWS APIs.
 */
import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { Config } from '../functions/core/config.ts';
import type { DeploymentSettings } from './config.ts';

export interface Placement {
  vpc: ec2.IVpc;
  subnets: ec2.ISubnet[];
  securityGroups: ec2.ISecurityGroup[];
}

/** The TCP port of a URL, or `fallback` when it names none (or is a secret's, unknown at synth). */
function portOf(url: string | undefined, fallback: number): number {
  if (url === undefined) return fallback;
  try {
    const port = new URL(url).port;
    return port === '' ? fallback : Number(port);
  } catch {
    return fallback;
  }
}

/** The ports the functions open: the API's, the databases' and Redis's. */
export function egressPorts(canary: Config): { port: number; what: string }[] {
  const ports = new Map<number, string[]>();
  const add = (port: number, what: string) => ports.set(port, [...(ports.get(port) ?? []), what]);
  add(443, 'AWS APIs');
  add(portOf(canary.platform.baseUrl, new URL(canary.platform.baseUrl).protocol === 'https:' ? 443 : 80), 'the API');
  if (canary.database !== undefined) add(portOf(canary.database.url, 5432), 'PostgreSQL');
  if (canary.tenantSource.type === 'database') add(portOf(canary.tenantSource.url, 5432), 'the tenant source');
  if (canary.redis !== undefined) add(portOf(canary.redis.url, 6379), 'Redis');
  return [...ports].map(([port, what]) => ({ port, what: [...new Set(what)].join(', ') }));
}

export class CanaryNetwork extends Construct {
  readonly placement: Placement;
  /** The functions' own security group, when the config asks the stack to create it. */
  readonly securityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, vpcSettings: NonNullable<DeploymentSettings['vpc']>, canary: Config) {
    super(scope, id);
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'PlatformVpc', {
      vpcId: vpcSettings.vpcId,
      availabilityZones: vpcSettings.subnetIds.map((_, i) => `az-${i}`),
    });
    const subnets = vpcSettings.subnetIds.map((subnetId, i) => ec2.Subnet.fromSubnetId(this, `Subnet${i}`, subnetId));
    const securityGroups: ec2.ISecurityGroup[] = (vpcSettings.securityGroupIds ?? []).map((sgId, i) =>
      ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sgId, { mutable: false }),
    );
    if (vpcSettings.createSecurityGroup) {
      const own = new ec2.SecurityGroup(this, 'FunctionsSecurityGroup', {
        vpc,
        description: 'tenant-canary functions: egress to the API, PostgreSQL, Redis and AWS APIs only',
        allowAllOutbound: false,
      });
      for (const { port, what } of egressPorts(canary)) {
        own.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `tenant-canary to ${what}`);
      }
      securityGroups.push(own);
      this.securityGroup = own;
      new CfnOutput(Stack.of(this), 'FunctionsSecurityGroupId', {
        value: own.securityGroupId,
        description:
          'allow this security group on the RDS and ElastiCache security groups (PostgreSQL and Redis ports)',
      });
    }
    if (vpcSettings.egress === 'endpoints') {
      const services = {
        Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
        Sns: ec2.InterfaceVpcEndpointAwsService.SNS,
        SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      };
      for (const [name, service] of Object.entries(services)) {
        const endpoint = new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
          vpc,
          service,
          subnets: { subnets },
          privateDnsEnabled: true,
          open: false,
        });
        for (const group of securityGroups)
          endpoint.connections.allowFrom(group, ec2.Port.tcp(443), 'tenant-canary functions');
      }
      new ec2.CfnVPCEndpoint(this, 'DynamoDbEndpoint', {
        vpcId: vpcSettings.vpcId,
        serviceName: `com.amazonaws.${Stack.of(this).region}.dynamodb`,
        vpcEndpointType: 'Gateway',
        routeTableIds: vpcSettings.routeTableIds ?? [],
      });
    }
    this.placement = { vpc, subnets, securityGroups };
  }
}
