"""Bridge: consume transactions from Kafka, run detection, write results to Redis."""
