"""The KMIP operations, one module per concern; ``kmip/registry.py`` lists them."""
