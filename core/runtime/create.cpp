// kiln-runtime create: a container whose init waits for `start`.
#include "core/runtime/cli.hpp"

namespace kiln::runtime {

void add_create(CLI::App& app, Globals& g) {
    auto* cmd = app.add_subcommand("create", "create a container from a bundle");
    auto o = std::make_shared<container::CreateOptions>();
    cmd->add_option("-b,--bundle", o->bundle, "the bundle directory (default: current directory)");
    cmd->add_option("--pid-file", o->pid_file, "write the container's init pid here");
    cmd->add_option("--console-socket", o->console_socket, "unix socket that receives the pty master");
    cmd->add_option("--preserve-fds", o->preserve_fds, "pass this many fds after stdio to the container")->check(CLI::Range(0, container::kMaxPreserveFds));
    cmd->add_flag("--no-pivot", o->no_pivot, "use MS_MOVE and chroot instead of pivot_root");
    cmd->add_flag("--no-new-keyring", o->no_new_keyring, "keep the caller's session keyring");
    cmd->add_option("id", o->id, "container id")->required();
    cmd->positionals_at_end();
    cmd->callback([&g, o] { g.open().create(*o); });
}

}  // namespace kiln::runtime
