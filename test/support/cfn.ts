/**
 * A synthesised CloudFormation template as it would be once deployed: every resource given the
 * physical name CloudFormation would generate (`Stack-LogicalId-SUFFIX`, the suffix fixed per
 * logical id so runs are repeatable), and Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and
 * Fn::Split resolved against fixed pseudo parameters. An intrinsic or attribute it does not
 * know throws, naming it, instead of guessing.
 */
import { createHash } from 'node:crypto';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

export interface Deployed {
  account: string;
  region: string;
  stackName: string;
}

/** The property that names a resource when the template sets it, by resource type. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::Scheduler::Schedule': 'Name',
};

export class DeployedTemplate {
  readonly resources: Record<string, CfnResource>;
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
  private readonly names = new Map<string, string>();

  constructor(template: CfnTemplate, deployed: Deployed) {
    this.resources = template.Resources;
    this.account = deployed.account;
    this.region = deployed.region;
    this.stackName = deployed.stackName;
  }

  /** The resources of one type, by logical id. */
  ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, resource]) => resource.Type === type);
  }

  resource(logicalId: string): CfnResource {
    const resource = this.resources[logicalId];
    if (resource === undefined) throw new Error(`the template has no resource ${logicalId}`);
    return resource;
  }

  /** The physical name: the template's, or `Stack-LogicalId-SUFFIX` as CloudFormation makes one. */
  physicalName(logicalId: string): string {
    const known = this.names.get(logicalId);
    if (known !== undefined) return known;
    const resource = this.resource(logicalId);
    const property = NAME_PROPERTY[resource.Type];
    const given = property === undefined ? undefined : resource.Properties?.[property];
    const suffix = createHash('sha256').update(logicalId).digest('hex').slice(0, 12).toUpperCase();
    const name =
      given === undefined ? `${this.stackName}-${logicalId}-${suffix}`.slice(0, 64) : String(this.resolve(given));
    this.names.set(logicalId, name);
    return name;
  }

  /** What `Ref` of a resource returns, by its type. */
  ref(logicalId: string): string {
    const pseudo = this.pseudo(logicalId);
    if (pseudo !== undefined) return pseudo;
    const { Type } = this.resource(logicalId);
    switch (Type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${this.physicalName(logicalId)}`;
      case 'AWS::SNS::Topic':
        return this.arn('sns', this.physicalName(logicalId));
      case 'AWS::KMS::Key':
        return this.keyId(logicalId);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:aws:iam::${this.account}:policy/${this.physicalName(logicalId)}`;
      default:
        return this.physicalName(logicalId);
    }
  }

  /** What `Fn::GetAtt` returns; an attribute not modelled here throws. */
  getAtt(logicalId: string, attribute: string): string {
    const { Type } = this.resource(logicalId);
    const name = () => this.physicalName(logicalId);
    const key = `${Type}.${attribute}`;
    switch (key) {
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${name()}`);
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', name());
      case 'AWS::SQS::Queue.QueueName':
        return name();
      case 'AWS::SQS::Queue.QueueUrl':
        return this.ref(logicalId);
      case 'AWS::SNS::Topic.TopicArn':
        return this.ref(logicalId);
      case 'AWS::SNS::Topic.TopicName':
        return name();
      case 'AWS::KMS::Key.Arn':
        return this.arn('kms', `key/${this.keyId(logicalId)}`);
      case 'AWS::KMS::Key.KeyId':
        return this.keyId(logicalId);
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${name()}`);
      case 'AWS::IAM::Role.Arn': {
        const path = this.resource(logicalId).Properties?.Path;
        return `arn:aws:iam::${this.account}:role${path === undefined ? '/' : this.resolveString(path)}${name()}`;
      }
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${name()}:*`);
      case 'AWS::CloudWatch::Alarm.Arn':
        return this.arn('cloudwatch', `alarm:${name()}`);
      case 'AWS::Scheduler::Schedule.Arn':
        return this.arn('scheduler', `schedule/default/${name()}`);
      case 'AWS::Lambda::Url.FunctionUrl':
        return `https://${name().toLowerCase()}.lambda-url.${this.region}.on.aws/`;
      default:
        throw new Error(`Fn::GetAtt ${logicalId}.${attribute} (${Type}) is not modelled in test/support/cfn.ts`);
    }
  }

  /** `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE` in this stack's account and region. */
  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.region}:${this.account}:${resource}`;
  }

  /** The logical id of the resource whose Ref or Arn is `value`, if any. */
  logicalIdOf(value: string): string | undefined {
    for (const logicalId of Object.keys(this.resources)) {
      if (this.ref(logicalId) === value) return logicalId;
      try {
        if (this.getAtt(logicalId, 'Arn') === value) return logicalId;
      } catch {
        // no Arn attribute for this type
      }
    }
    return undefined;
  }

  /** `value` with every intrinsic function resolved. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item)).filter((item) => item !== undefined);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
      return this.intrinsic(first[0], first[1]);
    }
    return Object.fromEntries(
      entries.map(([key, item]) => [key, this.resolve(item)]).filter(([, item]) => item !== undefined),
    );
  }

  /** {@link resolve} for a value that must be a string. */
  resolveString(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string') throw new Error(`${JSON.stringify(value)} does not resolve to a string`);
    return resolved;
  }

  private intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return argument === 'AWS::NoValue' ? undefined : this.ref(String(argument));
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? (argument as string[])
          : String(argument).split(/\.(.*)/s);
        return this.getAtt(String(logicalId), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown];
        const list = this.resolve(parts);
        if (!Array.isArray(list)) throw new Error(`Fn::Join of ${JSON.stringify(parts)}: not a list`);
        return list.map(String).join(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(argument)
          ? (argument as [string, Record<string, unknown>])
          : [String(argument), {}];
        return text.replace(/\$\{([^}!]+)\}/g, (_, expression: string) => {
          if (expression in variables) return String(this.resolve(variables[expression]));
          const [logicalId, attribute] = expression.split(/\.(.*)/s);
          return attribute === undefined
            ? this.ref(String(logicalId))
            : this.getAtt(String(logicalId), String(attribute));
        });
      }
      case 'Fn::Select': {
        const [index, list] = argument as [unknown, unknown];
        const resolved = this.resolve(list);
        if (!Array.isArray(resolved)) throw new Error(`Fn::Select from ${JSON.stringify(list)}: not a list`);
        return resolved[Number(this.resolve(index))];
      }
      case 'Fn::Split': {
        const [separator, text] = argument as [string, unknown];
        return this.resolveString(text).split(separator);
      }
      default:
        throw new Error(`${name} is not modelled in test/support/cfn.ts`);
    }
  }

  private pseudo(name: string): string | undefined {
    switch (name) {
      case 'AWS::AccountId':
        return this.account;
      case 'AWS::Region':
        return this.region;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::StackId':
        return this.arn('cloudformation', `stack/${this.stackName}/00000000-0000-4000-8000-000000000000`);
      default:
        return undefined;
    }
  }

  /** A key id shaped like KMS's (a UUID), fixed per logical id. */
  private keyId(logicalId: string): string {
    const hex = createHash('sha256').update(`key:${logicalId}`).digest('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }
}
