"""The offline model core: point-in-time features, training, evaluation and the model card (issue 20)."""
