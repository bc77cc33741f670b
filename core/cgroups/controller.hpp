// What every controller file shares: where a controller's files are for one container, and how
// a limit is written so that an error names the spec field, the file and the kernel's answer.
#pragma once

#include <optional>
#include <string>

#include "core/cgroups/layout.hpp"
#include "core/oci/spec.hpp"
#include "core/sys/fd.hpp"

namespace kiln::cgroups {

// A controller's directory for one container.
struct Target {
    Version version = Version::v1;
    std::string dir;

    std::string file(const std::string& name) const { return dir + "/" + name; }
    bool exists(const std::string& name) const;
    std::string read(const std::string& name) const;
    // Writes `value` into `name`; on failure throws Error(invalid_argument) reading
    // "<field>: write \"<value>\" to <path>: <strerror>".
    void write(const std::string& name, const std::string& value, const std::string& field) const;
};

// A file that takes one value per write (devices.allow, io.max), opened once for several: each
// write fails as Target::write does.
class LineWriter {
public:
    LineWriter(const Target& t, std::string name) : target_(t), name_(std::move(name)) {}
    void write(const std::string& value, const std::string& field);

private:
    const Target& target_;
    std::string name_;
    Fd fd_;
};

// A resource the host cannot provide, requested by the spec: the one kind of absence that is an
// error ("a controller the host lacks is an error only when the spec asks for it").
[[noreturn]] void unsupported(const std::string& field, const std::string& why);

// One entry per controller file under controllers/.
namespace memory {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace memory
namespace cpu {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace cpu
namespace cpuset {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
// A new v1 cpuset cgroup starts with empty cpus and mems and accepts no task until they are
// copied from its parent.
void init_v1(const std::string& parent_dir, const std::string& dir);
}  // namespace cpuset
namespace pids {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace pids
namespace blkio {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace blkio
namespace hugetlb {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace hugetlb
namespace devices {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace devices
namespace net_cls {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace net_cls
namespace net_prio {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace net_prio
namespace rdma {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace rdma
namespace unified {
bool requested(const oci::Resources& r);
void apply(const Target& t, const oci::Resources& r);
}  // namespace unified

}  // namespace kiln::cgroups
