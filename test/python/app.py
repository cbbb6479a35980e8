"""The API and batch examples (examples/api-classifier.ts, examples/batch-classifier.ts) as a
Python CDK app on the jsii Python package: the same stacks, construct ids and props, so that
test/python-app.test.ts can require the same templates as the TypeScript ones.

    node scripts/python-app.mjs          # prints the venv's python (builds and installs the wheel)
    CDK_OUTDIR=/tmp/out <that python> test/python/app.py

Synth needs no AWS account, no Docker and no network, as for the TypeScript examples.
"""
import os

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from constructs import Construct

from cdk_serverless_tensorflow import (
    ApiAuthorization,
    BatchInference,
    Compute,
    InferenceApi,
    InferenceTask,
    Model,
    TensorFlowFunction,
)

# The demo MobileNetV2 that `npx projen runtime:build` converts (examples/container-classifier.ts).
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEMO_MODEL_DIR = os.path.join(ROOT, "runtime", "models", "mobilenet_v2")
DEMO_LABELS = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"]


def demo_classifier(scope: Construct, **options) -> TensorFlowFunction:
    """The demo MobileNetV2 as the model "demo", like the examples' demoClassifier."""
    return TensorFlowFunction(
        scope,
        "Classifier",
        model=Model.from_asset(DEMO_MODEL_DIR),
        # The demo model's own preprocessing: bilinear resize with aligned corners, then /255.
        task=InferenceTask.image_classification(input_size=224, align_corners=True, labels=DEMO_LABELS, top_k=3),
        model_name="demo",
        **options,
    )


class ApiClassifierStack(cdk.Stack):
    """The demo model in a CPU container behind a REST API with API key authorization."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.classifier = demo_classifier(self, compute=Compute.container(), provisioned_concurrency=1)
        self.api = InferenceApi(
            self,
            "Api",
            function=self.classifier,
            authorization=ApiAuthorization.api_key(
                throttle=apigw.ThrottleSettings(rate_limit=20, burst_limit=40),
                quota=apigw.QuotaSettings(limit=10_000, period=apigw.Period.DAY),
            ),
        )
        cdk.CfnOutput(self, "ClassifyUrl", description="POST an image here with the header x-api-key", value=f"{self.api.url}classify")
        cdk.CfnOutput(
            self,
            "ApiKeyId",
            description="Read the key: aws apigateway get-api-key --include-value --api-key <this id>",
            value=self.api.api_key.key_id,
        )


class BatchClassifierStack(cdk.Stack):
    """Images put under uploads/ in the created bucket, classified into predictions/."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # One chunk of work per invocation, with room to spare (not an API's 30 s).
        self.classifier = demo_classifier(self, compute=Compute.container(), timeout=cdk.Duration.minutes(5))
        self.batch = BatchInference(
            self,
            "Batch",
            function=self.classifier,
            input_prefix="uploads/",
            output_prefix="predictions/",
            max_concurrency=5,
        )


app = cdk.App()
ApiClassifierStack(app, "ServerlessTfApi")
BatchClassifierStack(app, "ServerlessTfBatch")
app.synth()
