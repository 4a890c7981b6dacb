-- Argo CD health of an Organization (tenancy.org-operator.io/v1alpha1).
-- Checked in this order: being deleted -> Progressing (with the Ready
-- message, e.g. "Deletion blocked: ..."); paused -> Suspended; status behind
-- the spec -> Progressing (with the copy progress while Migrating=True: a
-- move runs before observedGeneration advances); Stalled=True -> Degraded
-- (needs a human); Migrating=True or Reconciling=True -> Progressing;
-- Ready=True for the current generation -> Healthy. The generation is
-- checked before Stalled, as kstatus does: a Stalled condition of an older
-- spec (someone fixed it in Git) is progress, not degradation.
-- Self-healing states (MongoDB unavailable, a move under way) are never
-- Degraded: Argo CD fails a sync on Degraded.
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
  hs.message = "Being deleted: " .. describe(ready, "cleaning up the organization's data")
  return hs
end

local annotations = obj.metadata.annotations
if annotations ~= nil and annotations["tenancy.org-operator.io/reconcile"] == "disabled" then
  hs.status = "Suspended"
  hs.message = "Reconciliation is paused (annotation tenancy.org-operator.io/reconcile: disabled)"
  return hs
end

local migrating = condition("Migrating")

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if observed == nil or obj.metadata.generation == nil or observed < obj.metadata.generation then
  hs.status = "Progressing"
  if isTrue(migrating) then
    hs.message = describe(migrating, "Moving the tenant's documents")
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

if isTrue(migrating) then
  hs.status = "Progressing"
  hs.message = describe(migrating, "Moving the tenant's documents")
  return hs
end

local reconciling = condition("Reconciling")
if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = describe(ready, describe(reconciling, "Reconciling"))
  return hs
end

if isTrue(ready) and ready.observedGeneration == obj.metadata.generation then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the organization to become Ready")
return hs
