"""The pure cores of the event path: plain data in, plain data out; no ORM, no I/O. The hot path and the easiest tests.

conditions (eventFilter), payloads (shaping), matching (the routing index), signing (Standard Webhooks, webhook ids),
amqp (a broker message -> an event: type, id, timestamp, topic rules), retry (the verdict on one delivery attempt).
"""
