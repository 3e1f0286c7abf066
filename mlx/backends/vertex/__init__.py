"""Google Vertex AI, driven with the ``aiplatform_v1`` GAPIC client (not the 2.5 s SDK).

Modules: ``provider`` (the descriptor), ``render`` and ``study`` build the requests
(pure), ``settings`` and ``layout`` say where things go, ``staging`` uploads, ``clients``
makes the clients and maps errors, ``states`` maps Vertex's states, ``logs`` reads Cloud
Logging, ``artifacts`` reads Cloud Storage, ``machines`` spells accelerators, ``backend``
ties them to the ``Backend`` interface. Importing the package loads none of them.
"""
