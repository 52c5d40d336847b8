{{/* A component's Deployment: hardened pod, native gRPC probes, config by ConfigMap, secrets by reference. */}}
{{- define "ler.deployment" -}}
{{- $c := .c -}}
{{- $root := .root -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ler.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ int $c.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "ler.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      # keep full capacity during a rollout; new pods must pass readiness first
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "ler.componentLabels" . | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        # roll the pods when their settings change
        checksum/config: {{ include "ler.configmapData" . | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "ler.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ int $c.terminationGracePeriodSeconds }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- include "ler.podSecurityContext" . | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "ler.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml $c.command | nindent 12 }}
          ports:
            - name: grpc
              containerPort: {{ int $c.ports.grpc }}
              protocol: TCP
            - name: http
              containerPort: {{ int $c.ports.http }}
              protocol: TCP
            - name: metrics
              containerPort: {{ int $c.ports.metrics }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ include "ler.componentName" . }}
          env:
            {{- include "ler.secretEnv" . | nindent 12 }}
          {{- with $c.probes }}
          startupProbe:
            grpc:
              port: {{ int $c.ports.grpc }}
              service: {{ .startup.service | quote }}
            periodSeconds: {{ int .startup.periodSeconds }}
            timeoutSeconds: {{ int .startup.timeoutSeconds }}
            failureThreshold: {{ int .startup.failureThreshold }}
          livenessProbe:
            grpc:
              port: {{ int $c.ports.grpc }}
              service: {{ .liveness.service | quote }}
            periodSeconds: {{ int .liveness.periodSeconds }}
            timeoutSeconds: {{ int .liveness.timeoutSeconds }}
            failureThreshold: {{ int .liveness.failureThreshold }}
          readinessProbe:
            grpc:
              port: {{ int $c.ports.grpc }}
              service: {{ .readiness.service | quote }}
            periodSeconds: {{ int .readiness.periodSeconds }}
            timeoutSeconds: {{ int .readiness.timeoutSeconds }}
            failureThreshold: {{ int .readiness.failureThreshold }}
          {{- end }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- include "ler.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- include "ler.kafkaCaMount" $root | nindent 12 }}
      volumes:
        {{- include "ler.tmpVolume" $c.tmpSizeLimit | nindent 8 }}
        {{- include "ler.kafkaCaVolume" $root | nindent 8 }}
      {{- if $c.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: {{ int $c.topologySpread.maxSkew }}
          topologyKey: {{ $c.topologySpread.topologyKey }}
          whenUnsatisfiable: {{ $c.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "ler.selectorLabels" . | nindent 14 }}
      {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}
