"""Local infrastructure: real Kafka and Redis as plain processes, for `make run` and tests."""
