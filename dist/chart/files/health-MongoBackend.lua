-- Argo CD health of a MongoBackend (tenancy.org-operator.io/v1alpha1), a
-- MongoDB deployment that holds tenants. Checked in this order: being
-- deleted -> Progressing (the deletion waits until no tenant lives there;
-- the Ready message names them); status behind the spec -> Progressing;
-- Stalled=True -> Degraded (needs a human: the connection Secret or its key
-- is missing, the URI is invalid, another MongoBackend is the default
-- already); Reconciling=True -> Progressing (waiting for the first
-- observation, or for an unreachable deployment: self-healing, so never
-- Degraded, which would fail a sync); Ready=True for the current generation
-- -> Healthy. Uses only Lua's base library.
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

local function message(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return fallback
end

local ready = condition("Ready")
local stalled = condition("Stalled")
local reconciling = condition("Reconciling")

if obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Being deleted: " .. message(ready, "waiting until no organization lives on the deployment")
  return hs
end

local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if observed == nil or obj.metadata.generation == nil or observed < obj.metadata.generation then
  hs.status = "Progressing"
  if isTrue(reconciling) and reconciling.observedGeneration == obj.metadata.generation then
    hs.message = message(reconciling, "Connecting")
  else
    hs.message = "Waiting for the operator to connect the deployment of the latest spec"
  end
  return hs
end

if isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = (stalled.reason or "Stalled") .. ": " .. message(stalled, "the operator cannot use this deployment")
  return hs
end

if isTrue(reconciling) then
  hs.status = "Progressing"
  hs.message = message(reconciling, message(ready, "Connecting"))
  return hs
end

if isTrue(ready) and ready.observedGeneration == obj.metadata.generation then
  hs.status = "Healthy"
  hs.message = message(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = message(ready, "Waiting for the deployment to answer")
return hs
