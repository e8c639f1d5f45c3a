{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "tessera.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of the operator's objects (Deployment, Service, Roles). */}}
{{- define "tessera.operatorName" -}}
{{- printf "%s-operator" (include "tessera.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tessera.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tessera.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object of the chart (Kubernetes "Recommended Labels"). */}}
{{- define "tessera.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: tessera
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Labels of the operator's objects and pods: the chart's plus the component name. */}}
{{- define "tessera.operatorLabels" -}}
{{ include "tessera.labels" . }}
app.kubernetes.io/name: tessera-operator
{{- end -}}

{{/* Selector labels of the operator's pods; the NetworkPolicy admits agent calls from them. */}}
{{- define "tessera.operatorSelector" -}}
app.kubernetes.io/name: tessera-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* registry/repository of an image: its own registry, else global.imageRegistry. */}}
{{- define "tessera.imageRepository" -}}
{{- $registry := default .root.Values.global.imageRegistry .image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s" (trimSuffix "/" $registry) .image.repository -}}
{{- else -}}
{{- .image.repository -}}
{{- end -}}
{{- end -}}

{{- define "tessera.imageTag" -}}
{{- default .root.Chart.AppVersion .image.tag -}}
{{- end -}}

{{- define "tessera.operatorImage" -}}
{{- printf "%s:%s" (include "tessera.imageRepository" (dict "root" . "image" .Values.operator.image)) (include "tessera.imageTag" (dict "root" . "image" .Values.operator.image)) -}}
{{- end -}}

{{- define "tessera.serverImage" -}}
{{- printf "%s:%s" (include "tessera.imageRepository" (dict "root" . "image" .Values.server.image)) (include "tessera.imageTag" (dict "root" . "image" .Values.server.image)) -}}
{{- end -}}

{{/*
The namespaces the operator watches, as a JSON list: watchNamespaces, else the release
namespace in namespace-scoped mode, else [] (all namespaces).
*/}}
{{- define "tessera.watchNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- .Values.watchNamespaces | uniq | toJson -}}
{{- else if .Values.namespaced -}}
{{- list .Release.Namespace | toJson -}}
{{- else -}}
{{- list | toJson -}}
{{- end -}}
{{- end -}}

{{/* Where namespaced per-model objects go (NetworkPolicy, CA bundle): a list, never empty. */}}
{{- define "tessera.modelNamespaces" -}}
{{- $watched := include "tessera.watchNamespaces" .root | fromJsonArray -}}
{{- if .explicit -}}
{{- .explicit | uniq | toJson -}}
{{- else if $watched -}}
{{- $watched | toJson -}}
{{- else -}}
{{- list .root.Release.Namespace | toJson -}}
{{- end -}}
{{- end -}}

{{/* Name of the CA bundle ConfigMap, or "" when there is none. */}}
{{- define "tessera.caBundleName" -}}
{{- if .Values.caBundle.existingConfigMap -}}
{{- .Values.caBundle.existingConfigMap -}}
{{- else if .Values.caBundle.pem -}}
{{- printf "%s-ca-bundle" (include "tessera.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security for a container (pod-security-standards, "Restricted"). */}}
{{- define "tessera.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
