"""The contract shared by producer, bridge and dashapp: event schema, settings, Redis keys."""
