package gcefake

import "net/http"

// registerGcloud serves what gcloud calls beyond the apiv1 client's paths,
// so that an operator can look at a lab with `gcloud compute ...` (see
// GcloudConfigLines). Found with `gcloud ... --log-http` against the fake:
//
//   - routes list/describe/create/delete, instances list/describe and the
//     MIG list-instances/recreate-instances/resize/wait-until commands use
//     the apiv1 paths registered in registerCompute (instances list and
//     managed list use aggregated lists, wait-until polls
//     instanceGroupManagers.get for status.isStable);
//   - instance-groups managed list: instanceGroupManagers.aggregatedList,
//     then instanceGroups.list per zone and regionInstanceGroups.list per
//     region (for the size column) and autoscalers.list /
//     regionAutoscalers.list per location (for the autoscaled column);
//   - instance-groups managed describe: instanceGroupManagers.get, then
//     autoscalers.list (or regionAutoscalers.list) of its location;
//   - operations list: globalOperations.aggregatedList; with --global,
//     --zones or --regions the per-scope lists; operations describe: get.
//
// gcloud sends two or more list requests as one batch (POST
// /batch/compute/v1, see handleBatch), for example when groups sit in
// several zones.
//
// Method names are those of GCE's discovery document, as for registerCompute,
// so faults, latency and request counts apply to them too.
func (s *Server) registerGcloud() {
	const p = "/compute/v1/projects/{project}/"
	handle := func(pattern, method string, h http.HandlerFunc) {
		s.mux.HandleFunc(pattern, s.api(method, h))
	}
	handle("GET "+p+"aggregated/instanceGroupManagers", "instanceGroupManagers.aggregatedList", s.handleMIGAggregatedList)
	handle("GET "+p+"zones/{zone}/instanceGroupManagers", "instanceGroupManagers.list", s.handleMIGScopeList(zoneScope))
	handle("GET "+p+"regions/{region}/instanceGroupManagers", "regionInstanceGroupManagers.list", s.handleMIGScopeList(regionScope))
	handle("GET "+p+"zones/{zone}/instanceGroups", "instanceGroups.list", s.handleInstanceGroupList(zoneScope))
	handle("GET "+p+"regions/{region}/instanceGroups", "regionInstanceGroups.list", s.handleInstanceGroupList(regionScope))

	handle("GET "+p+"aggregated/autoscalers", "autoscalers.aggregatedList", s.handleAutoscalerAggregatedList)
	handle("GET "+p+"zones/{zone}/autoscalers", "autoscalers.list", s.handleAutoscalerList(zoneScope))
	handle("GET "+p+"regions/{region}/autoscalers", "regionAutoscalers.list", s.handleAutoscalerList(regionScope))

	handle("GET "+p+"aggregated/operations", "globalOperations.aggregatedList", s.handleOpAggregatedList)
	handle("GET "+p+"global/operations", "globalOperations.list", s.handleOpScopeList(globalScope))
	handle("GET "+p+"zones/{zone}/operations", "zoneOperations.list", s.handleOpScopeList(zoneScope))
	handle("GET "+p+"regions/{region}/operations", "regionOperations.list", s.handleOpScopeList(regionScope))

	s.mux.HandleFunc("POST /batch/compute/v1", s.handleBatch)
}
