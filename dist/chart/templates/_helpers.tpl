{{/*
The prefix of every object the chart names: fullnameOverride, else
nameOverride, else org-operator (the kustomize manifests' names, so the
default render equals them). Labels keep app.kubernetes.io/name:
org-operator (Deployment selectors are immutable). One release per cluster:
the CRDs, the cluster roles and the leader-election Lease are cluster-wide.
*/}}
{{- define "org-operator.fullname" -}}
{{- default (default "org-operator" .Values.nameOverride) .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
The manager's ServiceAccount: serviceAccount.name, else
<fullname>-controller-manager. RoleBindings, the ClusterRoleBindings, the
Deployment and the access-Secrets admission policy all name it.
*/}}
{{- define "org-operator.serviceAccountName" -}}
{{- default (printf "%s-controller-manager" (include "org-operator.fullname" .)) .Values.serviceAccount.name -}}
{{- end -}}
