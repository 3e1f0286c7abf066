"""Google Vertex AI, driven with the ``aiplatform_v1`` GAPIC client (not the 2.5 s SDK).

Modules: ``render`` and ``study`` build the requests (pure), ``settings`` and ``layout``
say where things go, ``staging`` uploads, ``clients`` makes the clients and maps errors,
``states`` maps Vertex's states, ``logs`` reads Cloud Logging, ``artifacts`` reads Cloud
Storage, ``backend`` ties them to the ``Backend`` interface.
"""

from mlx.backends.vertex.backend import VertexBackend

__all__ = ["VertexBackend"]
