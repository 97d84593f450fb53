"""The root key: what the default key store wraps everything under (ADR 7), where it lives
(a file or a PKCS#11 token: ``providers``, ``key_file``, ``hsm``), how a data directory opens
it (``setup``), and how it changes: rotation (``rotation``, ``files``) and migration between
providers (``migration``), fenced across nodes by a database lease (``fence``)."""
