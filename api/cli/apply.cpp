// kiln apply -f FILE.yaml: creates the pods a YAML file describes, replaces those that changed,
// starts those that are stopped. The file holds `pods: [...]` (as kiln.yaml), a list of pods, or
// one pod.
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "api/cli/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::cli {

nlohmann::json yaml_to_json(const YAML::Node& n) {
    switch (n.Type()) {
    case YAML::NodeType::Map: {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& kv : n) j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
        return j;
    }
    case YAML::NodeType::Sequence: {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& v : n) j.push_back(yaml_to_json(v));
        return j;
    }
    case YAML::NodeType::Scalar: {
        std::string s = n.Scalar();
        if (n.Tag() == "!") return s;  // quoted: a string
        if (s == "true" || s == "false") return s == "true";
        if (s == "null" || s == "~") return nullptr;
        try {
            std::size_t used = 0;
            long long i = std::stoll(s, &used);
            if (used == s.size()) return i;
            double d = std::stod(s, &used);
            if (used == s.size()) return d;
        } catch (...) {
        }
        return s;
    }
    default: return nullptr;
    }
}

void add_apply(CLI::App& app, Context& ctx) {
    auto* cmd = app.add_subcommand("apply", "create or update the pods a YAML file describes");
    auto file = std::make_shared<std::string>();
    cmd->add_option("-f,--file", *file, "YAML file")->required()->check(CLI::ExistingFile);
    cmd->callback([&ctx, file] {
        YAML::Node doc;
        try {
            doc = YAML::LoadFile(*file);
        } catch (const YAML::Exception& e) {
            invalid(*file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
        }
        nlohmann::json pods;
        if (doc.IsMap() && doc["pods"]) pods = yaml_to_json(doc["pods"]);
        else if (doc.IsSequence()) pods = yaml_to_json(doc);
        else if (doc.IsMap()) pods = nlohmann::json::array({yaml_to_json(doc)});
        else invalid(*file + ": expected a pod, a list of pods, or pods: [...]");
        for (std::size_t i = 0; i < pods.size(); ++i) {
            const auto& p = pods[i];
            std::string name = p.is_object() ? p.value("name", "") : "";
            if (name.empty()) invalid(*file + ": pods[" + std::to_string(i) + "].name: is required");
            std::string base = "/v1/pods/" + escape(name);
            auto got = ctx.client().request("GET", base);
            try {
                if (got.status == 404) {
                    ctx.client().call("POST", "/v1/pods", p);
                    std::cout << name << ": created\n";
                    continue;
                }
                auto current = got.json();
                // Changed when kilnd's canonical form of the file's pod differs from the stored one.
                auto wanted = ctx.client().call("POST", "/v1/pods?dryRun=true", p)["spec"];
                if (wanted != current["spec"]) {
                    ctx.client().call("DELETE", base + "?force=true");
                    ctx.client().call("POST", "/v1/pods", p);
                    std::cout << name << ": replaced\n";
                } else if (current.value("state", "") != "running") {
                    ctx.client().call("POST", base + "/start");
                    std::cout << name << ": started\n";
                } else {
                    std::cout << name << ": unchanged\n";
                }
            } catch (const Error& e) {
                throw Error(e.code(), *file + ": pods[" + std::to_string(i) + "] (" + name + "): " + e.what());
            }
        }
    });
}

}  // namespace kiln::cli
