"""An S3-compatible object store that encrypts every object, a client of the KMS.

It imports ``strongroom.client`` (the KMS as seen by a service), never ``strongroom.kms``;
docs/architecture.md shows the request path through its modules.
"""
