// seccomp: a seccomp filter for the container. {profile: default} (the default) is
// configs/seccomp-default.json, built in: the kernel, clock, module, mount, namespace, tracing
// and keyring calls a container has no use for fail with EPERM, in the spirit of Docker's
// default. {profile: unconfined} removes any filter; {profile: /path/to/profile.json} reads a
// profile in the same form (Docker's: defaultAction, architectures, syscalls with names,
// action, errnoRet, args; comments ignored) from kilnd's host.
#include <fstream>
#include <sstream>

#include "isolators/common/isolator.hpp"
#include "isolators/seccomp/seccomp_default.hpp"

namespace kiln::isolators {
namespace {

json read_profile(const std::string& profile, const std::string& where) {
    std::string text;
    if (profile == "default") {
        text = kDefaultProfile;
    } else {
        std::ifstream in(profile);
        if (!in) bad(where, "cannot read the profile " + profile);
        std::ostringstream s;
        s << in.rdbuf();
        text = s.str();
    }
    json p = json::parse(text, nullptr, false);
    if (!p.is_object() || !p.contains("defaultAction") || !p["defaultAction"].is_string())
        bad(where, "the profile " + profile + " is not a seccomp profile (defaultAction, syscalls)");
    // The OCI form: the fields a runtime reads, nothing else.
    json out = {{"defaultAction", p["defaultAction"]}};
    for (const char* k : {"defaultErrnoRet", "architectures", "flags", "listenerPath", "listenerMetadata"})
        if (p.contains(k)) out[k] = p[k];
    out["syscalls"] = json::array();
    for (const auto& s : p.value("syscalls", json::array())) {
        if (!s.is_object() || !s.contains("names") || !s.contains("action")) bad(where, "a syscalls entry lacks names or action");
        json e = {{"names", s["names"]}, {"action", s["action"]}};
        for (const char* k : {"errnoRet", "args"})
            if (s.contains(k)) e[k] = s[k];
        out["syscalls"].push_back(e);
    }
    return out;
}

class Seccomp : public Isolator {
public:
    using Isolator::Isolator;

private:
    std::string name() const override { return "seccomp"; }
    void check(const json& config, const std::string& where) const override {
        for (const auto& [k, v] : config.items())
            if (k != "profile") bad(where + "." + k, "unknown field (known: profile)");
        if (!config.contains("profile")) return;
        if (!config["profile"].is_string()) bad(where + ".profile", "must be default, unconfined or an absolute path");
        std::string p = config["profile"];
        if (p != "default" && p != "unconfined" && (p.empty() || p[0] != '/'))
            bad(where + ".profile", "\"" + p + "\" is not default, unconfined or an absolute path");
        if (p != "unconfined") read_profile(p, where + ".profile");
    }
    void edit(json& spec, const json& config) const override {
        std::string p = config.value("profile", "default");
        if (p == "unconfined") {
            spec["linux"].erase("seccomp");
            return;
        }
        spec["linux"]["seccomp"] = read_profile(p, "profile");
    }
};

}  // namespace
}  // namespace kiln::isolators

KILN_PLUGIN(kiln::isolators::Seccomp)
