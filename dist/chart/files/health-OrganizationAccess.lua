-- Argo CD health of an OrganizationAccess (tenancy.org-operator.io/v1alpha1).
-- Checked in this order: being deleted -> Progressing (with the Ready
-- message, e.g. "Deletion blocked: ..."); status behind the spec ->
-- Progressing (with what the controller waits for, once it works on that
-- spec: observedGeneration advances only on success); Stalled=True -> Degraded (needs a human: the Organization
-- does not allow the namespace, does not exist, the Secret name is taken,
-- a template is invalid, isolation is required but not available);
-- Reconciling=True -> Progressing (waiting for MongoDB or for the
-- Organization to become Ready); Ready=True for the current generation ->
-- Healthy. The generation is checked before Stalled, as kstatus does.
-- Self-healing states are never Degraded: Argo CD fails a sync on Degraded.
-- Uses only Lua's base library (no string or os library).
local hs = {}

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local ready = condition("Ready")

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: " .. describe(ready, "dropping the access's users and deleting its Secret")
  return hs
end

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
local reconciling = condition("Reconciling")
if observed == nil or obj.metadata.generation == nil or observed < obj.metadata.generation then
  hs.status = "Progressing"
  if isTrue(reconciling) and reconciling.observedGeneration == obj.metadata.generation then
    -- the latest spec is being worked on: say what it waits for
    hs.message = describe(reconciling, "Reconciling")
  else
    hs.message = "Waiting for the controller to reconcile the latest spec"
  end
  return hs
end

local stalled = condition("Stalled")
if isTrue(stalled) then
  hs.status = "Degraded"
  local reason = stalled.reason
  if reason == nil then
    reason = "Stalled"
  end
  hs.message = reason .. ": " .. describe(stalled, "the controller cannot make progress")
  return hs
end

if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = describe(reconciling, describe(ready, "Reconciling"))
  return hs
end

if isTrue(ready) and ready.observedGeneration == obj.metadata.generation then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the access to become Ready")
return hs
