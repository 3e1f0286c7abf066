"""The SageMaker provider's descriptor (its credentials: credentials.py)."""

from __future__ import annotations

from mlx.cloud.pacing import Pacing
from mlx.providers import Capability, Machines, Provider

PROVIDER = Provider(
    name="sagemaker",
    title="SageMaker",
    backend="mlx.backends.sagemaker.backend:SageMakerBackend",
    extra="sagemaker",
    sdk_modules=("boto3",),
    settings="mlx.backends.sagemaker.settings:SageMakerSettings",
    runner="mlx.backends.sagemaker.runner:SageMakerRunner",
    # No call is made: any valid names serve (the account is SageMaker's documentation one).
    rehearsal_settings=(
        ("role", "arn:aws:iam::123456789012:role/mlx-rehearsal"),
        ("bucket", "mlx-rehearsal"),
        ("region", "us-east-1"),
    ),
    credentials="mlx.backends.sagemaker.credentials:find_credentials",
    login_hint="aws configure (or set AWS_PROFILE)",
    rank=10,
    # SageMaker pulls training images from Amazon ECR only ("Adapt your training job to
    # access images in a private Docker registry": https://docs.aws.amazon.com/sagemaker/
    # latest/dg/docker-containers-adapt-your-own-private-registry.html): the quickstart's
    # AWS scikit-learn image has Python and the training toolkit.
    image_hint="Set `image:` to an image in Amazon ECR (SageMaker pulls from ECR only), e.g. "
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3 "
    "(us-east-1's; configs/quickstart.yaml names one per provider).",
    uri_schemes=("s3",),
    capabilities=frozenset({Capability.TUNING, Capability.ADOPT, Capability.NEEDS_IMAGE}),
    machines=Machines(catalog="mlx.catalog:data/sagemaker.csv", instance_prefix="ml."),
    pacing=Pacing(
        poll=2.0,
        # FilterLogEvents: 5 per second per account (logs.py): one a second while lines
        # come, down to one every 2 s while the job is quiet.
        log_poll=1.0,
        log_max_poll=2.0,
        log_overlap=30.0,
        # CloudWatch shows a line seconds after it was written: the read after the job
        # ended waits a little for the last ones.
        log_drain=2.0,
        create_attempts=3,
    ),
)
