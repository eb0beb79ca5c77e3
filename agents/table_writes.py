"""Table writes made outside a Faust stream's own task."""

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import faust
import faust.streams as faust_streams
from faust.events import Event
from faust.types import Message


@contextmanager
def writing_to_partition(app: faust.App, topic: str, partition: int) -> Iterator[None]:
    """Table writes in this block go to ``partition``.

    Faust files a table write (its changelog record and the local RocksDB
    store) under the partition of the current event, which only the task
    iterating a Faust stream has: a stand-in event of the partition is made
    current for the block.
    """
    message = Message(topic, partition, -1, 0.0, 0, None, None, None, None)
    stand_in = Event(app, None, None, None, message)
    token = faust_streams._current_event.set(weakref.ref(stand_in))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)
