#!/usr/bin/env python3
"""The bill on paper, checked by a model (docs/scale.md).

Replays 24 hours of the traffic profile below against Latchkey's DynamoDB key design
(shared/src/store/dynamo/keys.rs, shared/src/store/shards.rs) and refresh policy
(shared/src/refresh_policy.rs), for 10 k / 100 k / 1 M / 10 M connections, and reports per
partition key the peak capacity units per second, the requests and the monthly cost at list
prices — for the policy and, side by side, for "refresh everything before expiry" and a
self-hosted Nango's published footprint. It exits non-zero when any partition key of the
design exceeds DynamoDB's per-partition limits (1,000 write / 3,000 read units per second).

The policy and the shard hash are mirrored in scale_mirror.py; `--check` compares the mirror
with the table of cases the Rust code computes (bench/policy_cases.json, written and checked by
shared/src/refresh_policy/tests.rs), so the model cannot drift from the code.

Python 3 standard library only. Usage:
    python3 bench/scale_sim.py --check              # the mirror agrees with the code
    python3 bench/scale_sim.py                      # full run (sample of 20,000 connections)
    python3 bench/scale_sim.py --reduced            # what tests/run runs (seconds)
    python3 bench/scale_sim.py --markdown           # the tables of docs/scale.md
"""

import argparse
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from scale_mirror import (  # noqa: E402  (the mirror of the Rust code)
    ACTIVITY_SHARDS, DAY, GENERATION_COPIES, HOUR, LISTING_SHARDS, MIN, REFRESH_SHARDS, Policy, check,
    keepalive_for, next_proactive, read_margin_ms, read_moves_schedule, shard,
)

# ------------------------------------------------------------------ the traffic profile
# Auth kinds: (share, auth_mode, has_refresh_token, provider, token lifetime ms or None).
# The provider decides the keepalive (Google 180 days idle -> every 135 days; Microsoft 90 ->
# 67.5; unknown -> the 14-day default).
AUTH_KINDS = [
    (0.20, "OAUTH2", True, "google-mail", 1 * HOUR),
    (0.10, "OAUTH2", True, "outlook", 1 * HOUR),
    (0.15, "OAUTH2", True, "salesforce", 2 * HOUR),
    (0.10, "OAUTH2", True, "hubspot", 30 * MIN),
    (0.05, "OAUTH2", True, "zoom", 12 * HOUR),
    (0.10, "OAUTH2", True, "slack", None),        # refresh token, no expiry: keepalive only
    (0.05, "OAUTH2", False, "github", None),      # nothing to renew
    (0.05, "OAUTH2_CC", False, "custom-oauth2", 1 * HOUR),
    (0.20, "API_KEY", False, "openai", None),
]
# Read classes: (share, name, mean reads per day). Reads are Poisson, shaped by the day.
READ_CLASSES = [
    (0.05, "realtime", 288.0),   # every 5 minutes (a backend that reads before calls)
    (0.25, "hourly", 24.0),      # hourly syncs
    (0.40, "daily", 1.0),        # daily syncs
    (0.30, "dormant", 1.0 / 30), # read about monthly
]
DIURNAL_PEAK = 1.5              # reads and sign-ins peak at 1.5x the daily mean (12:00 UTC)
HOTTEST_CONNECTION_READS = 1.0  # per second: one connection read before every API call
LARGEST_INTEGRATION = 0.40      # share of connections in the biggest integration
NEW_AUTHS_PER_DAY = 0.01        # sign-ins (new connections and re-authorizations), share of N
ACTIVITY_PER_AUTH = 4
ACTIVITY_PER_REFRESH = 1
IMPORT_RATE = 1000              # per second, a migration's bulk import ...
IMPORT_MINUTES = 10             # ... for 10 minutes at 10:00 (at most 10 % of N)
PURGE_CONNECTIONS = 1_000_000   # an integration of 1 M (at most 10 % of N) deleted at 03:00
PURGE_CHAIN_RATE = 440          # deletes per second per shard chain (4 at once, ~9 ms each)
TICK = 5 * MIN                  # the scheduler's period

