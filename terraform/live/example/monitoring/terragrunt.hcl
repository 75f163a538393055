# Log-based metrics, alert policies and the dashboard.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}//terraform/modules/monitoring"
}

dependency "reconciler" {
  config_path = "../reconciler"

  mock_outputs = {
    metrics_job = "vpclink-reconciler"
  }
  mock_outputs_allowed_terraform_commands = ["init", "validate", "plan"]
}

inputs = {
  reconciler_job         = dependency.reconciler.outputs.metrics_job
  min_healthy_forwarders = 2

  # Create channels once (console or gcloud) and list their ids here.
  notification_channels = [
    # "projects/my-vpclink-project/notificationChannels/1234567890",
  ]
}
