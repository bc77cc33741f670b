// kiln-runtime delete: removes a stopped container (or any, with --force) and all it held.
#include "core/runtime/cli.hpp"
#include "core/sys/error.hpp"

namespace kiln::runtime {

void add_delete(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("delete", "delete a stopped container");
    struct Args {
        std::string id;
        bool force = false;
    };
    auto a = std::make_shared<Args>();
    cmd->add_flag("-f,--force", a->force, "kill the container first if it is not stopped");
    cmd->add_option("id", a->id, "container id")->required();
    cmd->positionals_at_end();
    cmd->callback([&g, a] {
        container::Runtime rt = g.open();
        try {
            rt.remove(a->id, a->force);
        } catch (const Error& e) {
            // runc: deleting what is already gone, with --force, is not an error.
            if (!(a->force && e.code() == Errc::not_found)) throw;
        }
    });
}

}  // namespace kiln::runtime
