{{- define "serin.name" -}}serin{{- end -}}
{{- define "serin.labels" -}}
app.kubernetes.io/name: serin
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "serin.selector" -}}
app.kubernetes.io/name: serin
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "serin.serviceHost" -}}{{ include "serin.name" . }}.{{ .Release.Namespace }}.svc{{- end -}}
{{- define "serin.certSecret" -}}{{ default (printf "%s-webhook-tls" (include "serin.name" .)) .Values.webhook.certSecret }}{{- end -}}
