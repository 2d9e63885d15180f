/**
 * The canary's roles and their statements: exact ARNs only, no managed policy, each function
 * writing to its own log group and reading only the secrets it needs.
 */
import { Arn, ArnFormat, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { CanaryFunction } from '../canary-function.ts';
import type { Placement } from '../network.ts';

/**
 * A role with no managed policy. Inside a VPC it gets the network-interface actions Lambda
 * needs, inline (the AWS managed AWSLambdaVPCAccessExecutionRole also grants logs:* on every log
 * group): creating one only in the configured subnets and security groups; the Describe actions
 * take no resource, so they keep "*".
 */
export function functionRole(stack: Stack, id: string, description: string, placement: Partial<Placement>): iam.Role {
  return new iam.Role(stack, id, {
    description,
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    ...(placement.vpc === undefined
      ? {}
      : { inlinePolicies: { VpcNetworkInterfaces: networkInterfacePolicy(stack, placement) } }),
  });
}

/** What Lambda needs to place a function's network interfaces in the configured subnets and security groups. */
function networkInterfacePolicy(stack: Stack, placement: Partial<Placement>): iam.PolicyDocument {
  const ec2Arns = (resource: string, ids: readonly string[]) =>
    ids.map((id) =>
      Arn.format({ service: 'ec2', resource, resourceName: id, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }, stack),
    );
  const [anyInterface] = ec2Arns('network-interface', ['*']);
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'DescribeNetwork',
        actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
        resources: ['*'], // Describe actions support no resource-level permissions
      }),
      new iam.PolicyStatement({
        sid: 'CreateInPlacement',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          anyInterface!,
          ...ec2Arns(
            'subnet',
            (placement.subnets ?? []).map((subnet) => subnet.subnetId),
          ),
          ...ec2Arns(
            'security-group',
            (placement.securityGroups ?? []).map((group) => group.securityGroupId),
          ),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'ManageNetworkInterfaces',
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [anyInterface!],
      }),
    ],
  });
}

/** A function writes to its own log group only. */
export function allowOwnLogs(role: iam.Role, fn: CanaryFunction): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'WriteOwnLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [fn.logGroupRef.logGroupArn],
    }),
  );
}

/**
 * secretsmanager:GetSecretValue on the secrets named in config and, when they are encrypted with
 * customer-managed keys, kms:Decrypt on those keys (through Secrets Manager only).
 */
export function allowReadSecrets(
  stack: Stack,
  role: iam.Role,
  sids: { read: string; decrypt: string },
  secretIds: readonly string[],
  kmsKeyArns: readonly string[],
): void {
  if (secretIds.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: sids.read,
        actions: ['secretsmanager:GetSecretValue'],
        resources: secretIds.map((secretId) => secretArn(stack, secretId)),
      }),
    );
  }
  if (kmsKeyArns.length > 0) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: sids.decrypt,
        actions: ['kms:Decrypt'],
        resources: [...kmsKeyArns],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${stack.region}.amazonaws.com` } },
      }),
    );
  }
}

/**
 * The ARN of a secret named in config: a full ARN as given; a name becomes the ARN with
 * Secrets Manager's six-character suffix matched by `??????` (never `*`).
 */
function secretArn(stack: Stack, secretId: string): string {
  if (secretId.startsWith('arn:')) return secretId;
  return Arn.format(
    {
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${secretId}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    },
    stack,
  );
}
