"""The ML storage volume of a SageMaker job: size, KMS key, and the instance types with local
NVMe storage, where neither applies.

From the CreateTrainingJob reference (botocore ``data/sagemaker/2017-07-24/service-2.json``,
shape ``ResourceConfig``; https://docs.aws.amazon.com/sagemaker/latest/APIReference/
API_ResourceConfig.html):

- ``VolumeKmsKeyId``: "Certain Nitro-based instances include local storage ... encrypted
  using a hardware module on the instance. You can't request a VolumeKmsKeyId when using an
  instance type with local storage."
- ``VolumeSizeInGB``: "When using an ML instance with NVMe SSD volumes, SageMaker doesn't
  provision Amazon EBS General Purpose SSD (gp2) storage. Available storage is fixed to the
  NVMe-type instance's storage capacity ... ML instance families with the NVMe-type instance
  storage include ml.p4d, ml.g4dn, and ml.g5."
"""

from __future__ import annotations

import math
from typing import Any, Optional

# Which types have instance storage. EC2 names them with a "d" among the family's
# attributes ("d – Instance store volumes":
# https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html); the
# sagemaker SDK uses that rule too (sagemaker/utils.py ``volume_size_supported``: "Any
# instance type with a 'd' in the instance family (i.e. c5d, p4d, etc) + g5 does not support
# attaching an EBS volume"). Accelerated families whose instance store has no "d" in their
# name, from "Instance store specifications" of
# https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html:
_NVME_WITHOUT_D = frozenset(
    {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200"}
    | {"trn1", "trn1n", "trn2"}
)
DEFAULT_VOLUME_GB = 30


def family(instance_type: str) -> str:
    """``ml.g5.xlarge`` -> ``g5``."""
    parts = instance_type.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "ml" else parts[0]


def has_instance_store(instance_type: str) -> bool:
    """True for types whose ML storage is local NVMe (no EBS volume, no volume key)."""
    name = family(instance_type)
    return "d" in name or name in _NVME_WITHOUT_D


def volume(
    instance_type: str, disk_gb: Optional[float], kms_key: Optional[str]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ResourceConfig volume fields for ``instance_type``, and what the user should know."""
    config: dict[str, Any] = {
        "VolumeSizeInGB": max(1, math.ceil(disk_gb)) if disk_gb else DEFAULT_VOLUME_GB
    }
    if not has_instance_store(instance_type):
        if kms_key:
            config["VolumeKmsKeyId"] = kms_key
        return config, ()
    warnings: tuple[str, ...] = ()
    if disk_gb:
        warnings += (
            f"`resources.disk` has no effect on {instance_type}: it has local NVMe storage, "
            "which SageMaker uses instead of an EBS volume (its size comes with the instance "
            "type)",
        )
    if kms_key:
        warnings += (
            f"`sagemaker.kms_key_id` encrypts the job's output in S3 only: {instance_type} "
            "stores data on local NVMe, encrypted by the instance's hardware, and SageMaker "
            "takes no volume key there",
        )
    return config, warnings
