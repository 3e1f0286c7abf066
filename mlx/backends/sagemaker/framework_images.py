"""Which SageMaker images carry the SageMaker training toolkit, and so run SageMaker's tuner.

A tuning job's training definition has no ContainerEntrypoint (``tuning.py``): SageMaker
starts each trial as ``docker run IMAGE train`` ("How Amazon SageMaker AI Runs Your Training
Image": https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-dockerfile.html),
and only the SageMaker training toolkit (``pip install sagemaker-training``) puts a ``train``
that runs mlx's entry script there. AWS's framework training images carry it ("this library
is used by the following containers: TensorFlow Script Mode, MXNet, PyTorch, Chainer...",
github.com/aws/sagemaker-training-toolkit README; the Deep Learning Containers are the
current ones, listed per region at https://aws.github.io/deep-learning-containers/reference/
available_images/, where "Docker Registry Paths and Example Code" now sends readers:
https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html).
Any other image may lack it, and then every trial of a native tuning job fails at start;
mlx's own search submits plain training jobs, with ContainerEntrypoint, which any image runs.

The table: the training-scope repositories of the SageMaker Python SDK's image configs
(github.com/aws/sagemaker-python-sdk, sagemaker-core/src/sagemaker/core/image_uri_config/
{pytorch,tensorflow,mxnet,sklearn,xgboost,chainer,huggingface,huggingface-training-compiler,
huggingface-neuronx,pytorch-training-compiler,pytorch-smp,pytorch-neuron,
hyperpod-recipes-neuron,autogluon,coach-mxnet,coach-tensorflow,ray-pytorch,ray-tensorflow,
vw}.json at commit a24812666d258d9d19c9a82d0c9385ca0bd3ba01, August 2026): the frameworks
whose SDK estimators run an ``entry_point`` script through the toolkit. Left out: the
built-in algorithms (kmeans, blazingtext, the legacy ``xgboost:1`` algorithm image...), which run
no user script, and every inference or processing repository. The registries are copied as
published, region -> account; each repository is served by one account family, and a
family's regions are the union of its repositories' (a repository missing from one of them
names no image anyone can pull, so nothing is misjudged).
"""

from __future__ import annotations

import re
from typing import Optional

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag|@digest], as
# images.ECR_IMAGE accepts (https://docs.aws.amazon.com/AmazonECR/latest/userguide/Registries.html).
_ECR_PARTS = re.compile(
    r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)"
)

