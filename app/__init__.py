"""The epu-gateway: a FHIR R4 base for the French unified e-prescription of medical biology."""
