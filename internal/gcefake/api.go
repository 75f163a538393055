package gcefake

import "net/http"

// registerCompute maps the Compute v1 REST paths the apiv1 REST client
// builds to handlers, each under the method name used for faults, latency
// and request counts.
func (s *Server) registerCompute() {
	const p = "/compute/v1/projects/{project}/"
	handle := func(pattern, method string, h http.HandlerFunc) {
		s.mux.HandleFunc(pattern, s.api(method, h))
	}
	handle("POST "+p+"global/routes", "routes.insert", s.handleRouteInsert)
	handle("GET "+p+"global/routes", "routes.list", s.handleRouteList)
	handle("GET "+p+"global/routes/{route}", "routes.get", s.handleRouteGet)
	handle("DELETE "+p+"global/routes/{route}", "routes.delete", s.handleRouteDelete)

	handle("GET "+p+"global/operations/{operation}", "globalOperations.get", s.handleOpGet(globalScope))
	handle("POST "+p+"global/operations/{operation}/wait", "globalOperations.wait", s.handleOpWait(globalScope))
	handle("GET "+p+"zones/{zone}/operations/{operation}", "zoneOperations.get", s.handleOpGet(zoneScope))
	handle("POST "+p+"zones/{zone}/operations/{operation}/wait", "zoneOperations.wait", s.handleOpWait(zoneScope))
	handle("GET "+p+"regions/{region}/operations/{operation}", "regionOperations.get", s.handleOpGet(regionScope))
	handle("POST "+p+"regions/{region}/operations/{operation}/wait", "regionOperations.wait", s.handleOpWait(regionScope))

	handle("GET "+p+"zones/{zone}/instances", "instances.list", s.handleInstanceList)
	handle("GET "+p+"zones/{zone}/instances/{instance}", "instances.get", s.handleInstanceGet)
	handle("GET "+p+"aggregated/instances", "instances.aggregatedList", s.handleInstanceAggregatedList)
	handle("POST "+p+"zones/{zone}/instances/{instance}/setMetadata", "instances.setMetadata", s.handleInstanceSetMetadata)
	handle("POST "+p+"zones/{zone}/instances/{instance}/stop", "instances.stop", s.handleInstancePower(false))
	handle("POST "+p+"zones/{zone}/instances/{instance}/start", "instances.start", s.handleInstancePower(true))

	const z = p + "zones/{zone}/instanceGroupManagers/{igm}"
	handle("GET "+z, "instanceGroupManagers.get", s.withGroup(zonalMIG, s.handleMIGGet))
	handle("POST "+z+"/listManagedInstances", "instanceGroupManagers.listManagedInstances", s.withGroup(zonalMIG, s.handleMIGList))
	handle("POST "+z+"/resize", "instanceGroupManagers.resize", s.withGroup(zonalMIG, s.handleMIGResize))
	handle("POST "+z+"/recreateInstances", "instanceGroupManagers.recreateInstances", s.withGroup(zonalMIG, s.handleMIGRecreate))
	handle("POST "+z+"/deleteInstances", "instanceGroupManagers.deleteInstances", s.withGroup(zonalMIG, s.handleMIGDeleteInstances))
	handle("POST "+z+"/createInstances", "instanceGroupManagers.createInstances", s.withGroup(zonalMIG, s.handleMIGCreateInstances))
	handle("POST "+z+"/setInstanceTemplate", "instanceGroupManagers.setInstanceTemplate", s.withGroup(zonalMIG, s.handleMIGSetTemplate))
	handle("PATCH "+z, "instanceGroupManagers.patch", s.withGroup(zonalMIG, s.handleMIGPatch))
	const rg = p + "regions/{region}/instanceGroupManagers/{igm}"
	handle("GET "+rg, "regionInstanceGroupManagers.get", s.withGroup(regionalMIG, s.handleMIGGet))
	handle("POST "+rg+"/listManagedInstances", "regionInstanceGroupManagers.listManagedInstances", s.withGroup(regionalMIG, s.handleMIGList))
	handle("POST "+rg+"/resize", "regionInstanceGroupManagers.resize", s.withGroup(regionalMIG, s.handleMIGResize))
	handle("POST "+rg+"/recreateInstances", "regionInstanceGroupManagers.recreateInstances", s.withGroup(regionalMIG, s.handleMIGRecreate))
	handle("POST "+rg+"/deleteInstances", "regionInstanceGroupManagers.deleteInstances", s.withGroup(regionalMIG, s.handleMIGDeleteInstances))
	handle("POST "+rg+"/createInstances", "regionInstanceGroupManagers.createInstances", s.withGroup(regionalMIG, s.handleMIGCreateInstances))
	handle("POST "+rg+"/setInstanceTemplate", "regionInstanceGroupManagers.setInstanceTemplate", s.withGroup(regionalMIG, s.handleMIGSetTemplate))
	handle("PATCH "+rg, "regionInstanceGroupManagers.patch", s.withGroup(regionalMIG, s.handleMIGPatch))

	// Anything else under /compute/ is a method the fake does not model.
	s.mux.HandleFunc("/compute/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{code: http.StatusNotImplemented, reason: "notImplemented", message: "gcefake does not implement " + r.Method + " " + r.URL.Path})
	})
}
