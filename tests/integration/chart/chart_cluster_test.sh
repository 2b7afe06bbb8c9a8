#!/usr/bin/env bash
# The Helm chart on the real local control plane (ctest fixture "kube", Kubernetes 1.20):
#   - `helm template` for the default, namespace-scoped and monitoring-on values, each accepted by
#     `kubectl apply --dry-run=server` (stand-in Prometheus Operator CRDs from testdata/);
#   - helm install; least privilege with `kubectl auth can-i --as=<the chart's ServiceAccount>`;
#     the real `deepseek-operator run`, with the Deployment's own flags and that ServiceAccount's
#     token, reconciles crds/samples/minimal.yaml with no 403;
#   - helm upgrade to changed values (namespace scope, 3 replicas, new default maxReplicas, a
#     region kubeconfig Secret readable by name only) and the same checks in namespace mode;
#   - helm uninstall keeps the CRD and the DeepSeekServices; a reinstall adopts the kept CRD.
# The fixture cluster is shared: this test works in its own namespaces, never deletes the CRD, and
# leaves it as crds/ defines it.
#
#   chart_cluster_test.sh SOURCE_DIR OPERATOR_BINARY
set -euo pipefail
SRC=$1
OPERATOR=$2
CHART=$SRC/charts/deepseek-operator
TD=$SRC/tests/integration/chart/testdata
HELM=${DSO_HELM:-/var/cache/deepseek-operator/bin/helm}
eval "$("$SRC/hack/local-cluster.sh" env ctest)"
export KUBECONFIG

REL=chart-it
NS=chart-it                # the release's namespace
APPS=chart-it-apps         # where DeepSeekServices live
APPS2=chart-it-apps2
NAME=chart-it-deepseek-operator
SA=system:serviceaccount:$NS:$NAME
CRD=deepseekservices.inference.deepseek.io
WORK=$(mktemp -d)
OP_PID=
failures=0
T0=$SECONDS

log() { echo "[$((SECONDS - T0))s] $*"; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
die() { echo "FATAL: $*" >&2; exit 1; }
# kubectl wait fails at once ("<nil> is of the type <nil>") on a CRD whose status the server has
# not written yet: retry it (up to 10 times, each waiting up to 60 s).
wait_established() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    kubectl wait --for=condition=Established --timeout=60s "$@" && return 0
    sleep 1
  done
  return 1
}

