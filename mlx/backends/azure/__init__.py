"""Azure ML: command and sweep jobs through azure-ai-ml, artifacts and logs through
azure-storage-blob, credentials through azure-identity (``--provider azure``).

Importing this package loads nothing: the registry reads ``provider`` (the descriptor),
and each SDK is imported by the function that first needs it (``import azure.ai.ml``
alone takes ~2 s). ``backend`` ties the modules to the ``Backend`` interface.
"""
