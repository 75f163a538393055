// Package terragrunt holds a test that parses every terragrunt.hcl under
// terraform/live with the HCL parser terragrunt itself uses and checks each
// unit against the module it deploys: the source path exists, every input is
// a variable the module declares, every required variable is given, and every
// dependency output it reads is an output the other module declares. It
// catches typos that would otherwise surface only at `terragrunt apply`,
// without terragrunt, terraform or cloud access.
package terragrunt
