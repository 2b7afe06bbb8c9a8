#!/usr/bin/env bash
# The Helm chart without a cluster: version tied to the project's, `helm lint --strict`, the CRD
# template in step with crds/, the flags and RBAC the values produce, and bad values refused by
# values.schema.json (or the templates' checks) with a message that names the value; the
# PrometheusRule checked and unit-tested with promtool (Prometheus 2.42).
#
#   chart_static_test.sh SOURCE_DIR PROJECT_VERSION
set -euo pipefail
SRC=$1
VERSION=$2
CHART=$SRC/charts/deepseek-operator
HELM=${DSO_HELM:-/var/cache/deepseek-operator/bin/helm}
PY=/usr/bin/python3  # Debian's, with PyYAML
TD=$SRC/tests/integration/chart/testdata
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }

# 1. Chart version and appVersion are the project's.
chart_version=$(awk '$1 == "version:" {print $2}' "$CHART/Chart.yaml")
app_version=$(awk '$1 == "appVersion:" {gsub(/"/, "", $2); print $2}' "$CHART/Chart.yaml")
[ "$chart_version" = "$VERSION" ] && [ "$app_version" = "$VERSION" ] \
  && pass "Chart.yaml version and appVersion are $VERSION" \
  || fail "Chart.yaml version $chart_version / appVersion $app_version, project version $VERSION"

# 2. Lint, strictly, for each values set the tests use.
for values in "" "$TD/namespaced-values.yaml" "$TD/monitoring-values.yaml"; do
  if out=$("$HELM" lint --strict "$CHART" ${values:+-f "$values"} 2>&1); then
    pass "helm lint --strict ${values:-(defaults)}"
  else
    fail "helm lint --strict ${values:-(defaults)}: $out"
  fi
done

# 3. The CRD template with default values is crds/deepseekservices.inference.deepseek.io.yaml, apart
#    from Helm's labels and annotations.
"$HELM" template t "$CHART" --show-only templates/crd.yaml >/tmp/chart-static-crd.$$.yaml
if "$PY" - "$SRC/crds/deepseekservices.inference.deepseek.io.yaml" /tmp/chart-static-crd.$$.yaml <<'PY'
import sys, yaml
want = yaml.safe_load(open(sys.argv[1]))
got = yaml.safe_load(open(sys.argv[2]))
for k in ("app.kubernetes.io/managed-by", "helm.sh/chart"):
    got["metadata"]["labels"].pop(k, None)
got["metadata"].pop("annotations", None)
if want != got:
    import difflib, json
    a = json.dumps(want, indent=1, sort_keys=True).splitlines()
    b = json.dumps(got, indent=1, sort_keys=True).splitlines()
    print("\n".join(list(difflib.unified_diff(a, b, "crds/", "chart", lineterm=""))[:40]))
    sys.exit(1)
PY
then pass "templates/crd.yaml renders crds/deepseekservices.inference.deepseek.io.yaml"
else fail "templates/crd.yaml differs from crds/ (edit both, see the diff above)"; fi
rm -f /tmp/chart-static-crd.$$.yaml

# 4. What the values turn into.
render() { "$HELM" template rel "$CHART" -n ops "$@"; }
expect_in() {  # WHAT PATTERN ARGS...: the rendering with ARGS contains PATTERN (grep -E)
  local what=$1 pattern=$2; shift 2
  if render "$@" | grep -Eq -- "$pattern"; then pass "$what"; else fail "$what: no /$pattern/"; fi
}
expect_not_in() {
  local what=$1 pattern=$2; shift 2
  if render "$@" | grep -Eq -- "$pattern"; then fail "$what: found /$pattern/"; else pass "$what"; fi
}
expect_in "defaults: 2 replicas" '^  replicas: 2$'
expect_in "defaults: leader election on, in the release namespace" '--leader-election-namespace=ops'
expect_in "defaults: probes on /healthz" 'path: /healthz'
expect_in "defaults: probes on /readyz" 'path: /readyz'
expect_in "defaults: read-only root filesystem" 'readOnlyRootFilesystem: true'
expect_in "defaults: seccomp RuntimeDefault" 'type: RuntimeDefault'
expect_in "defaults: all capabilities dropped" 'drop: \[ALL\]'
expect_in "defaults: a ClusterRole" '^kind: ClusterRole$'
expect_not_in "defaults: no --namespace flag" '--namespace='
expect_not_in "defaults: no --prometheus-url (the value is empty)" '--prometheus-url'
expect_not_in "defaults: no ServiceMonitor" 'kind: ServiceMonitor'
expect_not_in "defaults: the CRD is kept on uninstall... unless crds.keep=false" \
  'helm.sh/resource-policy' --set crds.keep=false
