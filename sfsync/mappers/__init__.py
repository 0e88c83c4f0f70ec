"""Field mappings: spec, closed set of named transforms, compile once, validate against describe."""
