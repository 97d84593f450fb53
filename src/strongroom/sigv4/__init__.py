"""AWS Signature Version 4: the primitives every verifier here shares.

The KMS's JSON API (``kms/api/sigv4.py``) and the object store's S3 API
(``objectstore/sigv4.py``) build their canonical requests differently (URI encoding, query
parsing, the payload hash) and word their errors as their own APIs do, but both derive the
same signing key, build the same string to sign and compare signatures the same way. That part
lives here, once, and imports neither of them.
"""
