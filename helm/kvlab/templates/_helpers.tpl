{{/* The chart name, or nameOverride. */}}
{{- define "kvlab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name of every object, or fullnameOverride. */}}
{{- define "kvlab.fullname" -}}
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

{{- define "kvlab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kvlab.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kvlab.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "kvlab.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The image: tag "cuda" or "cpu" by gpu.enabled unless image.tag is set. */}}
{{- define "kvlab.image" -}}
{{- $tag := .Values.image.tag | default (ternary "cuda" "cpu" .Values.gpu.enabled) }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* The Secret holding api-key, hf-token and database-password. */}}
{{- define "kvlab.secretName" -}}
{{- .Values.existingSecret | default (include "kvlab.fullname" .) }}
{{- end }}

{{/* Settings that cannot work together stop the rendering with a message saying what to set. */}}
{{- define "kvlab.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.database.url) }}
{{- fail (printf "replicaCount is %d but database.url is empty: replicas share experiments through one PostgreSQL, so set database.url (jdbc:postgresql://host:5432/kvlab) and database.password (or existingSecret)" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.database.url (not (hasPrefix "jdbc:" .Values.database.url)) }}
{{- fail (printf "database.url must be a JDBC URL such as jdbc:postgresql://host:5432/kvlab, got %q" .Values.database.url) }}
{{- end }}
{{- end }}
