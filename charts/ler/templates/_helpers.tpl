{{/*
Names, labels and the component model shared by every template.
*/}}

{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "ler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: <release>-<chart> unless the release name already contains it. */}}
{{- define "ler.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of a component's objects: (dict "root" $ "name" "issuance"). */}}
{{- define "ler.componentName" -}}
{{- printf "%s-%s" (include "ler.fullname" .root) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "ler.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "ler.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ler
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of a component's pods: (dict "root" $ "name" "issuance"). */}}
{{- define "ler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ler.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* All labels of a component's objects: (dict "root" $ "name" "issuance"). */}}
{{- define "ler.componentLabels" -}}
{{ include "ler.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{/* The image reference: repository:tag, or repository:tag@digest when a digest is pinned. */}}
{{- define "ler.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if eq $tag "latest" -}}
{{- fail "image.tag: \"latest\" is not allowed; pin a version (the default is the chart's appVersion)" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Deep merge of `src` into `dst`, in place: (dict "dst" $d "src" $s). Unlike sprig's
merge/mergeOverwrite, a false, 0 or "" in `src` does override `dst` (so a component can set
`autoscaling.enabled: false` or `replicas: 0` over the defaults). Lists are replaced whole.
*/}}
{{- define "ler.mergeInto" -}}
{{- $dst := .dst -}}
{{- range $key, $value := .src -}}
{{- if and (kindIs "map" $value) (kindIs "map" (get $dst $key)) -}}
{{- include "ler.mergeInto" (dict "dst" (get $dst $key) "src" $value) -}}
{{- else -}}
{{- $_ := set $dst $key (deepCopy $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The enabled components, each merged over `default:`, as a dict name -> settings. Returned as
JSON (templates return strings): use `include "ler.components" . | fromJson`. Numbers survive
the round trip as float64, so print them with `int`.
*/}}
{{- define "ler.components" -}}
{{- $out := dict -}}
{{- range $name, $component := .Values.components -}}
{{- if $component.enabled -}}
{{- $merged := deepCopy $.Values.default -}}
{{- include "ler.mergeInto" (dict "dst" $merged "src" $component) -}}
{{- $_ := set $out $name $merged -}}
{{- end -}}
{{- end -}}
{{- include "ler.validateComponents" (dict "root" . "components" $out) -}}
{{- toJson $out -}}
{{- end -}}

{{/* Checks across components that a JSON schema cannot express; fails with a clear message. */}}
{{- define "ler.validateComponents" -}}
{{- $components := .components -}}
{{- $root := .root -}}
{{- $secretLike := "(?i)(DATABASE_URL|KEK|PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIALS)" -}}
{{- range $name, $c := $components -}}
{{- range $target, $ports := $c.networkPolicy.egress.calls -}}
{{- if not (hasKey $components $target) -}}
{{- fail (printf "components.%s.networkPolicy.egress.calls: %q is not an enabled component" $name $target) -}}
{{- end -}}
{{- if eq $target $name -}}
{{- fail (printf "components.%s.networkPolicy.egress.calls: a component does not call itself" $name) -}}
{{- end -}}
{{- end -}}
{{- range $key, $_ := merge (deepCopy $c.env) $root.Values.config.env -}}
{{- if regexMatch $secretLike $key -}}
{{- fail (printf "components.%s.env / config.env: %s looks like a secret; put it in an existing Secret and reference it with secretEnv" $name $key) -}}
{{- end -}}
{{- end -}}
{{- if and $c.podDisruptionBudget.enabled (hasKey $c.podDisruptionBudget "minAvailable") (hasKey $c.podDisruptionBudget "maxUnavailable") -}}
{{- fail (printf "components.%s.podDisruptionBudget: set minAvailable or maxUnavailable, not both" $name) -}}
{{- end -}}
{{- if and $c.autoscaling.enabled (gt (int $c.autoscaling.minReplicas) (int $c.autoscaling.maxReplicas)) -}}
{{- fail (printf "components.%s.autoscaling: minReplicas (%d) exceeds maxReplicas (%d)" $name (int $c.autoscaling.minReplicas) (int $c.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- if and $root.Values.kafkaTopics.strimzi.enabled $root.Values.kafkaTopics.job.enabled -}}
{{- fail "kafkaTopics: enable either strimzi (KafkaTopic resources) or job (topic-creation Job), not both" -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount name of a component. */}}
{{- define "ler.serviceAccountName" -}}
{{- include "ler.componentName" . -}}
{{- end -}}

{{/* Name of the hooks' ServiceAccount (migration and topic Jobs run before the release's objects exist). */}}
{{- define "ler.hookServiceAccountName" -}}
{{- printf "%s-hooks" (include "ler.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Pod-level securityContext: non-root uid/gid 10001 (the image's user), RuntimeDefault seccomp. */}}
{{- define "ler.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level securityContext: no escalation, read-only root, no capabilities. */}}
{{- define "ler.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Environment of a component that comes from existing Secrets: (dict "root" $ "name" n "c" settings). */}}
{{- define "ler.secretEnv" -}}
- name: LER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .c.database.secretName }}
      key: {{ .c.database.key }}
{{- if .c.kek }}
- name: LER_KEK
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.secrets.kek.secretName }}
      key: {{ .root.Values.secrets.kek.key }}
{{- end }}
{{- include "ler.kafkaSecretEnv" .root }}
{{- range .c.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{/* Kafka SASL credentials from their Secret, when enabled. */}}
{{- define "ler.kafkaSecretEnv" -}}
{{- with .Values.secrets.kafkaSasl }}
{{- if .enabled }}
{{- if not .username }}
- name: LER_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .usernameKey }}
{{- end }}
- name: LER_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .passwordKey }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Non-secret Kafka client settings shared by the services and the topic Job. */}}
{{- define "ler.kafkaConfig" -}}
{{- $sasl := .Values.secrets.kafkaSasl -}}
LER_KAFKA_BOOTSTRAP_SERVERS: {{ .Values.config.kafkaBootstrapServers | quote }}
{{- if $sasl.enabled }}
LER_KAFKA_SECURITY_PROTOCOL: {{ $sasl.securityProtocol | quote }}
LER_KAFKA_SASL_MECHANISM: {{ $sasl.mechanism | quote }}
{{- with $sasl.username }}
LER_KAFKA_SASL_USERNAME: {{ . | quote }}
{{- end }}
{{- else if .Values.secrets.kafkaCa.enabled }}
LER_KAFKA_SECURITY_PROTOCOL: "SSL"
{{- end }}
{{- if .Values.secrets.kafkaCa.enabled }}
LER_KAFKA_SSL_CAFILE: "/etc/ler/kafka-ca/ca.crt"
{{- end }}
{{- end -}}

{{/* The Kafka CA certificate volume and its mount, when secrets.kafkaCa is enabled. */}}
{{- define "ler.kafkaCaVolume" -}}
{{- with .Values.secrets.kafkaCa }}
{{- if .enabled }}
- name: kafka-ca
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0444
    items:
      - key: {{ .key }}
        path: ca.crt
{{- end }}
{{- end }}
{{- end -}}

{{- define "ler.kafkaCaMount" -}}
{{- if .Values.secrets.kafkaCa.enabled }}
- name: kafka-ca
  mountPath: /etc/ler/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* The writable /tmp every pod gets (the root filesystem is read-only). */}}
{{- define "ler.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ . }}
{{- end -}}

{{/* A hook object's annotations: (dict "weight" n). Created before the hook Jobs, removed once they succeed. */}}
{{- define "ler.hookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
