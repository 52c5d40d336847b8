{{/*
The topics of kafkaTopics.topics, each completed from kafkaTopics.defaults, as JSON:
[{"name", "partitions", "replicationFactor", "config": {"retention.ms", "min.insync.replicas"}}].
Kafka topic configs are strings, as the AdminClient and Strimzi take them.
*/}}
{{- define "ler.topics" -}}
{{- $d := .Values.kafkaTopics.defaults -}}
{{- $out := list -}}
{{- range $name := keys .Values.kafkaTopics.topics | sortAlpha -}}
{{- $t := merge (deepCopy (get $.Values.kafkaTopics.topics $name)) $d -}}
{{- $config := dict "retention.ms" (printf "%d" (int64 $t.retentionMs)) "min.insync.replicas" (printf "%d" (int64 $t.minInsyncReplicas)) -}}
{{- if gt (int64 $t.minInsyncReplicas) (int64 $t.replicationFactor) -}}
{{- fail (printf "kafkaTopics.topics.%s: minInsyncReplicas (%d) exceeds replicationFactor (%d)" $name (int64 $t.minInsyncReplicas) (int64 $t.replicationFactor)) -}}
{{- end -}}
{{- $out = append $out (dict "name" $name "partitions" (int64 $t.partitions) "replicationFactor" (int64 $t.replicationFactor) "config" $config) -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}
