"""The long-running processes take their start-up objects out of the garbage collector's way (eventhub/heap.py):
a full collection then walks only what the process made since, instead of pausing every request in flight while it
walks the whole loaded application."""

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

from eventhub.heap import freeze_startup_objects

ROOT = Path(__file__).resolve().parents[2]


def test_the_web_application_freezes_what_it_loaded():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "eventhub.settings"}
    code = "import gc, eventhub.asgi; print(gc.get_freeze_count())"
    frozen = int(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    assert frozen > 50_000  # Django, the apps, the catalog: all of it out of every later full collection


def test_a_full_collection_after_the_freeze_walks_only_what_came_later_and_still_frees_its_garbage():
    class Node:
        pass

    threshold = gc.get_threshold()
    try:
        assert freeze_startup_objects() > 0
        frozen = gc.get_freeze_count()
        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle made after the freeze: still garbage, still freed
        gone = weakref.ref(first)
        del first, second
        gc.collect()  # (another thread's automatic collection may free it first: what counts is that it goes)
        assert gone() is None
        assert gc.get_freeze_count() <= frozen  # nothing new is frozen (a frozen object another thread drops leaves it)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
