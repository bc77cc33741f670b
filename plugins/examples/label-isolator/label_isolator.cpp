// An example isolator, built out of kiln's tree against the SDK: it adds the annotations its
// config names to every container's OCI spec, and the pod's own request for it on top:
//   plugins: {label: {annotations: {team: infra}}}        (kiln.yaml, the deployment's default)
//   isolators: [{name: label, config: {annotations: {app: web}}}]   (a pod)
#include <kiln/plugin.hpp>
#include <nlohmann/json.hpp>

namespace {

class LabelIsolator : public kiln::sdk::IsolatorPlugin {
public:
    explicit LabelIsolator(kiln::sdk::HostContext& host) : host_(host) {}

    void start() override {
        auto config = nlohmann::json::parse(host_.config_json());
        if (!config.contains("annotations") || !config["annotations"].is_object())
            throw std::runtime_error("config: annotations must be a map of names to values");
        defaults_ = config["annotations"];
        host_.log(kiln::sdk::LogLevel::info, "adds " + std::to_string(defaults_.size()) + " annotations");
    }

    std::string edit_spec(const std::string& spec_text, const std::string& request_text) override {
        auto spec = nlohmann::json::parse(spec_text);
        auto request = nlohmann::json::parse(request_text);
        nlohmann::json add = defaults_;
        if (request.contains("config") && request["config"].contains("annotations"))
            add.merge_patch(request["config"]["annotations"]);
        for (const auto& [k, v] : add.items()) spec["annotations"][k] = v.is_string() ? v.get<std::string>() : v.dump();
        return spec.dump();
    }

private:
    kiln::sdk::HostContext& host_;
    nlohmann::json defaults_;
};

}  // namespace

KILN_PLUGIN(LabelIsolator)
