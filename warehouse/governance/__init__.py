"""Governance: PII policy, erasure, retention and access boundaries (docs/governance.md)."""
