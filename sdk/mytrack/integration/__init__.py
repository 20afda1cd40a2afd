"""mytrack's own integrations with training frameworks, one module each (docs/integrations.md)."""