expect_in "crds.keep: the CRD carries helm.sh/resource-policy: keep" 'helm.sh/resource-policy: keep'
expect_not_in "crds.install=false: no CRD" 'kind: CustomResourceDefinition' --set crds.install=false
expect_in "defaultScaling.maxReplicas reaches the CRD default" \
  'maxReplicas: \{type: integer, minimum: 1, maximum: 10000, default: 40\}' \
  --set defaultScaling.maxReplicas=40
expect_in "defaultScaling.predictive.mode Off is quoted in the CRD" 'default: "Off"' \
  --set defaultScaling.predictive.mode=Off
expect_in "operator PDB: policy/v1 from Kubernetes 1.21" '^apiVersion: policy/v1$' \
  --kube-version 1.21.0
expect_in "operator PDB: policy/v1beta1 on 1.20" '^apiVersion: policy/v1beta1$' --kube-version 1.20.2
expect_not_in "operator PDB: none with one replica" 'kind: PodDisruptionBudget' --set replicaCount=1
expect_in "prometheus.url becomes --prometheus-url" \
  '--prometheus-url=http://prom:9090' --set prometheus.url=http://prom:9090
expect_in "defaults: --prometheus-rate-window=1m" '^ +- --prometheus-rate-window=1m$'
expect_in "defaults: --autoscaler-workers=4" '^ +- --autoscaler-workers=4$'
expect_in "autoscalerWorkers becomes --autoscaler-workers" '^ +- --autoscaler-workers=16$' \
  --set autoscalerWorkers=16
expect_in "defaults: --prometheus-namespace-label=namespace" \
  '^ +- --prometheus-namespace-label=namespace$'
expect_in "defaults: --prometheus-service-label=deepseek_service" \
  '^ +- --prometheus-service-label=deepseek_service$'
expect_in "prometheus.rateWindow becomes --prometheus-rate-window" \
  '^ +- --prometheus-rate-window=4m$' --set prometheus.rateWindow=4m
expect_in "prometheus.namespaceLabel becomes --prometheus-namespace-label" \
  '^ +- --prometheus-namespace-label=kubernetes_namespace$' \
  --set prometheus.namespaceLabel=kubernetes_namespace
expect_in "prometheus.serviceLabel becomes --prometheus-service-label" \
  '^ +- --prometheus-service-label=app_instance$' --set prometheus.serviceLabel=app_instance
expect_in "a rate window of exactly 4 x the PodMonitor interval is accepted" \
  '^ +- --prometheus-rate-window=2m$' -f "$TD/monitoring-values.yaml" \
  --set metrics.podMonitor.interval=30s --set prometheus.rateWindow=2m
expect_in "a rate window in mixed units (1m30s) against a 500ms-unit interval (22500ms)" \
  '^ +- --prometheus-rate-window=1m30s$' -f "$TD/monitoring-values.yaml" \
  --set metrics.podMonitor.interval=22500ms --set prometheus.rateWindow=1m30s
expect_in "metrics.prometheusRule.rateWindow is every alert's rate() window" \
  'rate\(deepseek_inference_requests_total\{deepseek_service!=""\}\[10m\]\)' \
  -f "$TD/monitoring-values.yaml" --set metrics.prometheusRule.rateWindow=10m
expect_not_in "metrics.prometheusRule.rateWindow leaves no other rate() window" '\[5m\]' \
  -f "$TD/monitoring-values.yaml" --set metrics.prometheusRule.rateWindow=10m
expect_in "defaults: the alerts' rate() window is 5m" \
  'rate\(controller_runtime_reconcile_errors_total\{controller="deepseekservice"\}\[5m\]\)' \
  -f "$TD/monitoring-values.yaml"
expect_in "namespace scope: one --namespace per watched namespace" \
  '--namespace=chart-it-apps2' -f "$TD/namespaced-values.yaml"
expect_not_in "namespace scope: no ClusterRole for the operator" '^kind: ClusterRole(Binding)?$' \
  -f "$TD/namespaced-values.yaml" --set rbac.aggregateToDefaultRoles=false
expect_in "namespace scope without a list: the release namespace" '--namespace=ops' \
  --set scope=namespace
