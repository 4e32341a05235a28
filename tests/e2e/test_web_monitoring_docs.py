#!/usr/bin/python3
"""docs/monitoring: the Prometheus alerting rules pass `promtool check rules`
(Debian prometheus), every hedge_* metric they and the Grafana dashboard use is
one /metrics really exposes (docs/monitoring.md lists them), and the dashboard
is valid JSON with a datasource variable."""
import json
import os
import re
import subprocess
import sys
import unittest

SRC = os.environ.get("HEDGE_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCS = os.path.join(SRC, "docs", "monitoring")
STATUS_CPP = os.path.join(SRC, "resolver", "web", "status.cpp")
UPDATE_STATUS_CPP = os.path.join(SRC, "blocklists", "update", "status.cpp")   # appended to /metrics


def exposed():
    names = set(re.findall(r'help\("(hedge_[a-z_]+)"', open(STATUS_CPP).read()))
    text = open(UPDATE_STATUS_CPP).read()
    names |= set(re.findall(r'gauge\("(hedge_[a-z_]+)"', text)) | set(re.findall(r"# HELP (hedge_[a-z_]+)", text))
    return names


class MonitoringDocs(unittest.TestCase):
    def test_promtool_check_rules(self):
        p = subprocess.run(["promtool", "check", "rules", os.path.join(DOCS, "hedge-alerts.yml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout + p.stderr)

    def test_rules_use_real_metrics(self):
        names = exposed()
        for m in ("hedge_incidents_unacknowledged", "hedge_update_failures_total", "hedge_bundle_serial",
                  "hedge_update_last_success_timestamp_seconds", "hedge_lists_broken"):
            self.assertIn(m, names)
        rules = open(os.path.join(DOCS, "hedge-alerts.yml")).read()
        for m in set(re.findall(r"hedge_[a-z_]+", rules)):
            base = re.sub(r"_(bucket|sum|count)$", "", m)
            self.assertIn(base, names, f"alert rule uses {m}, which /metrics does not expose")
        for alert in ["HedgeBoxDown", "HedgeListsStale", "HedgeUpstreamFailing", "HedgeSafeguardingIncident",
                      "HedgeStoreDropping", "HedgeListsBroken", "HedgeUpdateFailing", "HedgeListsPastValidUntil",
                      "HedgeClockWrong", "HedgeFilteringCheckFailing", "HedgeAlertsNotSent"]:
            self.assertIn(f"alert: {alert}", rules)

    def test_dashboard(self):
        d = json.load(open(os.path.join(DOCS, "hedge-dashboard.json")))
        self.assertTrue(d["panels"])
        names = exposed()
        for p in d["panels"]:
            for t in p["targets"]:
                for m in re.findall(r"hedge_[a-z_]+", t["expr"]):
                    self.assertIn(re.sub(r"_(bucket|sum|count)$", "", m), names, t["expr"])
        self.assertIn("datasource", [v["name"] for v in d["templating"]["list"]])
        doc = open(os.path.join(SRC, "docs", "monitoring.md")).read()
        for m in names:
            self.assertIn(m, doc, f"{m} is not documented in docs/monitoring.md")


if __name__ == "__main__":
    unittest.main(verbosity=2)
