{{/*
The manager's ServiceAccount: serviceAccount.name, else the name the
kustomize manifests give it. RoleBindings, the ClusterRoleBindings, the
Deployment and the access-Secrets admission policy all name it.
*/}}
{{- define "org-operator.serviceAccountName" -}}
{{- default "org-operator-controller-manager" .Values.serviceAccount.name -}}
{{- end -}}
