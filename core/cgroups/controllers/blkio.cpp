// blkio (v1) and io (v2): weights and throttling per block device.
#include <map>
#include <string>

#include "core/cgroups/controller.hpp"

namespace kiln::cgroups::blkio {
namespace {

const std::string kField = "linux.resources.blockIO";

// 0 is "not set" (Go callers send it), as in runc.
bool set(const std::optional<uint16_t>& v) { return v && *v != 0; }

std::string dev(int64_t major, int64_t minor) { return std::to_string(major) + ":" + std::to_string(minor); }

// The v1 weight files are blkio.weight with CFQ and blkio.bfq.weight with BFQ; kernels since
// 5.0 only have BFQ's.
std::string v1_weight_file(const Target& t, const char* base) {
    std::string plain = std::string("blkio.") + base;
    if (t.exists(plain)) return plain;
    return std::string("blkio.bfq.") + base;
}

void apply_v1(const Target& t, const oci::BlockIo& b) {
    if (set(b.weight)) t.write(v1_weight_file(t, "weight"), std::to_string(*b.weight), kField + ".weight");
    if (set(b.leaf_weight)) t.write("blkio.leaf_weight", std::to_string(*b.leaf_weight), kField + ".leafWeight");
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& d = b.weight_device[i];
        std::string field = kField + ".weightDevice[" + std::to_string(i) + "]";
        if (set(d.weight))
            t.write(v1_weight_file(t, "weight_device"), dev(d.major, d.minor) + " " + std::to_string(*d.weight), field);
        if (set(d.leaf_weight))
            t.write("blkio.leaf_weight_device", dev(d.major, d.minor) + " " + std::to_string(*d.leaf_weight), field);
    }
    auto throttle = [&](const std::vector<oci::ThrottleDevice>& list, const char* file, const char* name) {
        for (size_t i = 0; i < list.size(); ++i)
            t.write(file, dev(list[i].major, list[i].minor) + " " + std::to_string(list[i].rate),
                    kField + "." + name + "[" + std::to_string(i) + "]");
    };
    throttle(b.throttle_read_bps_device, "blkio.throttle.read_bps_device", "throttleReadBpsDevice");
    throttle(b.throttle_write_bps_device, "blkio.throttle.write_bps_device", "throttleWriteBpsDevice");
    throttle(b.throttle_read_iops_device, "blkio.throttle.read_iops_device", "throttleReadIOPSDevice");
    throttle(b.throttle_write_iops_device, "blkio.throttle.write_iops_device", "throttleWriteIOPSDevice");
}

// io.weight takes 1..10000; blkio weights are 10..1000. io.bfq.weight takes the blkio range.
uint64_t blkio_to_io_weight(uint64_t w) { return w == 0 ? 0 : 1 + (w - 10) * 9999 / 990; }

void apply_v2(const Target& t, const oci::BlockIo& b) {
    bool bfq = t.exists("io.bfq.weight");
    if (set(b.weight)) {
        if (bfq) t.write("io.bfq.weight", std::to_string(*b.weight), kField + ".weight");
        else t.write("io.weight", "default " + std::to_string(blkio_to_io_weight(*b.weight)), kField + ".weight");
    }
    if (set(b.leaf_weight)) unsupported(kField + ".leafWeight", "cgroup v2 has no leaf weight");
    for (size_t i = 0; i < b.weight_device.size(); ++i) {
        const auto& d = b.weight_device[i];
        std::string field = kField + ".weightDevice[" + std::to_string(i) + "]";
        if (!set(d.weight)) continue;
        if (bfq) t.write("io.bfq.weight", dev(d.major, d.minor) + " " + std::to_string(*d.weight), field);
        else t.write("io.weight", dev(d.major, d.minor) + " " + std::to_string(blkio_to_io_weight(*d.weight)), field);
    }
    // io.max takes one line per device with any of rbps wbps riops wiops.
    std::map<std::string, std::string> lines;
    auto add = [&](const std::vector<oci::ThrottleDevice>& list, const char* key) {
        for (const auto& d : list) lines[dev(d.major, d.minor)] += std::string(" ") + key + "=" + std::to_string(d.rate);
    };
    add(b.throttle_read_bps_device, "rbps");
    add(b.throttle_write_bps_device, "wbps");
    add(b.throttle_read_iops_device, "riops");
    add(b.throttle_write_iops_device, "wiops");
    for (const auto& [device, limits] : lines) t.write("io.max", device + limits, kField + ".throttle");
}

}  // namespace

bool requested(const oci::Resources& r) {
    if (!r.block_io) return false;
    const auto& b = *r.block_io;
    return set(b.weight) || set(b.leaf_weight) || !b.weight_device.empty() || !b.throttle_read_bps_device.empty() ||
           !b.throttle_write_bps_device.empty() || !b.throttle_read_iops_device.empty() ||
           !b.throttle_write_iops_device.empty();
}

void apply(const Target& t, const oci::Resources& r) {
    if (t.version == Version::v1) apply_v1(t, *r.block_io);
    else apply_v2(t, *r.block_io);
}

}  // namespace kiln::cgroups::blkio
