# The operator's custom role: exactly what `vpclink drain`, `undrain`,
# `rollout`, `status` and `plan` call with the operator's own credentials
# (Application Default Credentials), in the forwarders' project and every
# route project. The agents' and reconciler's accounts never get these.

locals {
  operator_role_id = "${replace(var.name, "-", "_")}_operator"

  # Each permission, and the calls that need it (Compute REST reference,
  # "IAM permissions" of each method):
  operator_permissions = [
    # routes.list, routes.get: status, plan, and drain finding the
    # forwarder's routes and waiting until they are gone.
    "compute.routes.list",
    "compute.routes.get",
    # routes.delete (drain withdraws the routes itself, so a hung agent
    # cannot block a rollout); GCE also checks networks.updatePolicy on the
    # route's network, and the delete returns a global operation.
    "compute.routes.delete",
    "compute.networks.updatePolicy",
    "compute.globalOperations.get",
    # instances.get (drain, rollout: id, status, self link), instances.list
    # (status, plan: every member's nic0 address).
    "compute.instances.get",
    "compute.instances.list",
    # instances.setMetadata: drain and undrain set and clear vpclink-drain;
    # it returns a zonal operation.
    "compute.instances.setMetadata",
    "compute.zoneOperations.get",
    # instanceGroupManagers.get covers get and listManagedInstances (status,
    # plan, rollout); .update covers createInstances and deleteInstances
    # (rollout: the replacement comes before the old member goes), as well
    # as recreateInstances and resize, which return zonal or regional
    # operations.
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.update",
    "compute.regionOperations.get",
  ]
}

resource "google_project_iam_custom_role" "operator" {
  for_each = toset(concat([var.project], var.route_projects))

  project     = each.value
  role_id     = local.operator_role_id
  title       = "vpclink operator (${var.name})"
  description = "Drain, undrain, roll out and inspect vpclink forwarders: see terraform/modules/forwarders/README.md."
  permissions = local.operator_permissions
}

resource "google_project_iam_member" "operator" {
  for_each = { for pair in setproduct(keys(google_project_iam_custom_role.operator), var.operators) : "${pair[0]} ${pair[1]}" => pair }

  project = each.value[0]
  role    = google_project_iam_custom_role.operator[each.value[0]].id
  member  = each.value[1]
}

# GCE checks iam.serviceAccounts.actAs on the VM's service account before it
# changes that VM's metadata (metadata can carry startup scripts that run as
# the account), so drain's setMetadata needs it; granted on the forwarders'
# account only, not project-wide.
resource "google_service_account_iam_member" "operator_act_as" {
  for_each = toset(var.operators)

  service_account_id = module.vm.service_account_id
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
