"""A durable checkout workflow: each step runs once per run, and a failed attempt
is retried from its last completed step.   python3 workflow.py [DSN]"""
import sys

import pgqrs

executions = {"charge": 0}


@pgqrs.step
def charge_card(run, order):
    executions["charge"] += 1
    return {"charge_id": "ch_%d" % order["order"]}


@pgqrs.step(retry=pgqrs.RetryPolicy(max_attempts=3, initial_delay=0.1, jitter=0))
def send_receipt(run, charge):
    if run.attempt == 1:
        raise ConnectionError("mail server down")     # a failed attempt: retried, the charge is not repeated
    return {"sent": True}


@pgqrs.workflow(name="checkout")
def checkout(run, order):
    charge = charge_card(run, order)
    run.sleep("cool-off", 0)                           # a durable sleep; with a delay the worker is freed
    send_receipt(run, charge)
    return {"charge": charge}


with pgqrs.connect(sys.argv[1] if len(sys.argv) > 1 else "sqlite://workflow.db") as store:
    store.admin().install()
    store.define(checkout)
    run_id = store.trigger("checkout", {"order": 7})
    with store.workflow_worker("checkout") as worker:
        worker.poll(max_runs=2, idle_timeout=5)        # the failed first attempt, then the retry
    run = store.run_wait(run_id, timeout=5)
    print("run %s after %d attempts: %s" % (run.status, run.attempts, run.output))
    print("steps: %s" % ", ".join("%s=%s" % (s.step_id, s.status) for s in store.list_steps(run_id)))
    print("charge_card executed %d time(s)" % executions["charge"])
