{{/*
A component's non-secret settings, read by its container through envFrom. Secrets never go
here: they come from existing Secrets through secretKeyRef (see ler.secretEnv).
*/}}
{{- define "ler.configmapData" -}}
{{- $root := .root -}}
{{- $c := .c -}}
LER_GRPC_HOST: "0.0.0.0"
LER_GRPC_PORT: {{ int $c.ports.grpc | quote }}
LER_HTTP_HOST: "0.0.0.0"
LER_HTTP_PORT: {{ int $c.ports.http | quote }}
LER_METRICS_HOST: "0.0.0.0"
LER_METRICS_PORT: {{ int $c.ports.metrics | quote }}
LER_LOG_LEVEL: {{ $root.Values.config.logLevel | quote }}
{{ include "ler.kafkaConfig" $root }}
LER_KAFKA_TOPIC_PARTITIONS: {{ int $root.Values.kafkaTopics.defaults.partitions | quote }}
LER_KAFKA_REPLICATION_FACTOR: {{ int $root.Values.kafkaTopics.defaults.replicationFactor | quote }}
# Migrations run in the pre-install/pre-upgrade Job, not in every replica at start-up.
LER_RUN_MIGRATIONS: "false"
{{- range $target := keys $c.networkPolicy.egress.calls | sortAlpha }}
{{- if has "grpc" (get $c.networkPolicy.egress.calls $target) }}
{{ printf "LER_%s_GRPC_TARGET" (upper $target) }}: {{ printf "%s:%d" (include "ler.componentName" (dict "root" $root "name" $target)) (int (get $.all $target).ports.grpc) | quote }}
{{- end }}
{{- end }}
{{- if $root.Values.otel.enabled }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ $root.Values.otel.endpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: grpc
{{- $attrs := list (printf "service.namespace=%s" $root.Release.Namespace) }}
{{- range $k := keys $root.Values.otel.resourceAttributes | sortAlpha }}
{{- $attrs = append $attrs (printf "%s=%s" $k (get $root.Values.otel.resourceAttributes $k)) }}
{{- end }}
OTEL_RESOURCE_ATTRIBUTES: {{ join "," $attrs | quote }}
{{- else }}
OTEL_SDK_DISABLED: "true"
{{- end }}
{{- $env := merge (deepCopy $c.env) $root.Values.config.env }}
{{- range $k := keys $env | sortAlpha }}
{{ $k }}: {{ get $env $k | toString | quote }}
{{- end }}
{{- end -}}

{{- define "ler.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "ler.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
data:
  {{- include "ler.configmapData" . | nindent 2 }}
{{- end -}}
