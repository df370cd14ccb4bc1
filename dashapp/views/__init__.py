"""Pure builders of Dash components and table rows from store results (no Redis, no app)."""
