"""The websocket client of bench/viewer.py, in its own process as a browser would be (no Django here).

    python bench/viewer_client.py URL HEADERS_JSON EXPECTED monitor|bare WARMUP

Prints "ready" once connected, then one JSON line: {latencies (ms, items with seq >= WARMUP), received, dropped}.
Latency is arrival minus the publish time (time.time()) the publisher put into each body.
"""

import asyncio
import json
import sys
import time

import websockets


def receive_main(url, headers, expected, kind, warmup):
    """Connect, print "ready", collect until `expected` items (or 5 s of silence), print the result."""
    expected, warmup, items_of = int(expected), int(warmup), {"monitor": monitor_items, "bare": bare_items}[kind]
    result = {"latencies": [], "received": 0, "dropped": 0}

    async def receive():
        async with websockets.connect(url, additional_headers=json.loads(headers), origin="http://127.0.0.1", max_size=None) as ws:
            if kind == "monitor":
                await ws.recv()  # hello
            print("ready", flush=True)
            deadline = None
            while result["received"] + result["dropped"] < expected:
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=(deadline - time.monotonic()) if deadline else 60)
                except TimeoutError:
                    break
                now = time.time()
                items, dropped = items_of(json.loads(raw))
                result["dropped"] += dropped
                result["received"] += len(items)
                result["latencies"] += [(now - sent) * 1000 for sent, seq in items if seq >= warmup]
                deadline = time.monotonic() + 5  # once flowing, 5 s of silence ends the run

    asyncio.run(receive())
    print(json.dumps(result), flush=True)


def monitor_items(frame):
    if frame.get("kind") != "batch":
        return [], 0
    bodies = [json.loads(item["body"]) for item in frame["items"]]
    return [(b["t"], b["seq"]) for b in bodies], frame["dropped"]


def bare_items(frame):
    return [(frame["t"], frame["seq"])], 0




if __name__ == "__main__":
    receive_main(*sys.argv[1:])
