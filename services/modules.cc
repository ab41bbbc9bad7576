// Copyright: the Résorption-bidonvilles data service authors.
//
// The modules a production server runs besides EventStream. To serve a new gRPC service, add its
// factory here:
//   modules.push_back([] { return std::make_unique<SitesModule>(); });
#include "services/service_module.h"

#include "services/analytics_service.h"
#include "services/directory_service.h"

namespace rb::services {

std::vector<ModuleFactory> BuiltinModules() {
  std::vector<ModuleFactory> modules;
  modules.push_back([] { return std::make_unique<DirectoryModule>(); });
  modules.push_back([] { return std::make_unique<AnalyticsModule>(); });
  return modules;
}

}  // namespace rb::services
