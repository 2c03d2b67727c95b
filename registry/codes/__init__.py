"""Label codes, pure: GS1 Digital Link with AI 8030 (DIGSIG) and the Ed25519 label
signature format. Used by labels (issuing), verify (checking) and the offline CLI; imports
nothing of the registry."""
