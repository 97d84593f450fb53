"""The XKS proxy: AWS KMS external key stores use keys in a tenant's HSM through Strongroom.

``api.py`` (HTTP, SigV4 with the proxy's own credentials), ``wire.py`` (request and response
JSON, the spec's AAD and integrity value), ``proxy.py`` (the four operations), ``errors.py``
(the spec's error names and statuses, mapped in one place). The AES-GCM itself runs in the
custom key store's tokens (kms/keystores/pkcs11/cluster.py).
"""
