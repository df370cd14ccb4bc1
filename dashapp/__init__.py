"""Multi-user live Plotly Dash dashboard over the Redis state the bridge writes."""
