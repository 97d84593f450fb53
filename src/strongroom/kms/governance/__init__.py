"""Governance: the provider's operators, M-of-N quorum approvals of privileged acts, provider
access to tenant keys with transparency, and the exposure report (docs/security.md)."""
