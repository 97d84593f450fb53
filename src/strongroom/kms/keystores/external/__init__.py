"""External key stores: Strongroom as a *client* of an XKS proxy (docs/external-key-stores.md)."""
