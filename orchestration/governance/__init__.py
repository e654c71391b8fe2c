"""Governance: PII policy, erasure, retention and access boundaries (README, "Governance")."""
