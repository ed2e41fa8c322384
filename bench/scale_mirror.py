"""Latchkey's key sharding and refresh policy, mirrored for the scale model (scale_sim.py).

Mirrors shared/src/store/shards.rs and shared/src/refresh_policy.rs (integer milliseconds, as
the Rust code computes them). `check` compares every case of bench/policy_cases.json — the
table the Rust code writes and checks (shared/src/refresh_policy/tests.rs) — with this mirror.
Python 3 standard library only.
"""

import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ------------------------------------------------------------------ mirror: store/shards.rs
REFRESH_SHARDS = 16
LISTING_SHARDS = 8
ACTIVITY_SHARDS = 8
GENERATION_COPIES = 8


def shard(ident, shards):
    """FNV-1a (32 bit) of the id's UTF-8 bytes, modulo `shards`."""
    h = 0x811C9DC5
    for b in ident.encode():
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h % max(shards, 1)


# ------------------------------------------------------------------ mirror: refresh_policy.rs
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR

IDLE_REVOCATION_DAYS = [
    ("oauth2.googleapis.com", 180),
    ("accounts.google.com", 180),
    ("www.googleapis.com", 180),
    ("login.microsoftonline.com", 90),
    ("auth.atlassian.com", 90),
    ("oauth.platform.intuit.com", 100),
    ("identity.xero.com", 60),
    ("api.box.com", 60),
]


class Policy:
    def __init__(self, read_margin_ms=15 * MIN, lead_ms=5 * MIN, hot_lifetimes=2, keepalive_ms=14 * DAY, verify_ms=None):
        self.read_margin_ms = read_margin_ms
        self.lead_ms = lead_ms
        self.hot_lifetimes = hot_lifetimes
        self.keepalive_ms = keepalive_ms
        self.verify_ms = verify_ms


_CATALOG = None


def catalog():
    """name -> (idle revocation days or None, token_expiration_buffer seconds or None), from the
    embedded catalog the Rust code reads."""
    global _CATALOG
    if _CATALOG is None:
        data = json.load(open(os.path.join(ROOT, "shared", "data", "providers.json")))["providers"]
        _CATALOG = {}
        for p in data:
            urls = p.get("token_url")
            urls = [urls] if isinstance(urls, str) else sorted((urls or {}).items())
            urls = [u if isinstance(u, str) else u[1] for u in urls]
            days = None
            for u in urls:
                m = re.match(r"^[^:]+://([^/?]*)", u)
                host = m.group(1) if m else None
                days = next((d for h, d in IDLE_REVOCATION_DAYS if h == host), None)
                if days is not None:
                    break
            buffer = p.get("token_expiration_buffer")
            _CATALOG[p["name"]] = (days, buffer if buffer and buffer > 0 else None)
    return _CATALOG


def read_margin_ms(policy, provider, lifetime_ms):
    buffer = catalog().get(provider, (None, None))[1]
    margin = buffer * 1000 if buffer else policy.read_margin_ms
    return min(margin, lifetime_ms // 2)


def keepalive_for(policy, provider):
    days = catalog().get(provider, (None, None))[0]
    return days * DAY * 3 // 4 if days else policy.keepalive_ms


def next_proactive(policy, f):
    """(at_ms, reason) or None. `f`: auth_mode, has_refresh_token, provider, expires_at,
    last_fetched, last_read (ms; None where absent), and a failed refresh's hold: hold_until
    (ms or None), gave_up."""
    fetched = f["last_fetched"]
    refreshable = f["auth_mode"] == "OAUTH2" and f["has_refresh_token"]
    renewable = refreshable or f["auth_mode"] == "OAUTH2_CC"
    candidates = []
    if renewable and f["expires_at"] is not None and f["last_read"] is not None:
        expires = f["expires_at"]
        lifetime = max(expires - fetched, 0)
        due = max(expires - read_margin_ms(policy, f["provider"], lifetime) - policy.lead_ms, fetched + lifetime // 2)
        if due <= f["last_read"] + policy.hot_lifetimes * lifetime and policy.hot_lifetimes > 0:
            candidates.append((due, 0, "hot"))
    if refreshable:
        candidates.append((fetched + keepalive_for(policy, f["provider"]), 1, "keepalive"))
    if f["auth_mode"] in ("API_KEY", "BASIC") and policy.verify_ms is not None:
        candidates.append((fetched + policy.verify_ms, 2, "verify"))
    if not candidates or f.get("gave_up"):
        return None
    at, _, reason = min(candidates)
    if f.get("hold_until") is not None:
        at = max(at, f["hold_until"])
    return (at, reason)


def read_moves_schedule(policy, f, now):
    return next_proactive(policy, dict(f, last_read=now)) != next_proactive(policy, f)


def check(path):
    """Every case of the Rust table, computed by this mirror."""
    table = json.load(open(path))
    problems = []
    counts = {"refresh": REFRESH_SHARDS, "listing": LISTING_SHARDS, "activity": ACTIVITY_SHARDS,
              "generation_copies": GENERATION_COPIES}
    if table["shard_counts"] != counts:
        problems.append(f"shard counts: code {table['shard_counts']}, mirror {counts}")
    if [tuple(x) for x in table["idle_revocation_days"]] != IDLE_REVOCATION_DAYS:
        problems.append("the idle revocation table differs")
    for s in table["shards"]:
        got = {"refresh": shard(s["id"], REFRESH_SHARDS), "listing": shard(s["id"], LISTING_SHARDS),
               "activity": shard(s["id"], ACTIVITY_SHARDS), "generation_copy": shard(s["id"], GENERATION_COPIES)}
        if any(got[k] != s[k] for k in got):
            problems.append(f"shard of {s['id']!r}: code {s}, mirror {got}")
    policies = [Policy(p["read_margin_ms"], p["lead_ms"], p["hot_lifetimes"], p["keepalive_ms"], p["verify_ms"])
                for p in table["policies"]]
    t0 = table["t0_ms"]
    for case in table["cases"]:
        p, fx = policies[case["policy"]], case["facts"]
        f = {
            "auth_mode": fx["auth_mode"],
            "has_refresh_token": fx["has_refresh_token"],
            "provider": fx["provider"],
            "expires_at": None if fx["expires_in_ms"] is None else t0 + fx["expires_in_ms"],
            "last_fetched": t0,
            "last_read": None if fx["last_read_ms"] is None else t0 + fx["last_read_ms"],
            "hold_until": None if fx.get("hold_until_ms") is None else t0 + fx["hold_until_ms"],
            "gave_up": fx.get("gave_up", False),
        }
        lifetime = max(f["expires_at"] - t0, 0) if f["expires_at"] is not None else 0
        nxt = next_proactive(p, f)
        got = {
            "next": None if nxt is None else {"at_ms": nxt[0] - t0, "reason": nxt[1]},
            "read_margin_ms": read_margin_ms(p, f["provider"], lifetime),
            "keepalive_ms": keepalive_for(p, f["provider"]),
            "read_moves_schedule": read_moves_schedule(p, f, t0 + case["read_at_ms"]),
        }
        want = {k: case[k] for k in got}
        if got != want:
            problems.append(f"{fx} (policy {case['policy']}): code {want}, mirror {got}")
    for p in problems[:20]:
        print("MISMATCH", p)
    print(f"policy mirror: {len(table['cases'])} cases, {len(table['shards'])} shard cases, "
          f"{len(problems)} mismatches")
    return not problems
