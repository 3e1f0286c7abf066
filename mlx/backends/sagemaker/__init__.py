"""AWS SageMaker, driven with plain boto3 (the ``sagemaker`` SDK is not needed).

Modules: ``provider`` (the descriptor) and ``settings`` (the `sagemaker:` block);
``render`` and ``tuning`` build the requests (pure), ``limits`` checks what botocore does
not, ``staging`` uploads, ``states`` maps SageMaker's states, ``logs`` reads CloudWatch,
``artifacts`` and ``archive`` read S3, ``adopt`` serves jobs mlx did not launch,
``backend`` ties them to the ``Backend`` interface. Importing the package loads none of
them.
"""
