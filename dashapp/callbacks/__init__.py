"""Callback registration: thin adapters from Dash inputs to the store, views and figure builders."""
