{{/*
The namespace of the operator's and the REST API's objects: namespace.name, else the release's.
*/}}
{{- define "dockercloud-operator.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/*
The name of a cluster-scoped object (ClusterRole, ClusterRoleBinding): manifests/' name for a
release named like the chart, else prefixed with the release's name, so two releases (or a release
and `kubectl apply -k manifests/`) never claim the same object. Namespaced objects keep
manifests/' names: each install has a namespace of its own.
Usage: include "dockercloud-operator.clusterName" (list "dockercloud-operator" .)
*/}}
{{- define "dockercloud-operator.clusterName" -}}
{{- $name := index . 0 -}}
{{- $root := index . 1 -}}
{{- if eq $root.Release.Name $root.Chart.Name -}}
{{- $name -}}
{{- else -}}
{{- printf "%s-%s" $root.Release.Name $name -}}
{{- end -}}
{{- end -}}

{{/*
Every object's labels: manifests/kustomization.yaml's part-of label, and Helm's own.
*/}}
{{- define "dockercloud-operator.labels" -}}
app.kubernetes.io/part-of: dockercloud-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "dockercloud-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The pods' security context, the same for the operator and the REST API.
*/}}
{{- define "dockercloud-operator.podSecurityContext" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "dockercloud-operator.containerSecurityContext" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: [ALL]
{{- end -}}

{{/*
Spread the replicas over nodes, where there are enough. Usage: include ... "<app name>"
*/}}
{{- define "dockercloud-operator.antiAffinity" -}}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              app.kubernetes.io/name: {{ . }}
{{- end -}}

{{/*
nodeSelector and tolerations, when set. Usage: include ... .Values.operator
*/}}
{{- define "dockercloud-operator.placement" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "dockercloud-operator.checks" -}}
{{- if and .Values.namespace.create (eq (include "dockercloud-operator.namespace" .) .Release.Namespace) -}}
{{- fail (printf "namespace.create: Helm records the release in its namespace %q, so it cannot make it too: install the release in another namespace (helm install -n default ...), or set namespace.create=false and make %q yourself (helm install --create-namespace)" .Release.Namespace .Release.Namespace) -}}
{{- end -}}
{{- if eq (int .Values.operator.metricsPort) 8081 -}}
{{- fail "operator.metricsPort: 8081 is the operator's health port; choose another (0 turns metrics off)" -}}
{{- end -}}
{{- end -}}
