// A library that says it was built for another ABI version: kilnd must ask before calling
// anything else, so the factory here must never run.
#include <cstdint>
#include <cstdlib>

#include <boost/dll/alias.hpp>

namespace kiln::sdk {
class HostContext;
class Plugin;
}  // namespace kiln::sdk

namespace wrong {
inline std::uint32_t abi() { return 999; }
inline kiln::sdk::Plugin* create(kiln::sdk::HostContext&) { std::abort(); }
}  // namespace wrong

BOOST_DLL_ALIAS(wrong::abi, kiln_plugin_abi)
BOOST_DLL_ALIAS(wrong::create, kiln_plugin_create)
