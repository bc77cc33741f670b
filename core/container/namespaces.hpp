// Namespaces the runtime prepares before clone: joined ones opened and checked, and user
// namespaces for idmapped mounts.
#pragma once

#include <string>

#include "core/container/plan.hpp"
#include "core/sys/fd.hpp"

namespace kiln::container {

// Opens every joined namespace path and checks that it is a namespace of the type its entry
// names; errors name linux.namespaces[i].path. The fds are close-on-exec and owned by the plan
// until close_joined_namespaces.
void open_joined_namespaces(NamespacePlan& ns, const oci::Spec& spec);
void close_joined_namespaces(NamespacePlan& ns);

// A user namespace holding the given maps (for MOUNT_ATTR_IDMAP), made by a short-lived child.
Fd make_userns(const std::string& uid_map, const std::string& gid_map);

}  // namespace kiln::container
