"""Install, create a queue, enqueue, consume and archive.  python3 quickstart.py [DSN]"""
import sys

import pgqrs

with pgqrs.connect(sys.argv[1] if len(sys.argv) > 1 else "sqlite://quickstart.db") as store:
    admin = store.admin()
    admin.install()
    admin.create_queue("emails", exist_ok=True)
    store.producer("emails").enqueue_batch([{"to": "ada@example.com"}, {"to": "alan@example.com"}])
    consumer = store.consumer("emails")
    for msg in consumer.dequeue(batch_size=10, vt=30):
        print("message %d: %s" % (msg.id, msg.payload["to"]))
        consumer.archive(msg.id)
    print("on %s (%s): %s" % (store.backend, store.concurrency_model, admin.metrics("emails")[0]))
