"""The runtime test's checks of the job queue's consumers: the worker purging a deleted
integration, delivering webhooks, and renewing what the refresh scheduler enqueued."""

import json
import time

import boto3

from harness import body_of, check, scheduled_event, sqs_event, v2_event, wait_for_log
from peers import signatures_hold



def delayed_messages(queue_url):
    """How many messages of the queue wait out a delay."""
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"])

def purge_through_worker(admin, conns, worker, secret_key, table, queue_url):
    """DELETE the integration, check its connection is gone at once, then feed the jobs queue's
    messages to the worker (as the event source mapping would) until none is visible; a message
    that is not a job, in the first batch, must be the only one reported failed."""
    sqs = boto3.client("sqs")
    ddb = boto3.client("dynamodb")
    auth = {"authorization": f"Bearer {secret_key}"}
    r = admin.invoke(v2_event("DELETE", "/integrations/acme-crm", headers=auth))
    check("admin: DELETE /integrations/acme-crm", r["statusCode"] == 200, body_of(r))
    r = conns.invoke(v2_event("GET", "/connections/user-1", query="provider_config_key=acme-crm", headers=auth))
    check(
        "connections: the deleted integration's connection is not found at once",
        r["statusCode"] == 404 and json.loads(body_of(r))["error"]["code"] == "not_found",
        body_of(r),
    )
    key = {"PK": {"S": "CONN#acme-crm#user-1"}, "SK": {"S": "CONN"}}
    check("the connection item is still in the table", "Item" in ddb.get_item(TableName=table, Key=key))
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"kind": "not-a-job"}')
    first_batch = len(worker.calls()[1])
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the malformed message is the one failure reported", failures == ['{"kind": "not-a-job"}'], str(failures))
    check("worker: the purge deleted the connection item", "Item" not in ddb.get_item(TableName=table, Key=key))
    wait_for_log(worker, first_batch + batches)
    init, per_batch = worker.calls()
    per_batch = per_batch[first_batch:]
    return {
        f"worker: purge of 2 connections ({batches} batches: fan-out, shard steps, a bad message)": [
            sum(c[i] for c in per_batch) for i in range(3)
        ]
        if per_batch
        else None,
    }


def drain_to_worker(worker, queue_url):
    """Feeds what is visible on the queue to the worker until a receive is empty: the failed
    messages' bodies and the number of batches."""
    sqs = boto3.client("sqs")
    batches, failures = 0, []
    for _ in range(50):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        batches += 1
        response = worker.invoke(sqs_event(got))
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        failures.extend(m["Body"] for m in got if m["MessageId"] in failed)
        for m in got:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=3600)
    return failures, batches


def webhooks_through_worker(admin, conns, worker, receiver, secret_key, signing_key, queue_url):
    """The callbacks' creation webhooks (user-1's and the socket flow's user-ws), delivered by the
    worker; an import's, refused once (503) and re-enqueued for later; the admin's test webhook
    sent at once."""
    auth = {"authorization": f"Bearer {secret_key}"}
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the webhook delivery jobs succeeded", failures == [] and batches == 1, f"{failures} {batches}")
    check("worker: the receiver got both webhooks over https", len(receiver.got) == 2, str(receiver.got))
    first = [(h, b) for h, b in receiver.got if json.loads(b).get("connectionId") == "user-1"]
    if first:
        headers, body = first[0]
        check("worker: both signatures hold (Python's hmac)", signatures_hold(signing_key, headers, body), str(headers))
        got = json.loads(body)
        check(
            "worker: the callback's creation webhook, as Nango sends it",
            {k: got.get(k) for k in ("from", "type", "operation", "connectionId", "providerConfigKey", "environment", "success")}
            == {"from": "nango", "type": "auth", "operation": "creation", "connectionId": "user-1",
                "providerConfigKey": "acme-crm", "environment": "prod", "success": True},
            body.decode(),
        )
    wait_for_log(worker, batches)
    delivery_calls = worker.calls()[1][-1] if worker.calls()[1] else None

    # The connect routes' attempt deadlines (jobs::deadline) wait on the queue too: count from here.
    delayed_before = delayed_messages(queue_url)
    receiver.script = [503]
    imported = json.dumps(
        {"provider_config_key": "acme-crm", "connection_id": "user-2", "credentials": {"type": "OAUTH2", "access_token": "x"}}
    ).encode()
    r = conns.invoke(v2_event("POST", "/connections", headers={**auth, "content-type": "application/json"}, body=imported))
    check("connections: an import", r["statusCode"] == 200, body_of(r))
    failures, more = drain_to_worker(worker, queue_url)
    wait_for_log(worker, batches + more)
    delayed = delayed_messages(queue_url) - delayed_before
    check(
        "worker: a 503 is not a job failure; the next attempt waits on the queue",
        failures == [] and len(receiver.got) == 3 and delayed == 1,
        f"{failures} {len(receiver.got)} delayed={delayed} (beyond {delayed_before})",
    )
    r = admin.invoke(v2_event("GET", "/logs", query="connection_id=user-2", headers=auth))
    events = [(e["operation"], e["event"]) for e in json.loads(body_of(r)).get("data", [])]
    check("admin: the attempt is in activity", ("webhook", "attempt_failed") in events, str(events))

    r = admin.invoke(v2_event("POST", "/environment/test-webhook", headers=auth))
    check(
        "admin: a test webhook, sent at once",
        r["statusCode"] == 200 and json.loads(body_of(r))["data"]["delivered"] is True and len(receiver.got) == 4,
        body_of(r),
    )
    return {"worker: 2 webhook deliveries in one batch (settings, connection, activity each; no KMS)": delivery_calls}


