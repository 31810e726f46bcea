{{/* The chart's name, and the release's full name (both cut to 63 characters, DNS names). */}}
{{- define "phone-verify.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "phone-verify.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "phone-verify.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "phone-verify.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "phone-verify.selectorLabels" -}}
app.kubernetes.io/name: {{ include "phone-verify.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "phone-verify.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "phone-verify.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "phone-verify.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "phone-verify.secretName" -}}
{{- default (include "phone-verify.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "phone-verify.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "phone-verify.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The settings: every non-empty value of `config` (an empty one leaves the service's default; a
value here wins over the same key in the Secret), DATABASE_URL (the SQLite file, or the Secret's
key), extraEnv; the rest of the Secret's keys through envFrom. The Deployment and the migration
Job share them.
*/}}
{{- define "phone-verify.env" -}}
env:
{{- range $name, $value := .Values.config }}
{{- if ne (toString $value) "" }}
  - name: {{ $name }}
    value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- if .Values.sqlite.enabled }}
  - name: DATABASE_URL
    value: /data/phone-verify.sqlite
{{- else }}
  # named, so that a Secret without it stops the pod rather than leave the image's SQLite default
  - name: DATABASE_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "phone-verify.secretName" . }}
        key: DATABASE_URL
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . | indent 2 }}
{{- end }}
envFrom:
  - secretRef:
      name: {{ include "phone-verify.secretName" . }}
{{- end }}

{{/*
What a release cannot run with: said at install time rather than by a crashing pod. With
existingSecret the Secret may hold any setting: those are not checked.
*/}}
{{- define "phone-verify.checks" -}}
{{- if eq (toString .Values.config.METRICS_PORT) "0" }}
{{- fail "config.METRICS_PORT: the probes and the ServiceMonitor use the management port; it cannot be 0 here" }}
{{- end }}
{{- if and .Values.sqlite.enabled .Values.autoscaling.enabled }}
{{- fail "autoscaling.enabled: SQLite serves one instance (sqlite.enabled)" }}
{{- end }}
{{- if and (eq .Values.config.NODE_ENV "production") (not .Values.existingSecret) (not .Values.config.SMS_PROVIDER) }}
{{- fail "config.SMS_PROVIDER: NODE_ENV=production refuses the default (console); set a provider (docs/sms-providers.md)" }}
{{- end }}
{{- if and (eq .Values.config.NODE_ENV "production") (not .Values.existingSecret) (not .Values.secrets.CODE_HMAC_KEY) }}
{{- fail "secrets.CODE_HMAC_KEY (or existingSecret): NODE_ENV=production requires it" }}
{{- end }}
{{- if and (not .Values.sqlite.enabled) (not .Values.existingSecret) (not .Values.secrets.DATABASE_URL) }}
{{- fail "secrets.DATABASE_URL (or existingSecret): a postgres:// URL, or sqlite.enabled=true" }}
{{- end }}
{{- end }}
