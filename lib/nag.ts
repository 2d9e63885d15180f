/**
 * cdk-nag (AwsSolutions) findings that were reviewed and acknowledged, each with its reason.
 * Any other finding fails the synth.
 */
import { Annotations, type Stack, Token, Validations } from 'aws-cdk-lib';
import type { TenantCanaryStack } from './canary-stack.ts';

export function suppressReviewedFindings(stack: TenantCanaryStack): void {
  for (const fn of [stack.sweep, stack.probe, ...(stack.pagerDuty ? [stack.pagerDuty.forwarder] : [])]) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the design fixes (DESIGN.md, "AWS shape") and the one the code and tests target; a newer runtime is a deliberate upgrade, not a drift.',
    });
    if (fn === stack.pagerDuty?.forwarder) continue; // outside the VPC: no network-interface statement
    Validations.of(fn.role!).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "Inside the platform's VPC Lambda describes the subnets and network interfaces it places the function in; ec2:DescribeSubnets and ec2:DescribeNetworkInterfaces support no resource-level permissions. The statement holds only them.",
    });
    Validations.of(fn.role!).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:${pseudo(stack.region, 'Region')}:${pseudo(stack.account, 'AccountId')}:network-interface/*]`,
      reason:
        'Lambda creates, deletes and assigns addresses to network interfaces whose ids are not known before they exist; creating one is limited to the configured subnets and security groups (their exact ARNs in the same statement).',
    });
  }
  for (const queue of [stack.deliveryDeadLetters, ...(stack.pagerDuty ? [stack.pagerDuty.deadLetters] : [])]) {
    Validations.of(queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself a dead-letter queue (of the SNS subscriptions, or of the PagerDuty forwarder's failed invocations), alarmed on depth; cdk-nag only recognises dead-letter queues of other SQS queues.",
    });
  }
  acknowledgeRouteTableWarnings(stack);
}

/** Subnets imported by id carry no route table id: the canary never reads one. */
function acknowledgeRouteTableWarnings(stack: Stack): void {
  for (const child of stack.node.findAll()) {
    if (/^Subnet\d+$/.test(child.node.id)) {
      Annotations.of(child).acknowledgeWarning(
        '@aws-cdk/aws-ec2:noSubnetRouteTableId',
        'the functions are only placed in these subnets; no route table is read',
      );
    }
  }
}

/** A stack's region or account as cdk-nag prints it in a finding: the value, or the pseudo parameter. */
function pseudo(value: string, name: 'Region' | 'AccountId'): string {
  return Token.isUnresolved(value) ? `<AWS::${name}>` : value;
}
