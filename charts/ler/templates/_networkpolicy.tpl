{{/*
NetworkPolicies: each selected pod accepts and opens only the designed flows (DESIGN.md).
Ingress to a component's port comes from "public" (any source), "clients"
(networkPolicy.clients) or another component whose egress.calls names this component and port;
egress goes to DNS, PostgreSQL, Kafka, the OTLP collector, the components it calls and, where
egress.internet is set, HTTPS on the public internet.
*/}}

{{/* One egress rule to a configured destination: (dict "peers" list "ports" list). */}}
{{- define "ler.egressRule" -}}
- to:
    {{- toYaml .peers | nindent 4 }}
  ports:
    {{- toYaml .ports | nindent 4 }}
{{- end -}}

{{/* Egress every LER pod needs: DNS, plus (dict "root" $ "needs" (list "postgresql" "kafka" "otlp")). */}}
{{- define "ler.baseEgress" -}}
{{- $np := .root.Values.networkPolicy -}}
{{ include "ler.egressRule" $np.egress.dns }}
{{- range .needs }}
{{- if or (ne . "otlp") $.root.Values.otel.enabled }}
{{ include "ler.egressRule" (get $np.egress .) }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "ler.networkpolicy" -}}
{{- $root := .root -}}
{{- $name := .name -}}
{{- $c := .c -}}
{{- $np := $root.Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "ler.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "ler.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- range $port := list "grpc" "http" }}
    {{- $number := int (get $c.ports $port) }}
    {{- range $source := get $c.networkPolicy.ingress $port | default list }}
    {{- if eq $source "public" }}
    # {{ $port }}: public
    - ports:
        - {port: {{ $number }}, protocol: TCP}
    {{- else if eq $source "clients" }}
    {{- if not $np.clients }}
    {{- fail (printf "components.%s.networkPolicy.ingress.%s admits \"clients\" but networkPolicy.clients is empty" $name $port) }}
    {{- end }}
    # {{ $port }}: clients
    - from:
        {{- toYaml $np.clients | nindent 8 }}
      ports:
        - {port: {{ $number }}, protocol: TCP}
    {{- end }}
    {{- end }}
    {{- end }}
    {{- range $caller := keys $.all | sortAlpha }}
    {{- $calls := (get $.all $caller).networkPolicy.egress.calls }}
    {{- if hasKey $calls $name }}
    # called by {{ $caller }}
    - from:
        - podSelector:
            matchLabels:
              {{- include "ler.selectorLabels" (dict "root" $root "name" $caller) | nindent 14 }}
      ports:
        {{- range $port := get $calls $name }}
        - {port: {{ int (get $c.ports $port) }}, protocol: TCP}
        {{- end }}
    {{- end }}
    {{- end }}
    {{- with $np.monitoring }}
    # metrics: scrapers
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - {port: {{ int $c.ports.metrics }}, protocol: TCP}
    {{- end }}
  egress:
    {{- include "ler.baseEgress" (dict "root" $root "needs" (list "postgresql" "kafka" "otlp")) | nindent 4 }}
    {{- range $target := keys $c.networkPolicy.egress.calls | sortAlpha }}
    # calls {{ $target }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "ler.selectorLabels" (dict "root" $root "name" $target) | nindent 14 }}
      ports:
        {{- range $port := get $c.networkPolicy.egress.calls $target }}
        - {port: {{ int (get (get $.all $target).ports $port) }}, protocol: TCP}
        {{- end }}
    {{- end }}
    {{- if $c.networkPolicy.egress.internet }}
    # internet: did:web documents and status lists
    - to:
        {{- range $np.egress.internet.ipBlocks }}
        - ipBlock:
            {{- toYaml . | nindent 12 }}
        {{- end }}
      ports:
        {{- toYaml $np.egress.internet.ports | nindent 8 }}
    {{- end }}
{{- end -}}

{{/* The hook Jobs' pods: no ingress; egress to DNS and what the Job needs: (dict "root" $ "component" c "needs" list). */}}
{{- define "ler.hookNetworkpolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "ler.componentName" (dict "root" .root "name" .component) }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" (dict "root" .root "name" .component) | nindent 4 }}
  annotations:
    {{- include "ler.hookAnnotations" (dict "weight" -10) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "ler.selectorLabels" (dict "root" .root "name" .component) | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
    {{- include "ler.baseEgress" . | nindent 4 }}
{{- end -}}
