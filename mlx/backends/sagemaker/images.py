"""Where SageMaker pulls the training image from, checked before anything is uploaded.

SageMaker training pulls from Amazon ECR, or from a private Docker registry reachable in the
job's VPC: AlgorithmSpecification.TrainingImageConfig with TrainingRepositoryAccessMode
``Vpc``, plus the job's VpcConfig ("Adapt your training job to access images in a private
Docker registry": https://docs.aws.amazon.com/sagemaker/latest/dg/
docker-containers-adapt-your-own-private-registry.html). A tuning job's training definition
(HyperParameterAlgorithmSpecification in botocore's service model) has no TrainingImageConfig:
its trials pull from ECR only. Docker Hub names such as ``python:3.11-slim`` are neither.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from mlx.backends.sagemaker.settings import settings_of
from mlx.errors import SpecError
from mlx.spec import JobSpec

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag|@digest]
# (https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+")
IMAGE_MAX = 255  # AlgorithmImage: at most 255 characters
_PUSH_HINT = (
    "Push the image to Amazon ECR (docker tag + docker push to "
    "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>), or use an AWS image such "
    "as 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3; "
    "`image:` may name one image per provider ({sagemaker: <ECR URI>, vertex: ..., ...})."
)


def training_image(spec: JobSpec, *, tuning: bool) -> str:
    """``spec``'s image, if SageMaker can pull it the way the settings say."""
    image = spec.image or ""
    if len(image) > IMAGE_MAX:
        raise SpecError(f"`image`: SageMaker allows image URIs of at most {IMAGE_MAX} characters")
    if ECR_IMAGE.match(image):
        return image
    if tuning:
        raise SpecError(
            f"`image` {image!r} is not in Amazon ECR: the trials of a SageMaker tuning job "
            "pull their image from ECR only",
            hint=_PUSH_HINT,
        )
    if settings_of(spec).image_access != "vpc":
        raise SpecError(
            f"`image` {image!r} is not in Amazon ECR: SageMaker pulls training images from "
            "ECR, or from a private registry in the job's VPC (`sagemaker.image_access: vpc`)",
            hint=_PUSH_HINT,
        )
    return image


def image_config(spec: JobSpec) -> Optional[dict[str, Any]]:
    """A training job's TrainingImageConfig: only for ``sagemaker.image_access: vpc``."""
    settings = settings_of(spec)
    if settings.image_access != "vpc":
        if settings.image_credentials:
            raise SpecError(
                "`sagemaker.image_credentials` is for a private registry: set "
                "`sagemaker.image_access: vpc` too"
            )
        return None
    if not settings.subnets:
        raise SpecError(
            "`sagemaker.image_access: vpc` pulls the image through the job's VPC: set "
            "`sagemaker.subnets` and `sagemaker.security_group_ids`"
        )
    config: dict[str, Any] = {"TrainingRepositoryAccessMode": "Vpc"}
    if settings.image_credentials:
        config["TrainingRepositoryAuthConfig"] = {
            "TrainingRepositoryCredentialsProviderArn": settings.image_credentials
        }
    return config
