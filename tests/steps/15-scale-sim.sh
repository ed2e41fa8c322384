#!/usr/bin/env bash
# The scale model (docs/scale.md): its mirror of the refresh policy and shard hash against the
# table of cases the Rust code computes (bench/policy_cases.json), then 24 hours of the traffic
# profile on a reduced sample, failing if any partition key of the key design exceeds DynamoDB's
# per-partition limits. Python 3 standard library only; a few seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 bench/scale_sim.py --check
python3 bench/scale_sim.py --reduced
