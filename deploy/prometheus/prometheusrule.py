"""Writes deploy/kubernetes/monitoring/prometheusrule.yaml from alerts.yml, so the rules
Prometheus loads from a file and those the Prometheus Operator loads from a PrometheusRule
are one set: run it after editing alerts.yml (a test fails until the two agree).

    python deploy/prometheus/prometheusrule.py
"""

from __future__ import annotations

from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE / "alerts.yml"
TARGET = HERE.parent / "kubernetes" / "monitoring" / "prometheusrule.yaml"
HEADER = """\
# Generated from deploy/prometheus/alerts.yml by deploy/prometheus/prometheusrule.py: edit
# alerts.yml and run that, never this file (a test checks they agree). For the Prometheus
# Operator: a Prometheus picks it by its ruleSelector (kube-prometheus-stack's default needs
# the label `release: <its Helm release>`: add it in an overlay).
"""


def render(rules_text: str) -> str:
    """The PrometheusRule holding exactly the groups of a Prometheus rules file."""
    groups = yaml.safe_load(rules_text)["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "taskplatform",
            "labels": {"app.kubernetes.io/name": "taskplatform"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=100, allow_unicode=True)


if __name__ == "__main__":
    TARGET.write_text(render(RULES.read_text()))
    print(f"wrote {TARGET}")
