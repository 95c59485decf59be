{{- define "api.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "api.labels" -}}
app: {{ include "api.fullname" . }}
team: api
{{- end }}
