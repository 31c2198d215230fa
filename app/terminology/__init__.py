"""Value sets: load a release (FHIR JSON, SVS, CSV, XLSX), look a code up, expand with a filter."""
