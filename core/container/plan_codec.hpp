// The plan on the wire: the runtime encodes it, the kiln-init program decodes it. A plain
// length-prefixed binary form; both ends are the same build, so there is no versioning.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/container/plan.hpp"

namespace kiln::container {

std::string encode(const InitPlan& plan);
std::string encode(const ExecPlan& plan);
// nullopt when the bytes are malformed. The result's argv/envp point into it.
std::optional<InitPlan> decode_init_plan(std::string_view bytes);
std::optional<ExecPlan> decode_exec_plan(std::string_view bytes);

}  // namespace kiln::container
