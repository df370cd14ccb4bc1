"""Seeded synthetic card-transaction stream with labelled fraud scenarios (see producer.generator)."""

from producer.events import GeneratedEvent, PlannedEvent
from producer.generator import Generator, generate, instance_events, to_ms
from producer.scenarios import SCENARIOS, Instance, make_instance, parse_scenarios
from producer.world import World

__all__ = [
    "SCENARIOS",
    "GeneratedEvent",
    "Generator",
    "Instance",
    "PlannedEvent",
    "World",
    "generate",
    "instance_events",
    "make_instance",
    "parse_scenarios",
    "to_ms",
]