# ------------------------------------------------------------------ refreshes


def refreshes_through_scheduler(conns, scheduler, worker, provider, receiver, secret_key, signing_key, queue_url):
    """A forced read refreshes at the provider (a 2-second token, so the refresh index has it due
    a second later: the functions run on real time); a plain read makes it hot; the scheduler
    (invoked until the second has passed) enqueues it and the worker renews it from SQS. Then a
    refused forced read answers 424 and its refresh_failed webhook reaches the receiver; the next
    forced read succeeds and sends refresh_recovered. AWS calls of each."""
    auth = {"authorization": f"Bearer {secret_key}"}
    read = lambda query="": conns.invoke(
        v2_event("GET", "/connections/user-1", query=f"provider_config_key=acme-crm{query}", headers=auth)
    )
    token_of = lambda r: json.loads(body_of(r)).get("credentials", {}).get("access_token") if r["statusCode"] == 200 else None
    provider.lifetime = 2
    before = len(conns.calls()[1])
    r = read("&force_refresh=true")
    check("connections: force_refresh refreshes at the provider", token_of(r) == "at-2" and provider.refreshes == 1, body_of(r)[:300])
    wait_for_log(conns, before + 1)
    on_read = conns.calls()[1][before]
    read()  # a read: the connection is hot, renewed ahead of its reads

    runs, report = 0, {}
    deadline = time.time() + 15
    while time.time() < deadline:
        runs += 1
        report = scheduler.invoke(scheduled_event())
        if report.get("enqueued"):
            break
        time.sleep(0.2)
    check("refresh-scheduler: the due connection enqueued once", report.get("due") == 1 and report.get("enqueued") == 1, str(report))
    wait_for_log(scheduler, runs)
    s_init, s_calls = scheduler.calls()
    check(
        "refresh-scheduler: opens no credential (no KMS, no key read)",
        s_init in (None, (0, 0, 0)) and all(c[1:] == (0, 0) for c in s_calls),
        f"{s_init} {s_calls}",
    )
    provider.lifetime = 3600
    worker_before = len(worker.calls()[1])
    failures, batches = drain_to_worker(worker, queue_url)
    check("worker: the refresh job renewed the connection", failures == [] and batches == 1 and provider.refreshes == 2, f"{failures} {batches} {provider.refreshes}")
    wait_for_log(worker, worker_before + batches)
    by_worker = worker.calls()[1][-1]
    r = read()
    check("connections: the worker's token is the one read", token_of(r) == "at-3", body_of(r)[:300])

    # Refused: a forced read answers 424 and the refusal is announced.
    provider.refuse = True
    seen = len(receiver.got)
    r = read("&force_refresh=true")
    check(
        "connections: a refused refresh answers 424 connection_refresh_backoff",
        r["statusCode"] == 424 and json.loads(body_of(r))["error"]["code"] == "connection_refresh_backoff",
        body_of(r),
    )
    failures, _ = drain_to_worker(worker, queue_url)
    hooks = [json.loads(b) for _, b in receiver.got[seen:]]
    check(
        "worker: the refresh_failed webhook, signed",
        failures == []
        and [(h["operation"], h["success"], h.get("error", {}).get("type")) for h in hooks] == [("refresh", False, "connection_refresh_backoff")]
        and all(signatures_hold(signing_key, h, b) for h, b in receiver.got[seen:]),
        f"{failures} {hooks}",
    )
    provider.refuse = False
    r = read("&force_refresh=true")
    check("connections: a forced read after the refusal succeeds", token_of(r) == "at-5", body_of(r)[:300])
    drain_to_worker(worker, queue_url)
    hooks = [json.loads(b) for _, b in receiver.got[seen + 1:]]
    check(
        "worker: the refresh_recovered webhook",
        [(h["operation"], h["success"]) for h in hooks] == [("refresh", True)],
        str(hooks),
    )
    return {
        "refresh on read (GET /connections/{id}?force_refresh=true)": on_read,
        "refresh scheduler run (1 due connection; +1 SQS send)": s_calls[runs - 1] if len(s_calls) >= runs else None,
        "worker: one scheduled refresh": by_worker,
    }
