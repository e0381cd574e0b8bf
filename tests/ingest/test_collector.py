"""The worker's manual garbage collection frees cycles and never walks old state again."""

from __future__ import annotations

import gc
import weakref

import pytest

from ingest.collector import Collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def clock():
    now = [0.0]
    yield now
    gc.unfreeze()
    gc.enable()


def test_automatic_collection_is_off_while_started_and_back_after(clock):
    c = Collector(full_every_s=3600, clock=lambda: clock[0])
    c.start()
    try:
        assert not gc.isenabled()
        dead = cycle()
        for _ in range(3):
            c.between_batches()
        assert dead() is not None  # a batch's garbage cycle waits for the full collection
        clock[0] += 3600
        c.between_batches()
        assert dead() is None
    finally:
        c.stop()
    assert gc.isenabled()


def test_survivors_are_frozen_and_a_cycle_that_dies_later_waits_for_the_full_collection(clock):
    c = Collector(full_every_s=3600, clock=lambda: clock[0])
    c.start()
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a
        kept = weakref.ref(a)
        before = gc.get_freeze_count()
        c.between_batches()  # alive: frozen
        assert gc.get_freeze_count() > before
        del a, b  # now an unreachable cycle among frozen objects
        c.between_batches()
        assert kept() is not None  # held back by the freeze ...
        clock[0] += 3600
        c.between_batches()  # ... until the periodic full collection
        assert kept() is None
    finally:
        c.stop()


def test_a_frozen_object_without_a_cycle_is_freed_by_its_reference_count(clock):
    c = Collector(clock=lambda: clock[0])
    c.start()
    try:
        x = Node()
        ref = weakref.ref(x)
        c.between_batches()
        del x
        assert ref() is None
    finally:
        c.stop()


def test_the_full_period_must_be_positive():
    with pytest.raises(ValueError):
        Collector(full_every_s=0)


@pytest.mark.parametrize("manual", [True, False])
def test_a_worker_manages_the_collector_only_when_it_owns_its_process(tmp_path, manual):
    from devservices.ports import free_port
    from ingest.config import IngestSettings
    from ingest.worker import IngestWorker
    from storage.readings.sqlite import SqliteStore

    assert gc.isenabled()
    settings = IngestSettings(broker_port=free_port(), gc_manual=manual, client_id="gc-test")
    worker = IngestWorker(settings, SqliteStore(str(tmp_path / "r.db")))
    worker.start()  # no broker there: it keeps retrying, which is all this test needs
    try:
        assert gc.isenabled() is not manual  # the demo shares its process with the API: left alone
    finally:
        worker.stop()
    assert gc.isenabled()


def test_a_restarted_worker_freezes_the_state_it_loaded(tmp_path, clock):
    """The loaded fleet is frozen as soon as it is loaded: left young until the writer's Collector started,
    the automatic collections walked every state object again (0.9 s of a restart at 1M meters)."""
    from devservices.ports import free_port
    from ingest.config import IngestSettings
    from ingest.pipeline import Msg
    from ingest.worker import IngestWorker
    from storage.readings.sqlite import SqliteStore
    from tests.ingest.conftest import T0, batch

    settings = IngestSettings(
        broker_port=free_port(), client_id="gc-load", state_path=str(tmp_path / "state"), partitions=4
    )
    store = SqliteStore(str(tmp_path / "r.db"))
    first = IngestWorker(settings, store)
    msgs = [
        Msg(f"wm/v1/m-{i}/readings", batch(f"m-{i}", [(1, T0, 1.0), (2, T0 + 60, 2.0)]), T0 + 61)
        for i in range(500)
    ]
    first.parts.append(first.pipeline.prepare(msgs).frames)
    first.parts.close()
    gc.unfreeze()
    again = IngestWorker(settings, store)
    try:
        assert len(again.parts.states) == 500 and gc.isenabled()
        st = again.parts.states["m-7"]
        assert gc.is_tracked(st) and gc.get_freeze_count() > 0
        young = gc.get_objects()  # the generations the collector walks (frozen objects are not in them)
        assert not any(o is st or o is st.hour for o in young)
    finally:
        again.parts.close()
