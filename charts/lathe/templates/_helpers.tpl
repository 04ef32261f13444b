{{/*
The chart name, for the app.kubernetes.io/name label.
*/}}
{{- define "lathe.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources: the release name, plus the chart name unless the
release name already contains it. Truncated to 63 characters (some names are DNS labels).
*/}}
{{- define "lathe.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "lathe.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "lathe.labels" -}}
helm.sh/chart: {{ include "lathe.chart" . }}
{{ include "lathe.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: lathe
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the operator's pods; fixed for the life of a release (a Deployment's
selector cannot change).
*/}}
{{- define "lathe.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lathe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lathe.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lathe.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
ClusterRoles are cluster-scoped: the namespace is part of the name so that releases of the
same name in two namespaces do not share (and fight over) one.
*/}}
{{- define "lathe.clusterRoleName" -}}
{{- printf "%s-%s" (include "lathe.fullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{/*
The ClusterRole of the operator's reads of cluster-scoped resources (clusterrole-cluster-scoped.yaml).
*/}}
{{- define "lathe.clusterScopedRoleName" -}}
{{- printf "%s-%s-cluster-scoped" (include "lathe.fullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{/*
Services are DNS labels: at most 63 characters.
*/}}
{{- define "lathe.metricsServiceName" -}}
{{- printf "%s-metrics" (include "lathe.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The namespaces Lathe never acts in, as a JSON list: kube-system, always, then refusedNamespaces.
*/}}
{{- define "lathe.refusedNamespaces" -}}
{{- concat (list "kube-system") .Values.refusedNamespaces | uniq | toJson }}
{{- end }}

{{/*
The operator's user name as the API server authenticates it (its service account).
*/}}
{{- define "lathe.serviceAccountUsername" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "lathe.serviceAccountName" .) }}
{{- end }}

{{/*
The admission policy and its binding are cluster-scoped: named like the ClusterRole, so releases
in two namespaces do not share one.
*/}}
{{- define "lathe.admissionPolicyName" -}}
{{- include "lathe.clusterRoleName" . }}
{{- end }}

{{- define "lathe.leaderElectionRoleName" -}}
{{- printf "%s-leader-election" (include "lathe.fullname" .) | trunc 253 }}
{{- end }}

{{/*
The Lease the replicas elect a leader with; the Role grants access to this name only.
*/}}
{{- define "lathe.leaderElectionId" -}}
{{- .Values.leaderElection.leaseName }}
{{- end }}

{{- define "lathe.operatorImage" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
A runtime image reference from {repository, tag}; call with (list $root $image).
*/}}
{{- define "lathe.runtimeImage" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- printf "%s:%s" $image.repository ($image.tag | default $root.Chart.AppVersion) }}
{{- end }}

{{/*
Checks across values that the schema cannot express. Each message names the values to fix.
*/}}
{{- define "lathe.validateValues" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.leaderElection.enabled) }}
{{- fail (printf "replicaCount=%d needs leaderElection.enabled=true: replicas without leader election would reconcile the same objects at once" (int .Values.replicaCount)) }}
{{- end }}
{{- if .Values.leaderElection.enabled }}
{{- $le := .Values.leaderElection }}
{{- if ge (int $le.renewDeadlineSeconds) (int $le.leaseDurationSeconds) }}
{{- fail (printf "leaderElection.renewDeadlineSeconds (%d) must be less than leaderElection.leaseDurationSeconds (%d)" (int $le.renewDeadlineSeconds) (int $le.leaseDurationSeconds)) }}
{{- end }}
{{- if ge (mulf $le.retryPeriodSeconds 1.2) (float64 $le.renewDeadlineSeconds) }}
{{- fail (printf "leaderElection.retryPeriodSeconds (%d) must be less than leaderElection.renewDeadlineSeconds / 1.2 (%d / 1.2)" (int $le.retryPeriodSeconds) (int $le.renewDeadlineSeconds)) }}
{{- end }}
{{- end }}
{{- $refused := include "lathe.refusedNamespaces" . | fromJsonArray }}
{{- range $namespace := .Values.watchNamespaces }}
{{- if has $namespace $refused }}
{{- fail (printf "watchNamespaces contains %s, which is refused (kube-system always, others by refusedNamespaces): Lathe never acts there" $namespace) }}
{{- end }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.health.port) }}
{{- fail (printf "metrics.port and health.port must differ (both %d)" (int .Values.health.port)) }}
{{- end }}
{{- $store := .Values.objectStore }}
{{- if and $store.endpoint (not $store.credentialsSecret.name) }}
{{- fail "objectStore.endpoint is set but objectStore.credentialsSecret.name is not: name the Secret holding the access and secret keys" }}
{{- end }}
{{- if and $store.credentialsSecret.name (not $store.endpoint) }}
{{- fail "objectStore.credentialsSecret.name is set but objectStore.endpoint is not: set the object store's URL, e.g. http://minio.minio.svc:9000" }}
{{- end }}
{{- end }}

