{{/* Names and labels shared by every template of the chart. */}}

{{/* The release's base name: the release name, or "deepseek-operator" folded into it. */}}
{{- define "deepseek-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "deepseek-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "deepseek-operator.selectorLabels" -}}
app.kubernetes.io/name: deepseek-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "deepseek-operator.labels" -}}
{{ include "deepseek-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: deepseek-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "deepseek-operator.chart" . }}
{{- end -}}

{{- define "deepseek-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "deepseek-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: repository@digest, else repository:tag (tag defaults to appVersion). */}}
{{- define "deepseek-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Namespace mode: the namespaces the operator watches (the release's when none are listed). */}}
{{- define "deepseek-operator.watchNamespaces" -}}
{{- if eq .Values.scope "namespace" -}}
{{- $list := .Values.watchNamespaces | default (list .Release.Namespace) -}}
{{- toJson (uniq $list) -}}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/*
The operator's permissions on the objects it manages, shared by the ClusterRole (scope: cluster) and
the per-namespace Roles (scope: namespace). Each verb is one the code uses; see docs/install.md.
*/}}
{{- define "deepseek-operator.managerRules" -}}
# DeepSeekServices: the informer lists and watches them (operator/cmd/run_command.cc).
- apiGroups: [inference.deepseek.io]
  resources: [deepseekservices]
  verbs: [get, list, watch]
# Status: merge patch on the status subresource (DeepSeekServiceReconciler::write_status).
- apiGroups: [inference.deepseek.io]
  resources: [deepseekservices/status]
  verbs: [patch]
# Owner references with blockOwnerDeletion need update on the owner's finalizers where the
# OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift, hardened clusters).
- apiGroups: [inference.deepseek.io]
  resources: [deepseekservices/finalizers]
  verbs: [update]
# Per-region Deployments: informer (list, watch), server-side apply (patch; create when new), and
# get: before applying a name its cache does not hold, whether an object of someone else's has it
# (DeepSeekServiceReconciler::name_conflict: never adopted).
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, patch]
# Per-region Services: informer (list, watch: applies the cache holds are skipped), server-side
# apply, and the same ownership check.
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch]
# Per-region PodDisruptionBudgets: the same; policy/v1beta1 before 1.21.
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch]
# Events on DeepSeekServices: created, then patched when the same event repeats (EventRecorder).
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
# Traffic-weight ConfigMaps (spec.failover.trafficPublication): server-side apply (patch; create
# when new), and get for the ownership check before each apply (a ConfigMap someone else made under
# that name is never adopted). get adds no reach to patch, whose dry run returns the object too.
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch]
# Inference pods: read-only, for cold-start measurement from pod conditions.
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
{{- end -}}

{{/* A Prometheus duration ("15s", "1m30s", "500ms"; units ms s m h d w y) in milliseconds. */}}
{{- define "deepseek-operator.milliseconds" -}}
{{- $units := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 "d" 86400000 "w" 604800000 "y" 31536000000 -}}
{{- $total := 0 -}}
{{- range (regexFindAll "[0-9]+(ms|s|m|h|d|w|y)" (toString .) -1) -}}
{{- $number := regexFind "^[0-9]+" . -}}
{{- $total = add $total (mul (atoi $number) (get $units (trimPrefix $number .))) -}}
{{- end -}}
{{- $total -}}
{{- end -}}
