"""The web console: tenants' pages over the KMS API, served under ``/console/``.

A client of the KMS like boto3: every page calls KMS operations through
:class:`~strongroom.console.kms.ConsoleKms` on behalf of the signed-in principal, so the
pipeline's authorization, key-state table and audit decide what a user sees and may do. This
package imports nothing from ``strongroom.kms`` (``tests/unit/test_architecture.py``).
"""
