// Name tables of the runtime spec: capabilities, rlimits, namespaces.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::oci {

// "CAP_SYS_ADMIN" -> 21. Names are matched exactly, as the spec writes them.
std::optional<int> capability_number(std::string_view name);
std::string_view capability_name(int number);
// Every capability this table knows, in number order.
std::vector<std::string> all_capability_names();
int last_known_capability();

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE.
std::optional<int> rlimit_number(std::string_view name);
std::vector<std::string> all_rlimit_names();

// "network" -> CLONE_NEWNET, and the /proc/<pid>/ns/<file> name ("net").
std::optional<int> namespace_flag(std::string_view type);
// CLONE_NEWTIME (Linux 5.6), which glibc's <sched.h> of this era does not name.
inline constexpr int kCloneNewTime = 0x00000080;
std::string_view namespace_proc_name(std::string_view type);
// All types the spec defines, in the order they are joined.
const std::vector<std::string>& namespace_types();

}  // namespace kiln::oci
