"""Lints, validates and renders a Helm chart with the real Helm engine (helm-python-sdk,
which wraps Helm v4's Go code), for codegen/tests/chart.rs.

Usage: python chart.py CHART_DIR < request.json > result.json

request: {"cases": [{"name": str, "namespace": str, "values": {...}}]}
result:  {"cases": [{"name": str,
                     "lint": {"messages": [...], "errors": [...]},   # helm lint --strict
                     "schema_error": str | null,                    # values.schema.json
                     "render_error": str | null,
                     "manifests": {template path: rendered text}}]}
"""

import json
import sys

try:
    import helm_python
except ImportError as error:  # pragma: no cover - reported by the Rust test
    sys.exit(f"helm_python is not installed ({error}); run `. .ci/tools.sh` first")


def run_case(chart_dir, case):
    values = case.get("values") or {}
    namespace = case.get("namespace", "default")
    result = {"name": case["name"], "schema_error": None, "render_error": None, "manifests": {}}
    lint = helm_python.lint(chart_dir, values, strict=True, namespace=namespace)
    result["lint"] = {"messages": lint.get("messages", []), "errors": lint.get("errors", [])}
    chart = helm_python.Chart.load(chart_dir)
    try:
        chart.validate_schema(chart.merge_values(values))
    except helm_python.HelmError as error:
        result["schema_error"] = str(error)
        return result
    try:
        result["manifests"] = chart.render(
            values, name=case.get("release", "provider"), namespace=namespace, is_install=True
        )
    except helm_python.HelmError as error:
        result["render_error"] = str(error)
    return result


def main():
    chart_dir = sys.argv[1]
    request = json.load(sys.stdin)
    json.dump({"cases": [run_case(chart_dir, case) for case in request["cases"]]}, sys.stdout)


main()