cleanup() {
  [ -n "$OP_PID" ] && kill "$OP_PID" 2>/dev/null || true
  "$HELM" uninstall "$REL" -n "$NS" >/dev/null 2>&1 || true
  kubectl delete ns "$NS" "$APPS" "$APPS2" --wait=false >/dev/null 2>&1 || true
  kubectl delete -f "$TD/monitoring-crds.yaml" --wait=false >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits up to $1 seconds for the command to succeed.
wait_for() {
  local timeout=$1; shift
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.5
  done
}

for ns in "$NS" "$APPS" "$APPS2"; do
  kubectl delete ns "$ns" --wait=true --timeout=60s >/dev/null 2>&1 || true
  kubectl create ns "$ns" >/dev/null 2>&1 || die "cannot create namespace $ns"
done

# --- helm template | kubectl apply --dry-run=server, for three sets of values ---------------------
log "dry runs"
kubectl apply -f "$TD/monitoring-crds.yaml" >/dev/null 2>&1 || die "cannot create the monitoring CRDs"
wait_established crd/servicemonitors.monitoring.coreos.com crd/podmonitors.monitoring.coreos.com \
  crd/prometheusrules.monitoring.coreos.com >/dev/null 2>&1 || die "monitoring CRDs not established"
# helm template renders for the cluster's version (policy/v1beta1 PDB on 1.20), as helm install does.
server_version=$(kubectl get --raw /version 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')
for values in "" "$TD/namespaced-values.yaml" "$TD/monitoring-values.yaml"; do
  what=${values:+$(basename "$values")}
  "$HELM" template "$REL" "$CHART" -n "$NS" --kube-version "$server_version" ${values:+-f "$values"} \
    >"$WORK/rendered.yaml"
  if out=$(kubectl apply --dry-run=server --validate=false -f "$WORK/rendered.yaml" 2>&1); then
    pass "kubectl apply --dry-run=server accepts helm template ${what:-(defaults)} ($(grep -c 'dry run' <<<"$out") objects)"
  else
    fail "kubectl apply --dry-run=server refused helm template ${what:-(defaults)}: $(grep -v WARNING <<<"$out" | head -5)"
  fi
done

# --- helm install --------------------------------------------------------------------------------
log "helm install"
adopt=()
if kubectl get crd "$CRD" >/dev/null 2>&1 &&
   [ -z "$(kubectl get crd "$CRD" -o jsonpath='{.metadata.annotations.meta\.helm\.sh/release-name}' 2>/dev/null)" ]; then
  adopt=(--take-ownership)  # another test applied crds/ with kubectl: the documented adoption path
fi
"$HELM" install "$REL" "$CHART" -n "$NS" "${adopt[@]}" >"$WORK/install.log" 2>&1 \
  || die "helm install failed: $(cat "$WORK/install.log")"
pass "helm install ${adopt[*]}"
grep -q "kubectl apply -n default -f crds/samples/minimal.yaml" "$WORK/install.log" \
  && pass "NOTES.txt says what to do next" || fail "NOTES.txt: no next step in: $(cat "$WORK/install.log")"
wait_established "crd/$CRD" >/dev/null 2>&1 \
  && pass "CRD established" || fail "CRD not established"
[ "$(kubectl -n "$NS" get deploy "$NAME" -o jsonpath='{.spec.replicas}')" = 2 ] \
  && pass "Deployment with 2 replicas" || fail "Deployment replicas"
kubectl -n "$NS" get poddisruptionbudgets.v1beta1.policy "$NAME" >/dev/null 2>&1 \
  && pass "operator PodDisruptionBudget (policy/v1beta1 on $server_version)" || fail "no operator PDB"

# --- least privilege -----------------------------------------------------------------------------
can() { kubectl auth can-i --as="$SA" "$@" >/dev/null 2>&1; }
allowed() {  # ARGS... must be allowed
  if can "$@"; then pass "allowed: $*"; else fail "denied but needed: $*"; fi
}
denied() {
  if can "$@"; then fail "allowed but must be denied: $*"; else pass "denied: $*"; fi
}
check_manager_rules() {  # NAMESPACE: the verbs the operator uses there
  local n=$1
  for v in get list watch; do allowed "$v" deepseekservices.inference.deepseek.io -n "$n"; done
  allowed patch deepseekservices.inference.deepseek.io --subresource=status -n "$n"
  allowed update deepseekservices.inference.deepseek.io --subresource=finalizers -n "$n"
  for v in get list watch create patch; do allowed "$v" deployments.apps -n "$n"; done
  for v in get list watch create patch; do
    allowed "$v" services -n "$n"
    allowed "$v" poddisruptionbudgets.policy -n "$n"
  done
  for v in create patch; do allowed "$v" events -n "$n"; done
  for v in get create patch; do allowed "$v" configmaps -n "$n"; done
  for v in get list watch; do allowed "$v" pods -n "$n"; done
}
check_denied() {  # NAMESPACE: what the operator must never do there
  local n=$1
  denied create pods --subresource=exec -n "$n"
  denied get secrets -n "$n"
  denied list secrets -n "$n"
  denied delete deployments.apps -n "$n"
  denied update deployments.apps -n "$n"
  denied create deepseekservices.inference.deepseek.io -n "$n"
  denied update deepseekservices.inference.deepseek.io -n "$n"
  denied delete deepseekservices.inference.deepseek.io -n "$n"
  denied patch deepseekservices.inference.deepseek.io --subresource=scale -n "$n"
  denied create pods -n "$n"
  denied delete pods -n "$n"
  denied list configmaps -n "$n"
  denied delete configmaps -n "$n"
  denied create leases.coordination.k8s.io -n "$n"
  denied create roles.rbac.authorization.k8s.io -n "$n"
  denied create rolebindings.rbac.authorization.k8s.io -n "$n"
}
check_cluster_denied() {
  denied list secrets --all-namespaces
  denied get secrets --all-namespaces
  denied watch secrets --all-namespaces
  denied escalate clusterroles.rbac.authorization.k8s.io
  denied escalate roles.rbac.authorization.k8s.io -n "$NS"
  denied bind clusterroles.rbac.authorization.k8s.io
  denied bind roles.rbac.authorization.k8s.io -n "$NS"
  denied impersonate users
  denied impersonate serviceaccounts -n "$NS"
  denied impersonate groups
  for v in create update patch delete; do
    denied "$v" nodes
    denied "$v" customresourcedefinitions.apiextensions.k8s.io
  done
  denied create clusterrolebindings.rbac.authorization.k8s.io
  denied update "leases.coordination.k8s.io/some-other-lease" -n "$NS"
  denied get "leases.coordination.k8s.io/some-other-lease" -n "$NS"
  denied delete leases.coordination.k8s.io -n "$NS"
  denied get secrets -n "$NS"
}
check_lease_rules() {
  allowed create leases.coordination.k8s.io -n "$NS"
  allowed get leases.coordination.k8s.io/deepseek-operator -n "$NS"
  allowed update leases.coordination.k8s.io/deepseek-operator -n "$NS"
}
log "least privilege, cluster scope"
check_manager_rules "$APPS"
for v in list watch; do
  allowed "$v" deepseekservices.inference.deepseek.io --all-namespaces
  allowed "$v" deployments.apps --all-namespaces
done
check_lease_rules
check_denied "$APPS"
check_cluster_denied

# --- the operator with the ServiceAccount's own token --------------------------------------------
secret=
wait_for 30 sh -c "kubectl -n $NS get sa $NAME -o jsonpath='{.secrets[0].name}' | grep -q ." \
  || die "no token Secret for ServiceAccount $NS/$NAME"
secret=$(kubectl -n "$NS" get sa "$NAME" -o jsonpath='{.secrets[0].name}' 2>/dev/null)
token=$(kubectl -n "$NS" get secret "$secret" -o jsonpath='{.data.token}' 2>/dev/null | base64 -d)
[ -n "$token" ] || die "empty token in Secret $NS/$secret"
cat >"$WORK/sa.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: ctest
  cluster: {server: "$DSO_APISERVER", certificate-authority: "$DSO_CA_FILE"}
users:
- name: operator
  user: {token: "$token"}
contexts:
- name: operator
  context: {cluster: ctest, user: operator}
current-context: operator
KC
chmod 600 "$WORK/sa.kubeconfig"
if KUBECONFIG=$WORK/sa.kubeconfig kubectl get secrets -n kube-system >/dev/null 2>&1; then
  fail "the ServiceAccount's token reads Secrets in kube-system"
else
  pass "the ServiceAccount's token is refused Secrets in kube-system"
fi

# Starts `deepseek-operator run` with the Deployment's own arguments (the health port moved to a free
# loopback port), as the ServiceAccount.
start_operator() {
  local args
  args=$(kubectl -n "$NS" get deploy "$NAME" -o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}' 2>/dev/null)
  mapfile -t argv < <(sed 's/^--health-addr=.*/--health-addr=127.0.0.1:0/' <<<"$args")
  [ "${argv[0]}" = run ] || die "the Deployment's first argument is not run: ${argv[*]}"
  echo "${argv[*]}" >"$WORK/args.txt"
  POD_NAMESPACE=$NS "$OPERATOR" "${argv[@]}" --kubeconfig "$WORK/sa.kubeconfig" --log-level debug \
    >"$1" 2>&1 &
  OP_PID=$!
}
stop_operator() {  # LOG: SIGTERM, expect a clean exit
  kill -TERM "$OP_PID"
  local rc=0
  wait "$OP_PID" || rc=$?
  OP_PID=
  [ "$rc" = 0 ] && pass "operator stopped cleanly on SIGTERM" || fail "operator exited $rc on SIGTERM"
  # "403 Forbidden" as the operator logs an API error; not a 403 inside a uuid or a timestamp.
  local denied='\b403 Forbidden\b|forbidden:'
  if grep -qiE "$denied" "$1"; then
    fail "403/forbidden in the operator's log: $(grep -iE "$denied" "$1" | head -3)"
  else
    pass "no 403 in the operator's log ($(wc -l <"$1") lines)"
  fi
}
# SERVICE NAMESPACE: its per-region Deployment, Service and PDB exist and its status was written.
expect_reconciled() {
  local svc=$1 n=$2 obj=$1-default
  if wait_for 60 sh -c "kubectl -n $n get dss $svc -o jsonpath='{.status.observedGeneration}' | grep -q '[1-9]'"; then
    pass "$n/$svc: status written by the operator"
  else
    fail "$n/$svc: no status within 60 s"
    return
  fi
  for kind in deployment service poddisruptionbudget; do
    kubectl -n "$n" get "$kind" "$obj" >/dev/null 2>&1 && pass "$n/$svc: $kind $obj applied" \
      || fail "$n/$svc: no $kind $obj"
  done
  wait_for 10 sh -c "kubectl -n $n get events --field-selector involvedObject.name=$svc,reason=Created -o name | grep -q ." \
    && pass "$n/$svc: Created event recorded" || fail "$n/$svc: no Created event"
}

log "operator run as $SA (cluster scope)"
start_operator "$WORK/operator1.log"
kubectl -n "$APPS" apply -f "$SRC/crds/samples/minimal.yaml" >/dev/null 2>&1 || die "cannot apply the sample"
expect_reconciled chat-small "$APPS"
holder=$(kubectl -n "$NS" get lease deepseek-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
[ -n "$holder" ] && pass "the operator holds Lease $NS/deepseek-operator ($holder)" \
  || fail "no holder on Lease $NS/deepseek-operator"
stop_operator "$WORK/operator1.log"
max_before=$(kubectl -n "$APPS" get dss chat-small -o jsonpath='{.spec.autoscaling.maxReplicas}' 2>/dev/null)

# --- helm upgrade: namespace scope, 3 replicas, text logs, default maxReplicas 20 ----------------
log "helm upgrade"
"$HELM" upgrade "$REL" "$CHART" -n "$NS" -f "$TD/namespaced-values.yaml" --set replicaCount=3 \
  --set logFormat=text --set defaultScaling.maxReplicas=20 \
  --set "regionSecrets[0].name=eu-west-kubeconfig" --set "regionSecrets[0].namespace=$APPS" \
  --set "regionSecrets[0].kubeconfig=apiVersion: v1" >"$WORK/upgrade.log" 2>&1 \
  || die "helm upgrade failed: $(cat "$WORK/upgrade.log")"
pass "helm upgrade"
[ "$(kubectl -n "$NS" get deploy "$NAME" -o jsonpath='{.spec.replicas}')" = 3 ] \
  && pass "upgrade: 3 replicas" || fail "upgrade: replicas not 3"
args=$(kubectl -n "$NS" get deploy "$NAME" -o jsonpath='{.spec.template.spec.containers[0].args}')
grep -q -- '--log-format=text' <<<"$args" && grep -q -- "--namespace=$APPS" <<<"$args" \
  && pass "upgrade: flags --log-format=text --namespace=$APPS" || fail "upgrade: flags $args"
kubectl get clusterrole "$NAME" >/dev/null 2>&1 && fail "upgrade: ClusterRole $NAME still there" \
  || pass "upgrade: ClusterRole $NAME removed"
kubectl get dss chat-small -n "$APPS" >/dev/null 2>&1 && pass "upgrade: existing DeepSeekService kept" \
  || fail "upgrade: DeepSeekService $APPS/chat-small lost"
[ "$max_before" = 10 ] && [ "$(kubectl -n "$APPS" get dss chat-small -o jsonpath='{.spec.autoscaling.maxReplicas}')" = 10 ] \
  && pass "upgrade: an existing service keeps the default it was created with (10)" \
  || fail "upgrade: chat-small maxReplicas before $max_before, after $(kubectl -n "$APPS" get dss chat-small -o jsonpath='{.spec.autoscaling.maxReplicas}')"
sed 's/name: chat-small/name: chat-two/' "$SRC/crds/samples/minimal.yaml" | kubectl -n "$APPS2" apply -f - >/dev/null 2>&1
[ "$(kubectl -n "$APPS2" get dss chat-two -o jsonpath='{.spec.autoscaling.maxReplicas}')" = 20 ] \
  && pass "upgrade: a new service gets the new default maxReplicas (20)" \
  || fail "upgrade: new service maxReplicas $(kubectl -n "$APPS2" get dss chat-two -o jsonpath='{.spec.autoscaling.maxReplicas}')"

log "least privilege, namespace scope"
check_manager_rules "$APPS"
check_manager_rules "$APPS2"
check_lease_rules
check_denied "$APPS"
check_cluster_denied
denied list deepseekservices.inference.deepseek.io --all-namespaces
denied list deployments.apps --all-namespaces
denied list deepseekservices.inference.deepseek.io -n default
denied patch deployments.apps -n default
denied list pods -n default
# Region kubeconfig Secrets: the named one only, get only.
allowed get secrets/eu-west-kubeconfig -n "$APPS"
denied get secrets/us-east-kubeconfig -n "$APPS"
denied list secrets -n "$APPS"
denied watch secrets -n "$APPS"
denied update secrets/eu-west-kubeconfig -n "$APPS"
kubectl -n "$APPS" create secret generic us-east-kubeconfig --from-literal=kubeconfig=x >/dev/null 2>&1
if KUBECONFIG=$WORK/sa.kubeconfig kubectl -n "$APPS" get secret eu-west-kubeconfig >/dev/null 2>&1 &&
   ! KUBECONFIG=$WORK/sa.kubeconfig kubectl -n "$APPS" get secret us-east-kubeconfig >/dev/null 2>&1; then
  pass "the ServiceAccount's token reads the listed region Secret and no other"
else
  fail "region Secrets: the token's access is not exactly the listed Secret"
fi

log "operator run as $SA (namespace scope)"
start_operator "$WORK/operator2.log"
grep -q -- "--namespace=$APPS2" "$WORK/args.txt" || fail "namespace mode: args $(cat "$WORK/args.txt")"
expect_reconciled chat-two "$APPS2"
stop_operator "$WORK/operator2.log"

# --- helm uninstall: CRD and DeepSeekServices kept; reinstall adopts the CRD ----------------------
log "helm uninstall"
"$HELM" uninstall "$REL" -n "$NS" >"$WORK/uninstall.log" 2>&1 || die "helm uninstall: $(cat "$WORK/uninstall.log")"
kubectl get crd "$CRD" >/dev/null 2>&1 && pass "uninstall: CRD kept" || fail "uninstall: CRD deleted"
kubectl -n "$APPS" get dss chat-small >/dev/null 2>&1 && kubectl -n "$APPS2" get dss chat-two >/dev/null 2>&1 \
  && pass "uninstall: DeepSeekServices kept" || fail "uninstall: DeepSeekServices lost"
kubectl -n "$APPS" get deploy chat-small-default >/dev/null 2>&1 \
  && pass "uninstall: the services' Deployments keep running" || fail "uninstall: chat-small-default gone"
for what in "deploy/$NAME" "sa/$NAME" "role/$NAME-leader-election"; do
  kubectl -n "$NS" get "$what" >/dev/null 2>&1 && fail "uninstall: $what left behind" || pass "uninstall: $what removed"
done
kubectl -n "$APPS" get role "$NAME" >/dev/null 2>&1 && fail "uninstall: Role $APPS/$NAME left" \
  || pass "uninstall: Role $APPS/$NAME removed"
"$HELM" install "$REL" "$CHART" -n "$NS" >"$WORK/reinstall.log" 2>&1 \
  && pass "reinstall with the same release name adopts the kept CRD" \
  || fail "reinstall: $(cat "$WORK/reinstall.log")"
[ "$(kubectl -n "$APPS2" get dss chat-two -o jsonpath='{.spec.autoscaling.maxReplicas}')" = 20 ] \
  && pass "reinstall: services keep their spec" || fail "reinstall: chat-two changed"
"$HELM" uninstall "$REL" -n "$NS" >/dev/null 2>&1 || fail "second uninstall"

log "done"
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all chart cluster checks passed"
