"""Narrow interfaces through which other parts of Strongroom use the KMS as a client.

The object store imports only this package, never ``strongroom.kms``: it reaches keys through
:class:`~strongroom.client.kms.KmsClient`, callers' credentials through
:class:`~strongroom.client.identity.Authenticator` and IAM identity policies through
:class:`~strongroom.client.identity.IdentityPolicies`. The implementations live in the KMS
(``kms/service/in_process_client.py``) and run every call through the KMS's own pipeline.
"""
