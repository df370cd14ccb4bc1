"""Pure figure builders: plain data in, plotly figure dicts (never go.Figure) out."""
