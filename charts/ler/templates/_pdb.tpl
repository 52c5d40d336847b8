{{/* A component's PodDisruptionBudget. */}}
{{- define "ler.pdb" -}}
{{- $p := .c.podDisruptionBudget -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "ler.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
spec:
  {{- if hasKey $p "minAvailable" }}
  minAvailable: {{ $p.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $p.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "ler.selectorLabels" . | nindent 6 }}
{{- end -}}
