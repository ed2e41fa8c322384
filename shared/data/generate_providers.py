#!/usr/bin/env python3
"""Regenerates shared/data/providers.json, the provider catalog embedded in Latchkey, from a
provider facts file: JSON lines, one provider per line, sorted by name, holding only structural
values (URLs, parameters, headers, patterns, enums, flags) of each provider's authorization,
token, refresh, connection config, credentials and proxy settings.

The facts were extracted mechanically from the provider catalog (packages/providers/providers.yaml)
of the Nango repository at commit 2f4c0af (source-available under the Elastic License 2.0,
copyright Nango Inc); the credit travels inside the generated file (key `source`).

Usage: python3 shared/data/generate_providers.py <providers.facts.jsonl>
The Rust tests (`providers::catalog`) check every entry against the schema; run them after.
"""
import json
import sys
from pathlib import Path

SOURCE = (
    "Provider facts derived from the provider catalog (packages/providers/providers.yaml) of the "
    "Nango repository at commit 2f4c0af, source-available under the Elastic License 2.0, "
    "copyright Nango Inc. https://github.com/NangoHQ/nango"
)


# Corrections to source data that would otherwise not load. Each names what was wrong.
FIXES = {
    # `\\-+=` inside a character class is a reversed range (`\` .. `+`) in every regex engine;
    # the intent is a literal '-'.
    ("freshteam", "credentials", "apiKey", "pattern"): r"^[a-zA-Z0-9_!@#$%^&*()\-+=]+$",
}


def apply_fixes(entry: dict) -> None:
    for (name, section, field, key), value in FIXES.items():
        if entry["name"] == name:
            entry[section][field][key] = value


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    facts = Path(sys.argv[1])
    out = Path(__file__).with_name("providers.json")
    entries = [json.loads(line) for line in facts.read_text().splitlines() if line.strip()]
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        sys.exit("duplicate provider names")
    for e in entries:
        apply_fixes(e)
    entries.sort(key=lambda e: e["name"])
    body = ",\n".join(json.dumps(e, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for e in entries)
    out.write_text('{"source":' + json.dumps(SOURCE) + ',\n"providers":[\n' + body + "\n]}\n")
    print(f"{out}: {len(entries)} providers")


if __name__ == "__main__":
    main()
