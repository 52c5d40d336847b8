{{/*
A hook Job: (dict "root" $ "name" job-name "component" label "command" list "args" list
"env" yaml-string "job" settings{backoffLimit,activeDeadlineSeconds,resources}
"volumes" yaml-string "mounts" yaml-string).
*/}}
{{- define "ler.hookJob" -}}
{{- $root := .root -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" (dict "root" $root "name" .component) | nindent 4 }}
  annotations:
    {{- include "ler.hookAnnotations" (dict "weight" 0) | nindent 4 }}
spec:
  backoffLimit: {{ int .job.backoffLimit }}
  activeDeadlineSeconds: {{ int .job.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "ler.componentLabels" (dict "root" $root "name" .component) | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: {{ include "ler.hookServiceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- include "ler.podSecurityContext" . | nindent 8 }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .component }}
          image: {{ include "ler.image" $root }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command:
            {{- toYaml .command | nindent 12 }}
          args:
            {{- toYaml .args | nindent 12 }}
          env:
            {{- .env | nindent 12 }}
          resources:
            {{- toYaml .job.resources | nindent 12 }}
          securityContext:
            {{- include "ler.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .mounts }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "ler.tmpVolume" "64Mi" | nindent 8 }}
        {{- with .volumes }}
        {{- . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* Plain env entries from a map: name: value. */}}
{{- define "ler.envList" -}}
{{- range $k := keys . | sortAlpha }}
- name: {{ $k }}
  value: {{ get $ $k | toString | quote }}
{{- end }}
{{- end -}}
