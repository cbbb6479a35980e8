// Example: the GPU classifier in a VPC of your own. Its instances run in the private subnets
// (one NAT gateway, an S3 gateway endpoint so model downloads skip the NAT, flow logs) with a
// security group of yours that allows no inbound traffic; one to four execution environments,
// behind a REST API with IAM authorization.
import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ApiAuthorization, Compute, InferenceApi, TensorFlowFunction } from '../lib';
import { efficientNet } from './gpu-classifier';

export class GpuInVpcStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly classifier: TensorFlowFunction;
  public readonly api: InferenceApi;

  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.vpc = new ec2.Vpc(this, 'Network', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'ingress', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'gpu', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.ALL } },
    });
    this.vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const securityGroup = new ec2.SecurityGroup(this, 'GpuInstances', { vpc: this.vpc, description: 'GPU instances: outbound only', allowAllOutbound: true });

    const models = s3.Bucket.fromBucketName(this, 'Models', 'my-model-bucket');
    this.classifier = new TensorFlowFunction(this, 'Classifier', {
      ...efficientNet(models),
      compute: Compute.gpu({
        vpc: this.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [securityGroup],
        maxExecutionEnvironments: 4,
        minExecutionEnvironments: 1,
      }),
      timeout: Duration.seconds(30),
    });
    this.api = new InferenceApi(this, 'Api', { function: this.classifier, authorization: ApiAuthorization.iam() });
  }
}
