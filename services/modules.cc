// Copyright: the Résorption-bidonvilles data service authors.
//
// The modules a production server runs besides EventStream. To serve a new gRPC service, add its
// factory here:
//   modules.push_back([] { return std::make_unique<SitesModule>(); });
#include "services/admin_service.h"
#include "services/analytics_service.h"
#include "services/directory_service.h"
#include "services/projections_module.h"
#include "services/service_module.h"

namespace rb::services {

std::vector<ModuleFactory> BuiltinModules() {
  std::vector<ModuleFactory> modules;
  // Projections (owning the engine), Sites, Actions, Territories.
  for (ModuleFactory& f : ApiModules()) modules.push_back(std::move(f));
  modules.push_back([] { return std::make_unique<DirectoryModule>(); });
  modules.push_back([] { return std::make_unique<AnalyticsModule>(); });
  modules.push_back([] { return std::make_unique<AdminModule>(); });
  return modules;
}

}  // namespace rb::services
