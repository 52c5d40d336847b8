{{/* A component's Service: gRPC, HTTP and metrics ports. */}}
{{- define "ler.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "ler.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "ler.componentLabels" . | nindent 4 }}
  {{- with .c.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .c.service.type }}
  selector:
    {{- include "ler.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ int .c.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      # cleartext HTTP/2 (gRPC), for meshes and gateways that route by protocol
      appProtocol: kubernetes.io/h2c
    - name: http
      port: {{ int .c.ports.http }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    - name: metrics
      port: {{ int .c.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
{{- end -}}
