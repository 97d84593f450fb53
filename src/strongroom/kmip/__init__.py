"""The KMIP server: OASIS KMIP 1.0-1.4 and 2.0 over mutual TLS (docs/kmip.md, docs/adr/0023).

A protocol front-end of the KMS like the XKS proxy: ``ttlv`` encodes, ``messages`` frames
requests and responses, ``server`` listens, ``dispatch`` maps each KMIP operation onto one
operation of the KMS pipeline (``operations/``), run for the principal its client certificate
is registered to (``identity``).
"""
