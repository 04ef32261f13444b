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
Services are DNS labels: at most 63 characters.
*/}}
{{- define "lathe.metricsServiceName" -}}
{{- printf "%s-metrics" (include "lathe.fullname" .) | trunc 63 | trimSuffix "-" }}
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
