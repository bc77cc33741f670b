// kiln-runtime update: new resource limits for a running container, from a JSON file (or stdin
// with "-") in the runtime spec's linux.resources form, or from runc's flags.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"
#include "core/sys/file.hpp"

namespace kiln::runtime {
namespace {

// "512m", "1G", "100000": bytes, as runc's flags take them.
int64_t parse_bytes(const std::string& flag, const std::string& text) {
    if (text == "-1") return -1;
    size_t pos = 0;
    uint64_t n = 0;
    try {
        n = std::stoull(text, &pos);
    } catch (const std::exception&) {
        invalid(flag + ": not a size: \"" + text + "\"");
    }
    std::string unit = text.substr(pos);
    for (auto& c : unit) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    if (!unit.empty() && unit.back() == 'i') unit.pop_back();
    uint64_t mult = unit.empty() ? 1 : unit == "k" ? 1ULL << 10 : unit == "m" ? 1ULL << 20 : unit == "g" ? 1ULL << 30
                                                                                 : unit == "t" ? 1ULL << 40 : 0;
    if (!mult) invalid(flag + ": unknown unit in \"" + text + "\"");
    return static_cast<int64_t>(n * mult);
}

}  // namespace

void add_update(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("update", "update a container's resource limits");
    struct Args {
        std::string id, resources;
        std::string memory, memory_swap, memory_reservation, kernel_memory, kernel_memory_tcp;
        std::optional<uint64_t> cpu_share, cpu_period, cpu_rt_period;
        std::optional<int64_t> cpu_quota, cpu_rt_runtime, pids_limit;
        std::optional<uint16_t> blkio_weight;
        std::string cpuset_cpus, cpuset_mems;
    };
    auto a = std::make_shared<Args>();
    cmd->add_option("-r,--resources", a->resources, "JSON file with linux.resources (- for stdin)");
    cmd->add_option("--memory", a->memory, "memory limit, e.g. 512m");
    cmd->add_option("--memory-swap", a->memory_swap, "memory plus swap limit");
    cmd->add_option("--memory-reservation", a->memory_reservation, "memory soft limit");
    cmd->add_option("--kernel-memory", a->kernel_memory, "ignored by current kernels");
    cmd->add_option("--kernel-memory-tcp", a->kernel_memory_tcp, "kernel TCP buffer limit");
    cmd->add_option("--cpu-share", a->cpu_share, "CPU shares");
    cmd->add_option("--cpu-period", a->cpu_period, "CFS period in microseconds");
    cmd->add_option("--cpu-quota", a->cpu_quota, "CFS quota in microseconds");
    cmd->add_option("--cpu-rt-period", a->cpu_rt_period, "realtime period");
    cmd->add_option("--cpu-rt-runtime", a->cpu_rt_runtime, "realtime runtime");
    cmd->add_option("--cpuset-cpus", a->cpuset_cpus, "CPUs allowed, e.g. 0-1");
    cmd->add_option("--cpuset-mems", a->cpuset_mems, "memory nodes allowed");
    cmd->add_option("--pids-limit", a->pids_limit, "maximum number of tasks");
    cmd->add_option("--blkio-weight", a->blkio_weight, "block IO weight (10-1000)");
    cmd->add_option("id", a->id, "container id")->required();
    cmd->positionals_at_end();
    cmd->callback([&g, a] {
        oci::Resources r;
        if (!a->resources.empty()) {
            std::string text = a->resources == "-" ? read_fd(0) : read_file(a->resources);
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(text);
            } catch (const nlohmann::json::parse_error& e) {
                invalid(std::string("--resources: malformed JSON: ") + e.what());
            }
            r = oci::resources_from_json(j, "resources");
        }
        auto mem = [&]() -> oci::Memory& {
            if (!r.memory) r.memory.emplace();
            return *r.memory;
        };
        auto cpu = [&]() -> oci::Cpu& {
            if (!r.cpu) r.cpu.emplace();
            return *r.cpu;
        };
        if (!a->memory.empty()) mem().limit = parse_bytes("--memory", a->memory);
        if (!a->memory_swap.empty()) mem().swap = parse_bytes("--memory-swap", a->memory_swap);
        if (!a->memory_reservation.empty()) mem().reservation = parse_bytes("--memory-reservation", a->memory_reservation);
        if (!a->kernel_memory.empty()) mem().kernel = parse_bytes("--kernel-memory", a->kernel_memory);
        if (!a->kernel_memory_tcp.empty()) mem().kernel_tcp = parse_bytes("--kernel-memory-tcp", a->kernel_memory_tcp);
        if (a->cpu_share) cpu().shares = a->cpu_share;
        if (a->cpu_period) cpu().period = a->cpu_period;
        if (a->cpu_quota) cpu().quota = a->cpu_quota;
        if (a->cpu_rt_period) cpu().realtime_period = a->cpu_rt_period;
        if (a->cpu_rt_runtime) cpu().realtime_runtime = a->cpu_rt_runtime;
        if (!a->cpuset_cpus.empty()) cpu().cpus = a->cpuset_cpus;
        if (!a->cpuset_mems.empty()) cpu().mems = a->cpuset_mems;
        if (a->pids_limit) r.pids = oci::Pids{*a->pids_limit};
        if (a->blkio_weight) {
            if (!r.block_io) r.block_io.emplace();
            r.block_io->weight = a->blkio_weight;
        }
        g.open().update(a->id, r);
    });
}

}  // namespace kiln::runtime
