"""The publisher of bench/viewer.py's real path, in its own process as the platforms that emit events are (no Django).

    python bench/viewer_publisher.py AMQP_URL EXCHANGE RATE SECONDS

Publishes RATE messages a second for SECONDS to EXCHANGE with the routing key shop.product.created, on a fixed
schedule; each body carries its publish time (time.time()) and sequence number, which the client subtracts from
its arrival time. Prints the seconds it took.
"""

import json
import sys
import time
from pathlib import Path

import pika

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import paced  # noqa: E402


def publish_main(url, exchange, rate, seconds):
    rate, seconds = int(rate), float(seconds)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    props = pika.BasicProperties(type="product.created", content_type="application/json")

    def send_one(seq):
        channel.basic_publish(exchange, "shop.product.created", json.dumps({"t": time.time(), "seq": seq}).encode(), props)

    print(f"{paced(rate, seconds, send_one):.3f}", flush=True)
    connection.close()


if __name__ == "__main__":
    publish_main(*sys.argv[1:])