expect_in "monitoring: the ServiceMonitor keeps the operator's namespace label (honorLabels)" \
  'honorLabels: true' -f "$TD/monitoring-values.yaml"
expect_in "monitoring: PodMonitor relabels the instance label into deepseek_service" \
  'targetLabel: deepseek_service' -f "$TD/monitoring-values.yaml"
expect_not_in "monitoring: with namespaceLabel=namespace, no extra namespace relabelling" \
  'sourceLabels: \[__meta_kubernetes_namespace\]' -f "$TD/monitoring-values.yaml"
# The PodMonitor relabels into the very labels the operator is told to query, and the
# PrometheusRule groups by the same service label.
if render -f "$TD/monitoring-values.yaml" --set prometheus.serviceLabel=dss \
    --set prometheus.namespaceLabel=kns | "$PY" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
dep = next(d for d in docs if d["kind"] == "Deployment")
args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
flag = lambda n: next(a.split("=", 1)[1] for a in args if a.startswith(n + "="))
pm = next(d for d in docs if d["kind"] == "PodMonitor")
rl = {r["sourceLabels"][0]: r["targetLabel"]
      for r in pm["spec"]["podMetricsEndpoints"][0]["relabelings"]}
rule = next(d for d in docs if d["kind"] == "PrometheusRule")
exprs = " ".join(r["expr"] for g in rule["spec"]["groups"] for r in g["rules"])
ok = (flag("--prometheus-service-label") == "dss"
      and rl["__meta_kubernetes_pod_label_app_kubernetes_io_instance"] == "dss"
      and flag("--prometheus-namespace-label") == "kns"
      and rl["__meta_kubernetes_namespace"] == "kns"
      and "deepseek_service" not in exprs and "sum by (namespace, dss, le)" in exprs)
sys.exit(0 if ok else 1)'; then
  pass "monitoring: PodMonitor relabels into the flags' labels; the rule uses the service label"
else
  fail "monitoring: PodMonitor relabelling, --prometheus-*-label flags and the rule disagree"
fi
expect_in "monitoring: PrometheusRule" 'kind: PrometheusRule' -f "$TD/monitoring-values.yaml"
expect_in "monitoring: region Secrets readable by name only" \
  'resourceNames: \["eu-west-kubeconfig"\]' -f "$TD/monitoring-values.yaml"
expect_in "monitoring: CA Secret mounted and passed as --prometheus-ca-file" \
  '--prometheus-ca-file=/etc/deepseek-operator/prometheus-ca/ca.crt' -f "$TD/monitoring-values.yaml"

# No wildcard anywhere in the operator's RBAC.
for values in "" "$TD/namespaced-values.yaml" "$TD/monitoring-values.yaml"; do
  if render ${values:+-f "$values"} | "$PY" -c '
import sys, yaml
bad = []
for d in yaml.safe_load_all(sys.stdin):
    if d and d.get("kind") in ("Role", "ClusterRole"):
        for r in d.get("rules", []):
            for k in ("apiGroups", "resources", "verbs"):
                if "*" in r.get(k, []): bad.append(d["metadata"]["name"] + " " + k)
sys.exit(1 if bad else 0)'; then pass "no \"*\" in RBAC rules ${values:-(defaults)}"
  else fail "a \"*\" in RBAC rules ${values:-(defaults)}"; fi
done

# 5. Bad values: refused, with a message naming the value.
reject() {  # EXPECTED_MESSAGE ARGS...
  local want=$1; shift
  local out
  if out=$(render "$@" 2>&1); then
    fail "accepted: $*"
  elif grep -qF -- "$want" <<<"$out"; then
    pass "rejected $* ($want)"
  else
    fail "rejected $* but without \"$want\": $(head -c 400 <<<"$out")"
  fi
}
reject "replicaCount: Must be greater than or equal to 1" --set replicaCount=0
reject "autoscalerWorkers: Must be greater than or equal to 1" --set autoscalerWorkers=0
reject "scope: scope must be one of the following" --set scope=everywhere
reject "logFormat: logFormat must be one of the following" --set logFormat=xml
reject "logLevel: logLevel must be one of the following" --set logLevel=verbose
reject "runAsUser: Must be greater than or equal to 1" --set runAsUser=0
reject "healthPort: Must be greater than or equal to 1024" --set healthPort=80
reject "Additional property replicas is not allowed" --set replicas=3
reject "defaultScaling.predictive.mode: defaultScaling.predictive.mode must be one of" \
  --set defaultScaling.predictive.mode=On
