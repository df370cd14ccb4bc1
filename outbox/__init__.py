"""The alert-events outbox: a relay to Kafka and a rebuild of Redis state from the topics."""
