"""The shared cloud toolkit: what the cloud providers do alike, written once.

``pacing`` (every poll and retry interval), ``create`` (create a job once and settle a
lost answer), ``follow`` (logs through overlapping windows), ``objects`` (the object-store
protocol: put, get, list, ranged reads, upload-once by content), ``plan`` (what a submit
uploads and sends), ``layout`` (where a job's files go).
"""