# ------------------------------------------------------------------ what each operation costs
# Item sizes (bytes) as the code writes them: a connection item (view ~400, body ~500, sealed
# credentials ~1,400 for an OAuth2 token response with an id_token, keys and attributes ~350).
CONNECTION_ITEM_WCU = 3         # ceil(2.6 KB / 1 KB)
# Request units per operation (on-demand). A consistent read of an item up to 4 KB is 1 RRU;
# a write is 1 WRU per KB of the item, plus 1 per index item written (2 when a key changes).
OPS = {
    # BatchGetItem of the connection and its integration's generation copy.
    "read": {"rru": 2, "wru": 0},
    # UpdateItem last_read + the refresh index key (moved: delete + put).
    "touch": {"rru": 0, "wru": CONNECTION_ITEM_WCU + 2},
    # Issue 10's refresh (assumed): lease (UpdateItem), re-read, integration, provider call,
    # final write releasing the lease (item + refresh index move), one activity entry (3).
    "refresh_on_read": {"rru": 2 + 1, "wru": CONNECTION_ITEM_WCU + CONNECTION_ITEM_WCU + 2 + 3},
    "refresh_proactive": {"rru": 2 + 2 + 1, "wru": CONNECTION_ITEM_WCU + CONNECTION_ITEM_WCU + 2 + 3},
    # connect + callback: settings, integration x2, session put/take, upsert (read + item +
    # 4 index items), 4 activity entries, the auth result.
    "auth": {"rru": 1 + 2 + 2, "wru": 1 + 1 + CONNECTION_ITEM_WCU + 4 + 4 * 3 + 1},
    "import": {"rru": 1 + 2, "wru": CONNECTION_ITEM_WCU + 4},
    # conditional DeleteItem of the item + its 4 index items (the query is ~0.04 RRU each).
    "purge_delete": {"rru": 0.04, "wru": CONNECTION_ITEM_WCU + 4},
}
# Lambda (arm64, 256 MB): seconds per invocation.
LAMBDA_GB = 0.25
SECONDS = {"read": 0.012, "read_kms": 0.008, "provider": 0.35, "worker_batch": 0.45, "auth": 0.6,
           "import": 0.03, "scheduler": 0.3}
LOG_BYTES_PER_INVOCATION = 500   # START/END/REPORT lines + the aws_calls line
KMS_CACHE_SECONDS = 300          # crypto::kms CacheLimits::default().max_age
KMS_CACHE_ENTRIES = 1000         # ... .max_entries, per container
# Storage per connection: the item and its index items; activity entries kept 30 days.
BYTES_PER_CONNECTION = 2600 + 3 * 550 + 250
BYTES_PER_ACTIVITY = 3 * 600

# ------------------------------------------------------------------ list prices
# us-east-1, on-demand, as published on the AWS pricing pages in 2025 (DynamoDB after its
# November 2024 on-demand reduction). Not re-checked from this machine (no network).
PRICE = {
    "wru": 0.625 / 1e6, "rru": 0.125 / 1e6,
    "ddb_gb_month": 0.25, "pitr_gb_month": 0.20,
    "lambda_request": 0.20 / 1e6, "lambda_gb_s": 0.0000133334,
    "apigw_first_300m": 1.00 / 1e6, "apigw_after": 0.90 / 1e6,
    "kms_request": 0.03 / 1e4, "kms_key_month": 1.0,
    "sqs_request": 0.40 / 1e6,
    "logs_gb": 0.50,
    "secrets_month": 0.40,
}
# A self-hosted Nango's published footprint, priced with comparable AWS services.
NANGO = [
    ("5 services, 1 vCPU / 2 GB each (Fargate, x86)", 5 * (0.04048 + 2 * 0.004445) * 730),
    ("Postgres, 2 vCPU / 8 GB (RDS db.m7g.large, single-AZ) + 100 GB gp3", 0.168 * 730 + 100 * 0.115),
    ("Redis (ElastiCache cache.t4g.small)", 0.032 * 730),
    ("Elasticsearch (OpenSearch t3.medium.search + 20 GB)", 0.073 * 730 + 20 * 0.122),
    ("Application Load Balancer (+ ~2 LCU)", 0.0225 * 730 + 2 * 0.008 * 730),
    ("NAT gateway (tasks reach providers)", 0.045 * 730),
]

