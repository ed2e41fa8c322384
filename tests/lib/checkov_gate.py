"""Reads checkov's JSON report of template.yaml and fails unless every finding is explained.

Usage: checkov_gate.py <checkov.json> <docs/security.md>

Passes only when checkov reports no failed check and no parsing error, and every skipped check
carries an inline reason (the template's `Metadata: checkov: skip: [{id, comment}]`) and is
listed, check id and resource, in the "Template scanner" section of docs/security.md — and that
section lists nothing that is no longer skipped. A new finding, a skip without a reason and a
skip the docs don't mention all fail the step.
"""

import json
import re
import sys

DEFAULT_COMMENT = "No comment provided"  # what checkov records for a skip without `comment`
MIN_REASON = 30  # characters: a reason, not a placeholder


def cloudformation_report(path):
    report = json.load(open(path))
    # One framework gives one object; several give a list of them.
    reports = report if isinstance(report, list) else [report]
    for r in reports:
        if r.get("check_type") == "cloudformation":
            return r
    sys.exit(f"{path}: no cloudformation results (did checkov read template.yaml?)")


def documented_skips(path):
    """(check id, logical id) pairs from the table rows of the "## Template scanner" section."""
    text = open(path).read()
    section = re.search(r"^## Template scanner\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not section:
        sys.exit(f"{path}: no '## Template scanner' section")
    pairs = set()
    for line in section.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        check = re.match(r"`?(CKV2?_[A-Z0-9]+_\d+)\b", cells[0]) if len(cells) >= 3 else None
        if not check:
            continue
        check = check.group(1)
        for resource in re.findall(r"[A-Za-z][A-Za-z0-9]*", cells[1]):
            pairs.add((check, resource))
    return pairs


def main():
    report_path, docs_path = sys.argv[1], sys.argv[2]
    report = cloudformation_report(report_path)
    summary, results = report["summary"], report["results"]
    problems = []

    if summary.get("parsing_errors"):
        problems.append(f"checkov could not parse: {results.get('parsing_errors')}")
    if not summary.get("resource_count") or not summary.get("passed"):
        problems.append(f"checkov scanned nothing: {summary}")

    for c in results.get("failed_checks", []):
        lines = "-".join(map(str, c.get("file_line_range", [])))
        problems.append(
            f"FAILED {c['check_id']} {c['resource']} (template.yaml:{lines}): {c['check_name']}"
            "\n    fix it, or skip it in the resource's Metadata (checkov: skip: [{id, comment}])"
            " with a reason and list it in docs/security.md"
        )

    skipped = set()
    for c in results.get("skipped_checks", []):
        resource = c["resource"].rsplit(".", 1)[-1]
        skipped.add((c["check_id"], resource))
        reason = (c.get("check_result", {}).get("suppress_comment") or "").strip()
        if reason == DEFAULT_COMMENT or len(reason) < MIN_REASON:
            problems.append(f"SKIPPED WITHOUT A REASON {c['check_id']} {resource}: {reason!r}")

    documented = documented_skips(docs_path)
    for check, resource in sorted(skipped - documented):
        problems.append(f"NOT IN {docs_path}: {check} skipped on {resource}")
    for check, resource in sorted(documented - skipped):
        problems.append(f"STALE IN {docs_path}: {check} on {resource} is listed but not skipped")

    print(
        f"checkov {summary.get('checkov_version')} on template.yaml: {summary['passed']} passed, "
        f"{summary['failed']} failed, {summary['skipped']} skipped"
    )
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"every skip has its reason inline and a row in {docs_path}")


if __name__ == "__main__":
    main()
