{{/* A component's ServiceAccount: the services never call the Kubernetes API, so no token. */}}
{{- define "ler.serviceaccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "ler.serviceAccountName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
automountServiceAccountToken: false
{{- end -}}
