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
{{- /* The names the webhook's serving certificate is valid for, as a JSON list (either certificate mode). */ -}}
{{- define "serin.webhookDnsNames" -}}
{{- $host := include "serin.serviceHost" . -}}
{{- list $host (printf "%s.cluster.local" $host) (include "serin.name" .) | toJson -}}
{{- end -}}
{{- define "serin.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "serin.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
{{- /* nodeSelector, tolerations and affinity, for serin's pods and the helm test pod alike. */ -}}
{{- define "serin.placement" -}}
{{- with .Values.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