reject "defaultScaling.metrics.0.type" --set 'defaultScaling.metrics[0].type=RPS'
reject "defaultScaling.predictive.history: Does not match pattern" \
  --set defaultScaling.predictive.history=2weeks
reject "defaultScaling.minReplicas (20) must not exceed defaultScaling.maxReplicas (10)" \
  --set defaultScaling.minReplicas=20
reject "prometheus.url: Does not match pattern" --set prometheus.url=prometheus:9090
reject "prometheus.rateWindow: Does not match pattern" --set prometheus.rateWindow=1minute
reject "prometheus.rateWindow: Invalid type. Expected: string" --set prometheus.rateWindow=60
reject "prometheus.rateWindow (0m) must be greater than 0" --set prometheus.rateWindow=0m
reject "prometheus.rateWindow (59s) must be at least 4 x metrics.podMonitor.interval (15s)" \
  -f "$TD/monitoring-values.yaml" --set prometheus.rateWindow=59s
reject "prometheus.rateWindow (1m) must be at least 4 x metrics.podMonitor.interval (1m)" \
  -f "$TD/monitoring-values.yaml" --set metrics.podMonitor.interval=1m
reject "metrics.prometheusRule.rateWindow (1m) must be at least 4 x metrics.serviceMonitor.interval (30s)" \
  -f "$TD/monitoring-values.yaml" --set metrics.prometheusRule.rateWindow=1m
reject "metrics.prometheusRule.rateWindow (3m) must be at least 4 x metrics.podMonitor.interval (1m)" \
  -f "$TD/monitoring-values.yaml" --set metrics.podMonitor.interval=1m \
  --set metrics.prometheusRule.rateWindow=3m --set prometheus.rateWindow=4m
reject "metrics.prometheusRule.rateWindow (0m) must be greater than 0" \
  --set metrics.prometheusRule.enabled=true --set metrics.prometheusRule.rateWindow=0m
reject "metrics.prometheusRule.rateWindow: Does not match pattern" \
  -f "$TD/monitoring-values.yaml" --set metrics.prometheusRule.rateWindow=5minutes
reject "prometheus.namespaceLabel: Does not match pattern" \
  --set prometheus.namespaceLabel=k8s-namespace
reject "prometheus.serviceLabel: Does not match pattern" --set prometheus.serviceLabel=0svc
reject "prometheus.serviceLabel: Does not match pattern" --set prometheus.serviceLabel=__name__
reject "prometheus.serviceLabel: Does not match pattern" --set prometheus.serviceLabel=
reject "image.digest: Does not match pattern" --set image.digest=latest
reject "watchNamespaces is used only with scope: namespace" --set 'watchNamespaces={a}'
reject "replicaCount > 1 needs leaderElection.enabled: true" --set leaderElection.enabled=false
reject "terminationGracePeriodSeconds: Must be greater than or equal to 5" \
  --set terminationGracePeriodSeconds=0
reject "crds.install: Invalid type. Expected: boolean" --set-string crds.install=yes

# 6. The PrometheusRule: valid for promtool (annotation templates included), and its alerts fire
#    exactly where testdata/alerts_test.yaml says (labels compared; annotations stripped).
PROMTOOL=${DSO_PROMTOOL:-promtool}
RULES_DIR=$(mktemp -d)
render -f "$TD/monitoring-values.yaml" --show-only templates/prometheusrule.yaml | "$PY" -c '
import sys, yaml
d = yaml.safe_load(sys.stdin)
yaml.safe_dump({"groups": d["spec"]["groups"]}, open(sys.argv[1] + "/full.yaml", "w"))
for g in d["spec"]["groups"]:
    for r in g["rules"]:
        r.pop("annotations", None)
yaml.safe_dump({"groups": d["spec"]["groups"]}, open(sys.argv[1] + "/rules.yaml", "w"))' "$RULES_DIR"
cp "$TD/alerts_test.yaml" "$RULES_DIR/"
if out=$("$PROMTOOL" check rules "$RULES_DIR/full.yaml" 2>&1); then
  pass "promtool check rules: $(grep -o '[0-9]* rules found' <<<"$out")"
else
  fail "promtool check rules: $out"
fi
if out=$("$PROMTOOL" test rules "$RULES_DIR/alerts_test.yaml" 2>&1); then
  pass "promtool test rules testdata/alerts_test.yaml"
else
  fail "promtool test rules: $(head -c 1500 <<<"$out")"
fi
rm -rf "$RULES_DIR"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all chart checks passed"