# AWS Deep Learning Containers (pytorch-training, tensorflow-training, huggingface-*...).
_DLC: dict[str, str] = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-east-2": "975050140332",
    "ap-northeast-1": "763104351884",
    "ap-northeast-2": "763104351884",
    "ap-northeast-3": "364406365360",
    "ap-south-1": "763104351884",
    "ap-south-2": "772153158452",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-central-1": "763104351884",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-1": "763104351884",
    "eu-central-2": "380420809688",
    "eu-north-1": "763104351884",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": "763104351884",
    "eu-west-2": "763104351884",
    "eu-west-3": "763104351884",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-iso-east-1": "886529160074",
    "us-isob-east-1": "094389454867",
    "us-isof-east-1": "303241398832",
    "us-isof-south-1": "454834333376",
    "us-west-1": "763104351884",
    "us-west-2": "763104351884",
}
# The SageMaker framework images from before the Deep Learning Containers.
_LEGACY_FRAMEWORKS: dict[str, str] = {
    "af-south-1": "313743910680",
    "ap-east-1": "057415533634",
    "ap-northeast-1": "520713654638",
    "ap-northeast-2": "520713654638",
    "ap-south-1": "520713654638",
    "ap-southeast-1": "520713654638",
    "ap-southeast-2": "520713654638",
    "ca-central-1": "520713654638",
    "cn-north-1": "422961961927",
    "cn-northwest-1": "423003514399",
    "eu-central-1": "520713654638",
    "eu-north-1": "520713654638",
    "eu-south-1": "048378556238",
    "eu-west-1": "520713654638",
    "eu-west-2": "520713654638",
    "eu-west-3": "520713654638",
    "me-south-1": "724002660598",
    "sa-east-1": "520713654638",
    "us-east-1": "520713654638",
    "us-east-2": "520713654638",
    "us-gov-west-1": "246785580436",
    "us-iso-east-1": "744548109606",
    "us-isob-east-1": "453391408702",
    "us-west-1": "520713654638",
    "us-west-2": "520713654638",
}
# SageMaker's scikit-learn and XGBoost framework images.
_SKLEARN_XGBOOST: dict[str, str] = {
    "af-south-1": "510948584623",
    "ap-east-1": "651117190479",
    "ap-northeast-1": "354813040037",
    "ap-northeast-2": "366743142698",
    "ap-northeast-3": "867004704886",
    "ap-south-1": "720646828776",
    "ap-south-2": "628508329040",
    "ap-southeast-1": "121021644041",
    "ap-southeast-2": "783357654285",
    "ap-southeast-3": "951798379941",
    "ap-southeast-4": "106583098589",
    "ca-central-1": "341280168497",
    "ca-west-1": "190319476487",
    "cn-north-1": "450853457545",
    "cn-northwest-1": "451049120500",
    "eu-central-1": "492215442770",
    "eu-central-2": "680994064768",
    "eu-north-1": "662702820516",
    "eu-south-1": "978288397137",
    "eu-south-2": "104374241257",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
    "eu-west-3": "659782779980",
    "il-central-1": "898809789911",
    "me-central-1": "272398656194",
    "me-south-1": "801668240914",
    "sa-east-1": "737474898029",
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-gov-east-1": "237065988967",
    "us-gov-west-1": "414596584902",
    "us-iso-east-1": "833128469047",
    "us-isob-east-1": "281123927165",
    "us-isof-east-1": "108575199400",
    "us-isof-south-1": "124985052026",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
}
# The SageMaker model parallelism library's PyTorch images.
_SMP: dict[str, str] = {
    "ap-northeast-1": "658645717510",
    "ap-northeast-2": "658645717510",
    "ap-northeast-3": "658645717510",
    "ap-south-1": "658645717510",
    "ap-southeast-1": "658645717510",
    "ap-southeast-2": "658645717510",
    "ca-central-1": "658645717510",
    "eu-central-1": "658645717510",
    "eu-north-1": "658645717510",
    "eu-west-1": "658645717510",
    "eu-west-2": "658645717510",
    "eu-west-3": "658645717510",
    "sa-east-1": "658645717510",
    "us-east-1": "658645717510",
    "us-east-2": "658645717510",
    "us-west-1": "658645717510",
    "us-west-2": "658645717510",
}
# SageMaker's reinforcement-learning containers (built on the framework images).
_RL: dict[str, str] = {
    "ap-northeast-1": "462105765813",
    "ap-northeast-2": "462105765813",
    "ap-south-1": "462105765813",
    "ap-southeast-1": "462105765813",
    "ap-southeast-2": "462105765813",
    "ca-central-1": "462105765813",
    "eu-central-1": "462105765813",
    "eu-west-1": "462105765813",
    "eu-west-2": "462105765813",
    "us-east-1": "462105765813",
    "us-east-2": "462105765813",
    "us-west-1": "462105765813",
    "us-west-2": "462105765813",
}

# repository -> the registries (region -> account) that serve it. The us-iso* regions'
# registries use other domains, which SageMaker jobs here are not sent to (images.ECR_IMAGE).
REPOSITORIES: dict[str, dict[str, str]] = {
    "autogluon-training": _DLC,
    "huggingface-pytorch-training": _DLC,
    "huggingface-pytorch-training-neuronx": _DLC,
    "huggingface-pytorch-trcomp-training": _DLC,
    "huggingface-tensorflow-training": _DLC,
    "huggingface-tensorflow-trcomp-training": _DLC,
    "mxnet-training": _DLC,
    "pytorch-training": _DLC,
    "pytorch-training-neuron": _DLC,
    "pytorch-training-neuronx": _DLC,
    "pytorch-trcomp-training": _DLC,
    "tensorflow-training": _DLC,
    "sagemaker-chainer": _LEGACY_FRAMEWORKS,
    "sagemaker-mxnet": _LEGACY_FRAMEWORKS,
    "sagemaker-pytorch": _LEGACY_FRAMEWORKS,
    "sagemaker-rl-mxnet": _LEGACY_FRAMEWORKS,
    "sagemaker-rl-tensorflow": _LEGACY_FRAMEWORKS,
    "sagemaker-tensorflow": _LEGACY_FRAMEWORKS,
    "sagemaker-tensorflow-scriptmode": _LEGACY_FRAMEWORKS,
    "sagemaker-scikit-learn": _SKLEARN_XGBOOST,
    "sagemaker-xgboost": _SKLEARN_XGBOOST,
    "smdistributed-modelparallel": _SMP,
    "sagemaker-rl-coach-container": _RL,
    "sagemaker-rl-ray-container": _RL,
    "sagemaker-rl-vw-container": _RL,
}


def is_framework_image(image: str) -> bool:
    """``image`` is one of AWS's framework training images (it has the training toolkit)."""
    found = _ECR_PARTS.match(image)
    if not found:
        return False
    account, region, repository = found.groups()
    return REPOSITORIES.get(repository, {}).get(region) == account


def native_tuner_gap(image: str) -> Optional[str]:
    """Why SageMaker's tuner may not start ``image``'s trials; None for a framework image."""
    if is_framework_image(image):
        return None
    return (
        f"`image` {image} is not an AWS framework image, so it may lack the SageMaker "
        "training toolkit that SageMaker's tuner starts each trial with"
    )