LIMITS = {"wcu": 1000.0, "rcu": 3000.0}
BUCKET = 15 * MIN
BUCKETS = DAY // BUCKET


def diurnal(t_ms):
    """Traffic at time t relative to the daily mean (peak DIURNAL_PEAK at 12:00 UTC)."""
    return 1 + (DIURNAL_PEAK - 1) * math.sin(2 * math.pi * ((t_ms % DAY) / DAY - 0.25))


def pick(rng, table):
    x, acc = rng.random(), 0.0
    for row in table:
        acc += row[0]
        if x < acc:
            return row
    return table[-1]


def poisson_times(rng, per_day, start, end):
    """Read times in [start, end), Poisson with the diurnal shape (thinning)."""
    if per_day <= 0:
        return []
    peak = per_day * DIURNAL_PEAK / DAY
    out, t = [], start
    while True:
        t += rng.expovariate(peak)
        if t >= end:
            return out
        if rng.random() * DIURNAL_PEAK < diurnal(t):
            out.append(t)


def ceil_tick(t):
    return -(-t // TICK) * TICK


class Counts:
    """Operations per 15-minute bucket of the measured day."""

    def __init__(self):
        self.b = {}

    def add(self, op, t, n=1.0):
        if 0 <= t < DAY:
            self.b.setdefault(op, [0.0] * BUCKETS)[int(t // BUCKET)] += n

    def series(self, op):
        return self.b.get(op, [0.0] * BUCKETS)

    def total(self, op):
        return sum(self.series(op))


def simulate_sample(sample, policy, mode, seed, warmup_days):
    """Replays the sampled connections; `mode` is "policy" or "everything" (refresh every
    expiring token before expiry, renew nothing on read, keep nothing alive)."""
    rng = random.Random(seed)
    counts = Counts()
    reads_by_class = {name: [0.0] * BUCKETS for _, name, _ in READ_CLASSES}
    ids = []
    start, end = -warmup_days * DAY, DAY
    for _ in range(sample):
        ident = "%032x" % rng.getrandbits(128)
        ids.append(ident)
        _, mode_name, refresh_token, provider, lifetime = pick(rng, AUTH_KINDS)
        _, read_class, per_day = pick(rng, READ_CLASSES)
        renewable = (mode_name == "OAUTH2" and refresh_token) or mode_name == "OAUTH2_CC"
        f = {"auth_mode": mode_name, "has_refresh_token": refresh_token, "provider": provider,
             "expires_at": None, "last_fetched": 0, "last_read": None}
        cycle = keepalive_for(policy, provider) if refresh_token else (lifetime or DAY)
        f["last_fetched"] = start - int(rng.random() * cycle)
        if lifetime is not None:
            f["expires_at"] = f["last_fetched"] + lifetime
        if per_day > 0:
            f["last_read"] = start - int(rng.expovariate(per_day / DAY))
        reads = poisson_times(rng, per_day, start, end)

        def renew(t):
            f["last_fetched"] = t
            if lifetime is not None:
                f["expires_at"] = t + lifetime

        def scheduled():
            if mode == "policy":
                nxt = next_proactive(policy, f)
                return None if nxt is None else (ceil_tick(nxt[0]), nxt[1])
            if renewable and lifetime is not None:
                lt = lifetime
                due = max(f["expires_at"] - read_margin_ms(policy, provider, lt) - policy.lead_ms,
                          f["last_fetched"] + lt // 2)
                return (ceil_tick(due), "expiry")
            return None

        sched = scheduled()
        i = 0
        while True:
            next_read = reads[i] if i < len(reads) else None
            if sched is not None and (next_read is None or sched[0] <= next_read) and sched[0] < end:
                t, reason = sched
                renew(t)
                counts.add("refresh_proactive", t)
                counts.add(f"refresh_{reason}", t)
                sched = scheduled()
                continue
            if next_read is None:
                break
            t = next_read
            i += 1
            counts.add("read", t)
            if 0 <= t < DAY:
                reads_by_class[read_class][int(t // BUCKET)] += 1
            expiring = renewable and f["expires_at"] is not None and \
                f["expires_at"] - read_margin_ms(policy, provider, max(f["expires_at"] - f["last_fetched"], 0)) <= t
            if expiring:
                renew(t)
                counts.add("refresh_on_read", t)
                if mode == "policy":
                    f["last_read"] = t
                sched = scheduled()
            elif mode == "policy" and read_moves_schedule(policy, f, t):
                f["last_read"] = t
                counts.add("touch", t)
                sched = scheduled()
    return counts, reads_by_class, ids


def shard_fraction(ids, shards):
    """The largest share of ids any one shard gets (the hash on real ids, not an average)."""
    tally = [0] * shards
    for ident in ids:
        tally[shard(ident, shards)] += 1
    return max(tally) / len(ids)


def peak(series_per_s):
    return max(series_per_s) if series_per_s else 0.0


def evaluate(n, counts, reads_by_class, ids, sample, policy):
    """Scales the sample to n connections; per-second rates per bucket; partition loads; the
    month's requests and bill."""
    scale = n / sample
    per_s = lambda op: [c * scale / (BUCKET / 1000) for c in counts.series(op)]  # noqa: E731
    reads = per_s("read")
    touches = per_s("touch")
    r_read = per_s("refresh_on_read")
    r_pro = per_s("refresh_proactive")
    t_ms = [b * BUCKET + BUCKET // 2 for b in range(BUCKETS)]
    auths = [n * NEW_AUTHS_PER_DAY / 86400 * diurnal(t) for t in t_ms]
    imports = [0.0] * BUCKETS
    import_rate = min(IMPORT_RATE, n * 0.10 / (IMPORT_MINUTES * 60))
    for b in range(BUCKETS):
        if 10 * HOUR <= t_ms[b] < 10 * HOUR + IMPORT_MINUTES * MIN or (IMPORT_MINUTES * MIN < BUCKET and b == 40):
            imports[b] = import_rate * min(1.0, IMPORT_MINUTES * MIN / BUCKET)
    purged = min(PURGE_CONNECTIONS, n * 0.10)
    purge_rate = LISTING_SHARDS * PURGE_CHAIN_RATE
    purge_seconds = purged / purge_rate
    purges = [0.0] * BUCKETS
    left = purged
    for b in range(12, BUCKETS):
        if left <= 0:
            break
        this = min(left, purge_rate * BUCKET / 1000)
        purges[b] = this / (BUCKET / 1000)
        left -= this
    activity = [a * ACTIVITY_PER_AUTH + (x + y) * ACTIVITY_PER_REFRESH for a, x, y in zip(auths, r_read, r_pro)]
    refreshes = [x + y for x, y in zip(r_read, r_pro)]

    frac_listing = shard_fraction(ids, LISTING_SHARDS)
    frac_refresh = shard_fraction(ids, REFRESH_SHARDS)
    frac_copy = shard_fraction(ids, GENERATION_COPIES)
    frac_activity = shard_fraction(ids, ACTIVITY_SHARDS)
    L = LARGEST_INTEGRATION
    # Refresh index writes: a moved key is 2 writes; a new key 1.
    refresh_index_w = [2 * (t + r) + a + i for t, r, a, i in zip(touches, refreshes, auths, imports)]
    scheduler_queries = 1 / (TICK / 1000)  # one query of each refresh shard per tick
    # (index, partition key, read requests/s, RCU per read, write requests/s, WCU per write)
    parts = [
        ("table", "CONN#<integration>#<id> (the hottest connection)",
         HOTTEST_CONNECTION_READS, 1, HOTTEST_CONNECTION_READS / 1000, CONNECTION_ITEM_WCU),
        ("table", "INTGEN#<largest>#<n> (its generation copies)",
         peak([(r + a + i) * L * frac_copy for r, a, i in zip(reads, auths, imports)]), 1, 0.0, 1),
        ("table", "INT#<largest> (its integration item)",
         peak([(2 * a + x + i) * L for a, x, i in zip(auths, refreshes, imports)]), 1, 0.0, 1),
        ("table", "SETTINGS", peak(auths), 1, 0.0, 1),
        ("ConnectionsByIntegration", "CI#<largest>#<gen>#<n> (sign-ins, the import)",
         0.0, 1, peak([(a + i) * L * frac_listing for a, i in zip(auths, imports)]), 1),
        ("ConnectionsByIntegration", "CI#<deleted>#<gen>#<n> (the purge)", 0.0, 1, PURGE_CHAIN_RATE, 1),
        ("ConnectionsByEnvironment", "CONNS#<n>",
         0.0, 1, peak([(a + i + p) * frac_listing for a, i, p in zip(auths, imports, purges)]), 1),
        ("ConnectionsByEndUser", "EU#<end user> (one user connecting)", 0.0, 1, 1.0, 1),
        ("RefreshDue", "REFRESH#<n>",
         scheduler_queries, max(0.5, peak(r_pro) * frac_refresh * (TICK / 1000) * 200 / 4096 / 2),
         peak([w * frac_refresh + p * frac_refresh for w, p in zip(refresh_index_w, purges)]), 1),
        ("ActivityByTime", "ACTS#<day>#<n>", 0.0, 1, peak([a * frac_activity for a in activity]), 1),
        ("ActivityByConnection", "ACTCONN#<id> (the hottest connection)", 0.0, 1,
         ACTIVITY_PER_REFRESH / 2400, 1),
    ]

    # ---- the day's requests
    day = lambda series: sum(series) * (BUCKET / 1000)  # noqa: E731
    n_reads, n_touch, n_rr, n_rp = day(reads), day(touches), day(r_read), day(r_pro)
    n_auth, n_import = day(auths), day(imports)
    n_purge = purged / 30  # one such delete a month
    rru = (n_reads * OPS["read"]["rru"] + n_touch * OPS["touch"]["rru"] + n_rr * OPS["refresh_on_read"]["rru"]
           + n_rp * OPS["refresh_proactive"]["rru"] + n_auth * OPS["auth"]["rru"] + n_import * OPS["import"]["rru"]
           + n_purge * OPS["purge_delete"]["rru"])
    wru = (n_touch * OPS["touch"]["wru"] + n_rr * OPS["refresh_on_read"]["wru"]
           + n_rp * OPS["refresh_proactive"]["wru"] + n_auth * OPS["auth"]["wru"]
           + n_import * OPS["import"]["wru"] + n_purge * OPS["purge_delete"]["wru"])
    rru += (86400 / (TICK / 1000)) * REFRESH_SHARDS * 0.5  # the scheduler's queries

    # KMS: a read decrypts unless its container opened this blob within the cache's age.
    kms_reads = 0.0
    per_class = {name: per_day for _, name, per_day in READ_CLASSES}
    share = {name: s for s, name, _ in READ_CLASSES}
    for b in range(BUCKETS):
        rate = reads[b]
        if rate <= 0:
            continue
        containers = max(1.0, rate * (SECONDS["read"] + SECONDS["read_kms"]) * 1.5)
        unique = sum(min(1.0, per_class[c] / DAY * KMS_CACHE_SECONDS * 1000) * share[c] * n for c in per_class)
        room = min(1.0, KMS_CACHE_ENTRIES / max(unique / containers, 1.0))
        for c in per_class:
            lam = per_class[c] / 86400 * diurnal(t_ms[b])
            hit = (1 - math.exp(-lam * KMS_CACHE_SECONDS / containers)) * room
            kms_reads += reads_by_class[c][b] * scale * (1 - hit)
    kms = kms_reads + 2 * (n_rr + n_rp) + 2 * n_auth + n_import

    worker_batches = n_rp / 10
    invocations = {
        "connections": n_reads + n_import,
        "auth": 2 * n_auth,
        "worker": worker_batches + n_purge / 200,
        "scheduler": 86400 / (TICK / 1000),
    }
    gb_s = LAMBDA_GB * (n_reads * SECONDS["read"] + kms_reads * SECONDS["read_kms"]
                        + n_rr * SECONDS["provider"] + worker_batches * SECONDS["worker_batch"]
                        + 2 * n_auth * SECONDS["auth"] + n_import * SECONDS["import"]
                        + invocations["scheduler"] * SECONDS["scheduler"] + n_purge / 200 * 0.5)
    apigw = n_reads + 3 * n_auth + n_import
    sqs = n_rp / 10 * 3 + 86400 / 20 * 5  # send, receive, delete per batch; 5 idle pollers
    activity_day = day(activity)
    storage_gb = (n * BYTES_PER_CONNECTION + activity_day * 30 * BYTES_PER_ACTIVITY) / 1e9
    month = 30
    apigw_m = apigw * month
    cost = {
        "DynamoDB requests": (rru * PRICE["rru"] + wru * PRICE["wru"]) * month,
        "DynamoDB storage + PITR": storage_gb * (PRICE["ddb_gb_month"] + PRICE["pitr_gb_month"]),
        "Lambda": (sum(invocations.values()) * PRICE["lambda_request"] + gb_s * PRICE["lambda_gb_s"]) * month,
        "API Gateway": min(apigw_m, 300e6) * PRICE["apigw_first_300m"] + max(apigw_m - 300e6, 0) * PRICE["apigw_after"],
        "KMS": kms * month * PRICE["kms_request"] + PRICE["kms_key_month"],
        "SQS": sqs * month * PRICE["sqs_request"],
        "CloudWatch Logs": sum(invocations.values()) * month * LOG_BYTES_PER_INVOCATION / 1e9 * PRICE["logs_gb"],
        "Secrets Manager": PRICE["secrets_month"],
    }
    return {
        "n": n,
        "parts": parts,
        "peak": {"reads/s": peak(reads), "touches/s": peak(touches), "refreshes on read/s": peak(r_read),
                 "proactive refreshes/s": peak(r_pro), "KMS/s": peak(reads) * (kms_reads / max(n_reads, 1))
                 + 2 * peak(refreshes)},
        "day": {"reads": n_reads, "touches": n_touch, "refreshes on read": n_rr, "proactive refreshes": n_rp,
                "keepalive refreshes": day(per_s("refresh_keepalive")), "sign-ins": n_auth,
                "RRU": rru, "WRU": wru, "Lambda invocations": sum(invocations.values()), "Lambda GB-s": gb_s,
                "API Gateway requests": apigw, "KMS requests": kms, "SQS requests": sqs},
        "purge_seconds": purge_seconds,
        "purged": purged,
        "cost": cost,
        "total": sum(cost.values()),
    }


def units(part):
    """(RCU/s, WCU/s) of a partition row."""
    _, _, reads, rcu, writes, wcu = part
    return reads * rcu, writes * wcu


def over_limits(result, label):
    bad = []
    for part in result["parts"]:
        rcu, wcu = units(part)
        if rcu > LIMITS["rcu"] or wcu > LIMITS["wcu"]:
            bad.append(f"{label}, {result['n']:,} connections: {part[0]} {part[1]}: {rcu:,.0f} RCU/s, {wcu:,.0f} WCU/s")
    return bad


def fmt(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:,.1f}"
    return f"{x:.2g}"


def partition_table(results):
    """Peak RCU / WCU per second per partition key, and the units one request costs there."""
    sizes = [r["n"] for r in results]
    out = ["| index: partition key | units per read / write request | " + " | ".join(f"{n:,}" for n in sizes) + " |",
           "|---|---|" + "---|" * len(sizes)]
    for i, part in enumerate(results[0]["parts"]):
        cells = []
        for r in results:
            rcu, wcu = units(r["parts"][i])
            cells.append(f"{fmt(rcu)} / {fmt(wcu)}")
        per = f"{fmt(part[3])} / {fmt(part[5])}"
        out.append(f"| {part[0]}: `{part[1]}` | {per} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def markdown(results, baseline, nango_total):
    sizes = [r["n"] for r in results]
    head = "| | " + " | ".join(f"{n:,}" for n in sizes) + " |\n|---|" + "---|" * len(sizes)
    out = ["### Peak RCU / WCU per second, per partition key (the policy)\n",
           "Limits: 3,000 RCU and 1,000 WCU per second per partition key. Requests per second = units "
           "divided by the units per request.\n", partition_table(results),
           "\n### The same, refreshing everything before expiry\n", partition_table(baseline),
           "\n### A day of the profile, the policy\n", head]
    for k in results[0]["day"]:
        out.append(f"| {k} | " + " | ".join(fmt(r["day"][k]) for r in results) + " |")
    for k in results[0]["peak"]:
        out.append(f"| peak {k} | " + " | ".join(fmt(r["peak"][k]) for r in results) + " |")
    out.append("| purge of the deleted integration | " + " | ".join(
        f"{fmt(r['purged'])} in {fmt(r['purge_seconds'])} s" for r in results) + " |")
    out.append("\n### A day of the profile, refreshing everything before expiry\n")
    out.append(head)
    for k in ["reads", "refreshes on read", "proactive refreshes", "RRU", "WRU", "Lambda invocations",
              "Lambda GB-s", "KMS requests", "SQS requests"]:
        out.append(f"| {k} | " + " | ".join(fmt(b["day"][k]) for b in baseline) + " |")
    out.append("\n### Monthly cost, USD (us-east-1 list prices)\n")
    out.append("| | " + " | ".join(f"{n:,}: policy | {n:,}: everything" for n in sizes) + " |")
    out.append("|---|" + "---|" * (2 * len(sizes)))
    for k in results[0]["cost"]:
        out.append(f"| {k} | " + " | ".join(f"{fmt(r['cost'][k])} | {fmt(b['cost'][k])}"
                                            for r, b in zip(results, baseline)) + " |")
    out.append("| **total** | " + " | ".join(f"**{fmt(r['total'])}** | {fmt(b['total'])}"
                                             for r, b in zip(results, baseline)) + " |")
    out.append("| per 1,000 connections | " + " | ".join(f"{fmt(r['total'] / r['n'] * 1000)} | "
                                                        f"{fmt(b['total'] / b['n'] * 1000)}"
                                                        for r, b in zip(results, baseline)) + " |")
    out.append("| self-hosted Nango's published footprint | " + " | ".join(
        f"{fmt(nango_total)} | {fmt(nango_total)}" for _ in results) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare the mirror with bench/policy_cases.json")
    ap.add_argument("--reduced", action="store_true", help="a small sample (tests/run)")
    ap.add_argument("--markdown", action="store_true", help="print docs/scale.md's tables")
    ap.add_argument("--sample", type=int, help="sampled connections (default 20,000; reduced 1,500)")
    args = ap.parse_args()
    if args.check:
        sys.exit(0 if check(os.path.join(HERE, "policy_cases.json")) else 1)
    sample = args.sample or (1500 if args.reduced else 20000)
    warmup = 1 if args.reduced else 2
    policy = Policy()
    sizes = [10_000, 100_000, 1_000_000, 10_000_000]
    counts, by_class, ids = simulate_sample(sample, policy, "policy", 1, warmup)
    base_counts, base_class, _ = simulate_sample(sample, policy, "everything", 1, warmup)
    results = [evaluate(n, counts, by_class, ids, sample, policy) for n in sizes]
    baseline = [evaluate(n, base_counts, base_class, ids, sample, policy) for n in sizes]
    nango_total = sum(c for _, c in NANGO)
    if args.markdown:
        print(markdown(results, baseline, nango_total))
        print("\nNango footprint, monthly:\n")
        for name, c in NANGO:
            print(f"- {name}: {fmt(c)}")
    else:
        for r, b in zip(results, baseline):
            print(f"{r['n']:>10,} connections: ${r['total']:>10,.0f}/month with the policy, "
                  f"${b['total']:>10,.0f} refreshing everything; "
                  f"refreshes/day {r['day']['proactive refreshes'] + r['day']['refreshes on read']:>12,.0f} vs "
                  f"{b['day']['proactive refreshes'] + b['day']['refreshes on read']:>12,.0f}; "
                  f"peak reads/s {r['peak']['reads/s']:,.0f}")
        print(f"self-hosted Nango's published footprint: ${nango_total:,.0f}/month")
    bad = [m for r in results for m in over_limits(r, "policy")]
    bad += [m for b in baseline for m in over_limits(b, "refresh everything")]
    for msg in bad:
        print("OVER THE PER-PARTITION LIMIT:", msg)
    if bad:
        sys.exit(1)
    print(f"every partition key within DynamoDB's per-partition limits (sample {sample:,}, 24 h)")


if __name__ == "__main__":
    main()