{{/*
The operator container's memory limit in MiB, from resources.limits.memory written as a whole
number of bytes or with a binary (Ki, Mi, Gi, Ti) or decimal (k, M, G, T) suffix; 0 when it is
written another way (e.g. 1.5Gi), and then no heap limit is derived from it.
*/}}
{{- define "lathe.memoryLimitMiB" -}}
{{- $q := toString (dig "limits" "memory" "" .Values.resources) -}}
{{- if regexMatch "^[0-9]+([KMGT]i|[kMGT])?$" $q -}}
{{- $n := regexFind "^[0-9]+" $q | atoi -}}
{{- $unit := regexFind "[A-Za-z]*$" $q -}}
{{- $perUnit := dict "" 1 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 -}}
{{- div (mul $n (get $perUnit $unit)) 1048576 -}}
{{- else -}}
0
{{- end -}}
{{- end }}

{{/*
NODE_OPTIONS of the operator: the V8 old-space limit at 3/4 of the container's memory limit
(the rest is Node.js itself, V8's young generation and code, and native buffers), so V8 collects
garbage before the kernel's OOM killer would stop the container — unless nodeOptions sets
--max-old-space-size itself — followed by nodeOptions.
*/}}
{{- define "lathe.nodeOptions" -}}
{{- $flags := list -}}
{{- $limit := include "lathe.memoryLimitMiB" . | atoi -}}
{{- if and (gt $limit 0) (not (contains "--max-old-space-size" .Values.nodeOptions)) -}}
{{- $flags = append $flags (printf "--max-old-space-size=%d" (div (mul $limit 3) 4)) -}}
{{- end -}}
{{- with .Values.nodeOptions -}}
{{- $flags = append $flags . -}}
{{- end -}}
{{- join " " $flags -}}
{{- end }}

{{/*
The web console (console-*.yaml): its resources are named <fullname>-console, and its pods
carry a name label of their own, so neither the operator's Deployment nor its metrics Service
ever selects them.
*/}}
{{- define "lathe.consoleFullname" -}}
{{- printf "%s-console" (include "lathe.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lathe.consoleSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-console" (include "lathe.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lathe.consoleLabels" -}}
helm.sh/chart: {{ include "lathe.chart" . }}
{{ include "lathe.consoleSelectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: console
app.kubernetes.io/part-of: lathe
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lathe.consoleServiceAccountName" -}}
{{- include "lathe.consoleFullname" . }}
{{- end }}

{{- define "lathe.consoleClusterRoleName" -}}
{{- printf "%s-%s" (include "lathe.consoleFullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{- define "lathe.consoleReviewRoleName" -}}
{{- printf "%s-%s-reviews" (include "lathe.consoleFullname" .) .Release.Namespace | trunc 253 }}
{{- end }}

{{/*
NODE_OPTIONS of the console: --max-old-space-size at 3/4 of console.resources.limits.memory,
as for the operator.
*/}}
{{- define "lathe.consoleNodeOptions" -}}
{{- $limit := include "lathe.memoryLimitMiB" (dict "Values" (dict "resources" .Values.console.resources)) | atoi -}}
{{- if gt $limit 0 -}}
{{- printf "--max-old-space-size=%d" (div (mul $limit 3) 4) -}}
{{- end -}}
{{- end }}
