"""Event bus: records, the bus interface, in-process and Kafka implementations, envelopes."""

from ler_platform.events.bus import BusConsumer, EventBus
from ler_platform.events.envelope import Event, EventTypeRegistry, event_type
from ler_platform.events.records import (
    BusError,
    CommitFailed,
    ConsumedRecord,
    OutgoingRecord,
    TopicPartition,
)
from ler_platform.events.runner import (
    BatchHandler,
    ConsumerRunner,
    PoisonMessage,
    Rejection,
    RunnerOptions,
    dlq_topic,
    each_record,
)

__all__ = [
    "BatchHandler",
    "BusConsumer",
    "BusError",
    "CommitFailed",
    "ConsumedRecord",
    "ConsumerRunner",
    "Event",
    "EventBus",
    "EventTypeRegistry",
    "OutgoingRecord",
    "PoisonMessage",
    "Rejection",
    "RunnerOptions",
    "TopicPartition",
    "dlq_topic",
    "each_record",
    "event_type",
]
